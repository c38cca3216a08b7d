/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * report.c - everything the plugin tells the orchestrator: one JSON object
 * a line on the control socket, "t" its kind (LS_MSG_* from protocol.h).
 * The hello, the register list, counts (progress, limit, end, peer lost,
 * narrowed), narrowing's steps, errors, and the dump of the blocks and
 * events around a disagreement. Written by the vCPU thread (or atexit once
 * it stopped), and errors by the reader thread too: each message holds the
 * stream's lock from its first byte to its newline, so lines never mix. A
 * forked child (process.c) gets a stream of its own, on a connection of
 * its own.
 */
#include "lockstep.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peak_rss.h"
#include "stream.h"

/* The control stream's buffer: a dump is many short lines. */
#define CTL_BUFFER_SIZE (1 << 16)

/* The control stream, buffered: flushed after every message but blocks and
 * events, which end with "dumped". */
static FILE *ctl;
/* Its descriptor (the stream's cookie), and QEMU's target, for a child's hello. */
static int ctl_fd;
static char *target_name;

/*
 * The stream's writes: with MSG_NOSIGNAL, because a SIGPIPE would reach
 * the guest in linux-user (QEMU forwards host signals to it). A failed
 * write means the orchestrator is gone: never run on alone.
 */
static ssize_t ctl_write(void *cookie, const char *buf, size_t size)
{
    int fd = *(int *)cookie;
    size_t done = 0;

    while (done < size) {
        ssize_t r = send(fd, buf + done, size - done, MSG_NOSIGNAL);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            _exit(EXIT_ORCHESTRATOR_LOST);
        }
        done += r;
    }
    return size;
}

/* A stream nobody reads (a child whose harness is gone). */
static ssize_t discard(void *cookie, const char *buf, size_t size)
{
    return size;
}

void report_open(int fd)
{
    ctl_fd = fd;
    ctl = fopencookie(&ctl_fd, "w", (cookie_io_functions_t){
                                        .write = ctl_write });
    setvbuf(ctl, NULL, _IOFBF, CTL_BUFFER_SIZE);
}

static const char *json_bool(bool b)
{
    return b ? "true" : "false";
}

/* Writes str as a JSON string (NULL as ""). */
static void json_str(FILE *f, const char *str)
{
    fputc('"', f);
    for (; str && *str; str++) {
        unsigned char c = *str;
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
        } else {
            fputc(c, f);
        }
    }
    fputc('"', f);
}

static void json_hex(FILE *f, const uint8_t *bytes, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        fprintf(f, "%02x", bytes[k]);
    }
}

/*
 * Every message starts so, taking the stream; the caller writes its fields
 * and ends it with end_line() or end_flush().
 */
static void begin(const char *type)
{
    flockfile(ctl);
    fprintf(ctl, "{\"t\":\"%s\"", type);
}

/* The end of a message: its last characters, "}\n" or more. */
static void end_line(const char *last)
{
    fputs(last, ctl);
    funlockfile(ctl);
}

static void end_flush(void)
{
    fputs("}\n", ctl);
    fflush(ctl);
    funlockfile(ctl);
}

static void hello_fields(void)
{
    fprintf(ctl, ",\"role\":\"%c\",\"target\":", options.role);
    json_str(ctl, target_name);
    fprintf(ctl, ",\"api\":%d,\"pid\":%d,\"memValues\":%s,\"proc\":",
            QEMU_PLUGIN_VERSION, (int)process.pid,
            json_bool(options.mem && options.memvalues &&
                      COMPAT_HAS_MEM_VALUES));
    json_str(ctl, process.path);
    fprintf(ctl, ",\"paired\":%s,\"at\":%" PRIu64, json_bool(process.paired),
            process.forked_at);
}

void report_hello(const qemu_info_t *info)
{
    target_name = g_strdup(info->target_name);
    begin(LS_MSG_HELLO);
    hello_fields();
    end_flush();
}

/*
 * The guest executes a program (path and argv NULL: they could not be
 * read); a host-arch one runs natively, and this plugin is gone.
 */
void report_exec(const char *path, const char *const *argv)
{
    begin(LS_MSG_EXEC);
    fputs(",\"path\":", ctl);
    if (path) {
        json_str(ctl, path);
    } else {
        fputs("null", ctl);
    }
    fputs(",\"argv\":", ctl);
    if (argv) {
        fputc('[', ctl);
        for (size_t i = 0; argv[i]; i++) {
            fputs(i ? "," : "", ctl);
            json_str(ctl, argv[i]);
        }
        fputc(']', ctl);
    } else {
        fputs("null", ctl);
    }
    end_flush();
}

/* threads=on: thread n (creation order) started, with its tid. */
void report_thread(unsigned n, int64_t tid)
{
    begin(LS_MSG_THREAD);
    fprintf(ctl, ",\"n\":%u,\"tid\":%" PRId64, n, tid);
    end_flush();
}

/* threads=on: the threads run free from here on, and why (plain text). */
void report_unfollowed(const char *why)
{
    begin(LS_MSG_UNFOLLOWED);
    fputs(",\"why\":", ctl);
    json_str(ctl, why);
    end_flush();
}

/*
 * threads=on: a decision this side made, thread `next` runs from `pos`.
 * Not flushed: the next message that is (an end, "apart", a dump) takes
 * it along, and one a run cut short never sends is not replayed.
 */
void report_sched(uint64_t pos, unsigned next)
{
    begin(LS_MSG_SCHED);
    fprintf(ctl, ",\"pos\":%" PRIu64 ",\"n\":%u", pos, next);
    end_line("}\n");
}

void report_handler(int64_t sig, bool known, uint64_t pc)
{
    begin(LS_MSG_HANDLER);
    fprintf(ctl, ",\"sig\":%" PRId64 ",\"pc\":", sig);
    if (known) {
        fprintf(ctl, "\"0x%" PRIx64 "\"", pc);
    } else {
        fputs("null", ctl);
    }
    end_flush();
}

/*
 * Around a fork: hold the stream (no message half written in it, whatever
 * the reader thread does), and let it go in the parent...
 */
void report_hold(void)
{
    flockfile(ctl);
}

void report_release(void)
{
    funlockfile(ctl);
}

/*
 * ...while the child drops it (empty: every message but a dump's lines is
 * flushed, and a dump is the vCPU thread's, which forked) for a stream on
 * its own connection fd, and says hello there. Without one (fd < 0: the
 * harness is gone) it says nothing, to nobody.
 */
void report_reopen(int fd)
{
    funlockfile(ctl);
    fclose(ctl);
    if (fd < 0) {
        ctl = fopencookie(NULL, "w", (cookie_io_functions_t){
                                         .write = discard });
        return;
    }
    report_open(fd);
    begin(LS_MSG_HELLO);
    hello_fields();
    end_flush();
}

/* The vCPU's registers (a GArray of CompatRegister) and their sizes. */
void report_registers(const GArray *all, const int *sizes)
{
    begin(LS_MSG_REGS);
    fputs(",\"regs\":[", ctl);
    for (guint i = 0; i < all->len; i++) {
        const CompatRegister *d = &g_array_index(all, CompatRegister, i);

        fputs(i ? ",[" : "[", ctl);
        json_str(ctl, d->name);
        fputc(',', ctl);
        json_str(ctl, d->feature);
        fprintf(ctl, ",%d]", sizes[i]);
    }
    fputc(']', ctl);
    end_flush();
}

static void counts(const char *type)
{
    begin(type);
    fprintf(ctl, ",\"insns\":%" PRIu64 ",\"blocks\":%" PRIu64 ",\"rss\":%ld",
            stream.icount, stream.blocks, peak_rss_kb());
}

/* progress, peer-lost, narrowed: how far this side got. */
void report_counts(const char *type)
{
    counts(type);
    end_flush();
}

/* This side reached its limit, physical position at, with hash there. */
void report_limit(uint64_t at, uint64_t hash)
{
    counts(LS_MSG_LIMIT);
    fprintf(ctl, ",\"at\":%" PRIu64 ",\"atHash\":\"0x%016" PRIx64 "\"", at,
            hash);
    end_flush();
}

/* The guest ended; tail: the instructions claimed but maybe not run. */
void report_end(uint64_t tail)
{
    counts(LS_MSG_END);
    fprintf(ctl, ",\"hash\":\"0x%016" PRIx64 "\",\"tail\":%" PRIu64,
            combine(stream.hash, events.hash), tail);
    end_flush();
}

/*
 * The fast pass: the streams are apart between logical positions good (the
 * last agreeing checkpoint) and bad; the detail pass will say where.
 */
void report_apart(uint64_t good, uint64_t bad)
{
    counts(LS_MSG_APART);
    fprintf(ctl, ",\"good\":%" PRIu64 ",\"bad\":%" PRIu64, good, bad);
    end_flush();
}

/*
 * `"cpu":K,` for a block or step on vCPU K, when blocks say which vCPU
 * ran them (vcpus.c); nothing when unknown.
 */
static void json_vcpu(uint32_t vcpu)
{
    if (vcpus_named() && vcpu < vcpus.n) {
        fprintf(ctl, "\"cpu\":%u,", vcpu);
    }
}

/*
 * narrow=: one instruction, before it runs, and the registers regs.c
 * found changed since the last step, by index in the agreed list.
 */
void report_step(uint64_t pos, const Insn *insn, const char *disas)
{
    bool any = false;

    begin(LS_MSG_STEP);
    fprintf(ctl, ",\"p\":%" PRIu64 ",\"pc\":\"0x%" PRIx64 "\",",
            pos, insn->vaddr);
    json_vcpu(stream.vcpu);
    fputs("\"b\":\"", ctl);
    json_hex(ctl, insn->bytes, MIN(insn->size, sizeof(insn->bytes)));
    fputs("\",\"d\":", ctl);
    json_str(ctl, disas);
    fputs(",\"r\":{", ctl);
    for (guint i = 0; i < registers.n; i++) {
        if (!registers.changed[i]) {
            continue;
        }
        fprintf(ctl, "%s\"%u\":\"", any ? "," : "", i);
        json_hex(ctl, registers.prev[i]->data, registers.prev[i]->len);
        fputc('"', ctl);
        any = true;
    }
    end_line("}}\n");
}

/*
 * locate=: the first instruction at locatepc= from position N on is at
 * `at`, and `hits` ran before it.
 */
void report_located(uint64_t at, uint64_t hits)
{
    counts(LS_MSG_LOCATED);
    fprintf(ctl, ",\"at\":%" PRIu64 ",\"hits\":%" PRIu64, at, hits);
    end_flush();
}

/*
 * "where" (the reader thread, while gdb holds the vCPU): the position of
 * the instruction that runs next, whether the block before it ran whole,
 * and how many instructions at locatepc= ran.
 */
void report_where(void)
{
    bool whole;
    uint64_t next = locate_next_pos(&whole);

    begin(LS_MSG_AT);
    fprintf(ctl, ",\"next\":%" PRIu64 ",\"whole\":%s,\"hits\":%" PRIu64,
            next, json_bool(whole), locating.hits);
    end_flush();
}

/* Something the orchestrator must show the user; msg is plain text. */
void report_error(const char *msg)
{
    begin(LS_MSG_ERROR);
    fputs(",\"msg\":", ctl);
    json_str(ctl, msg);
    end_flush();
}

/* One ring entry's block as the dump sends it: start, sizes and bytes. */
static void dump_block(uint64_t start, uint64_t v)
{
    const TbInfo *tb = ring_tb(v);
    uint32_t first = RING_FIRST(v), end = RING_END(v);

    begin(LS_MSG_BLOCK);
    fprintf(ctl, ",\"i\":%" PRIu64 ",\"pc\":\"0x%" PRIx64 "\",",
            start, tb->insns[first].vaddr);
    json_vcpu(RING_VCPU(v));
    fputs("\"sz\":\"", ctl);
    for (uint32_t i = first; i < end; i++) {
        fputc("0123456789abcdef"[tb->insns[i].size & 15], ctl);
    }
    fputs("\",\"b\":\"", ctl);
    for (uint32_t i = first; i < end; i++) {
        json_hex(ctl, tb->insns[i].bytes, tb->insns[i].size);
    }
    end_line("\"}\n");
}

/* Send the events of instructions [from, to) that the ring still has. */
static void dump_events(uint64_t from, uint64_t to)
{
    uint64_t kept = events_first_kept();
    uint64_t j = events.count;

    while (j > kept && event_at(j - 1)->pos >= from) {
        j--;
    }
    for (; j < events.count; j++) {
        const Event *e = event_at(j);
        if (e->pos >= to) {
            break;
        }
        if (e->kind == LS_EV_NONE) {
            continue;   /* dropped by events_rebase() */
        }
        begin(LS_MSG_EVENT);
        fprintf(ctl, ",\"p\":%" PRIu64 ",\"k\":%u,\"a\":\"0x%" PRIx64
                "\",\"s\":%u,\"v\":\"0x%" PRIx64 "\"", e->pos, e->kind,
                e->a, e->size, e->v);
        end_line("}\n");
    }
}

/*
 * Send the blocks around (good, bad] to the orchestrator (positions in
 * this side's own count): `history` blocks before the one holding `good`,
 * every block up to `bad` and the `reconverge` instructions run after it,
 * then DUMP_EXTRA more, and their events. "complete" says whether the rings
 * still reached back to `good`.
 */
void report_dump(uint64_t good, uint64_t bad)
{
    uint64_t start;                     /* position of entry... */
    uint64_t j = ring_seek(good, &start);
    uint64_t r = 0;                     /* ...and repetition within it */
    uint64_t first_kept = ring_first_kept();
    uint64_t extra = 0;
    uint64_t from;
    bool complete = start <= good && events_kept_since(good);

    if (j < stream.entries) {
        /* From the repetition holding `good`, `history` blocks back. */
        uint64_t v = ring_at(j);
        r = MIN((good - MIN(start, good)) / RING_COUNT(v), RING_REP(v) - 1);
        start += r * RING_COUNT(v);
        for (uint64_t h = 0; h < options.history; h++) {
            if (r == 0) {
                if (j == first_kept) {
                    break;
                }
                v = ring_at(--j);
                r = RING_REP(v);
            }
            r--;
            start -= RING_COUNT(v);
        }
    }
    begin(LS_MSG_DIVERGED);
    fprintf(ctl, ",\"good\":%" PRIu64 ",\"bad\":%" PRIu64 ",\"insns\":%"
            PRIu64 ",\"origin\":%" PRIu64 ",\"complete\":%s", good, bad,
            stream.icount, comparison.origin, json_bool(complete));
    if (vcpus_named() && start <= stream.icount) {
        /* Each vCPU's own count where the dump starts. */
        uint64_t counts[VCPUS_SLOTS];

        vcpus_counts_at(start, counts);
        fputs(",\"vcpuInsns\":[", ctl);
        for (unsigned k = 0; k < vcpus.n; k++) {
            fprintf(ctl, "%s%" PRIu64, k ? "," : "", counts[k]);
        }
        fputc(']', ctl);
    }
    end_line("}\n");
    from = start;
    for (; j < stream.entries && extra < DUMP_EXTRA; j++, r = 0) {
        uint64_t v = ring_at(j);
        for (; r < RING_REP(v) && extra < DUMP_EXTRA; r++) {
            dump_block(start, v);
            if (start > bad + options.reconverge) {
                extra++;
            }
            start += RING_COUNT(v);
        }
    }
    dump_events(from, start);
    begin(LS_MSG_DUMPED);
    end_flush();
}

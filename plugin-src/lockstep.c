/*
 * lockstep.c - compare the executed instruction stream of two QEMUs.
 *
 * Two QEMUs (sides "a" and "b") load this plugin. Each folds the address
 * of every executed instruction into a running polynomial hash, which is
 * split-insensitive: a block cut in two on one side gives the same hash as
 * the whole block on the other.
 *
 * A TB exec callback runs before the block, so it only claims the block. A
 * block is retired when the next one starts: in full if the inline counter
 * on its last instruction was bumped; if not, it was cut short, and when the next block
 * starts inside it (an instruction restarted after a code-page write, or an
 * icount I/O re-execution) only the instructions before that point count. At every `interval` instructions (an exact
 * instruction count, computed inside the block that crosses it) a side sends
 * its hash to the peer over a Unix socket; a side more than `window`
 * instructions ahead of the peer waits. The exec callback only updates the
 * hash and a fixed ring of recent blocks: no lock, no allocation, no syscall.
 *
 * When checkpoints disagree, or one stream ends while the other goes on,
 * both sides dump the blocks from the last agreeing checkpoint to the first
 * disagreeing one to the orchestrator (the "ctl" socket, JSON lines), which
 * finds the first differing instruction. The plugin never decides a verdict.
 *
 * With mem=on and sys=on, every memory access (address, size, direction,
 * and the value from API 4 on) and every system call (number, arguments,
 * an error return) is an "event" of the instruction that made it. Events
 * fold into a second running hash, in execution order, so they are
 * split-insensitive too; each checkpoint combines both hashes.
 *
 * With regs=on (API 2 on), the registers the orchestrator picked are read
 * at the start of a block that control flow reached by a jump (not by
 * falling through): every QEMU ends a block at a taken jump, so these points
 * are the same however the code is split. Reading costs ~15 ns a register,
 * so by default only the first such block at or after every multiple of
 * regsevery instructions is read (also a split-insensitive choice). A hash of
 * the values is an event of the block's first instruction.
 *
 * narrow=FROM:TO runs one side alone (no peer) and reports the picked
 * registers before every instruction from FROM to TO, then parks: the
 * orchestrator re-runs both sides so to name the first instruction after
 * which their state differs.
 *
 * Arguments: role=a|b peer=PATH ctl=PATH [listen=on|off] [maxinsns=N]
 *            [interval=N] [window=N] [history=N] [reconverge=N] [mem=on]
 *            [sys=on] [regs=on]
 *            [regsevery=N] [narrow=FROM:TO]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#ifdef LOCKSTEP_REAL_HEADER
#include <qemu-plugin.h>
#else
#include "plugin_api.h"
#endif

#include "peak_rss.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

/* Checkpoints not yet compared; bounded by window / interval */
#define CKPT_RING 4096
/* Blocks dumped after the first disagreeing checkpoint, for context */
#define DUMP_EXTRA 4
#define HASH_MUL 0x9e3779b97f4a7c15ull

/* One translated instruction, as the dump reports it. */
typedef struct {
    uint64_t vaddr;
    uint8_t size;
    uint8_t bytes[15];
} Insn;

/* One translated block; shared by identical re-translations. */
typedef struct {
    uint64_t pc;
    uint64_t hash;      /* fold of its instruction addresses */
    uint64_t pow;       /* HASH_MUL ** n, to append it to a running hash */
    uint64_t last;      /* address of its last instruction */
    uint64_t end;       /* the address after it */
    uint64_t key;       /* its ring entry when it runs whole */
    uint32_t n;
    uint32_t id;        /* index in tb_by_id, for the ring */
    struct NarrowInsn *steps;   /* narrow=: one per instruction, made once */
    Insn insns[];
} TbInfo;

/* Messages between the two plugins: fixed size, host byte order. */
enum { MSG_CKPT = 1, MSG_END, MSG_LIMIT, MSG_STOP };
typedef struct {
    uint32_t type;
    uint32_t epoch;     /* comparisons restarted so far (see rebase()) */
    uint64_t a;         /* CKPT: count; END/LIMIT: position; STOP: good */
    uint64_t b;         /* CKPT/END/LIMIT: hash; STOP: bad */
} PeerMsg;

/* Options, fixed after install. */
static struct {
    char role;
    bool listen;
    const char *peer_path;
    const char *ctl_path;
    uint64_t maxinsns;
    uint64_t interval;
    uint64_t window;
    uint64_t history;
    uint64_t reconverge;    /* instructions run on after a disagreement */
    bool mem;
    bool memvalues;     /* fold values too: both sides have API >= 4 */
    bool sys;
    bool regs;
    uint64_t regs_every;    /* instructions between register snapshots */
    bool narrow;        /* run alone and report every step of [from, to] */
    uint64_t narrow_from;
    uint64_t narrow_to;
} cfg = {
    /* Measured with `deno task bench`: fewer, larger steps cost less than
     * the dump they make larger (see README "Performance"). */
    .interval = 1u << 17,
    .window = 1u << 20,
    .history = 8,
    .regs_every = 1,
};

/* This side's execution: touched by the vCPU thread only (and by atexit
 * once the vCPU has stopped). */
static struct {
    /* The hot path's fields, together in one cache line. */
    uint64_t icount;
    uint64_t hash;
    uint64_t blocks;
    uint64_t next_mark;     /* min(next checkpoint, limit, peer's end + 1) */
    const TbInfo *pending;  /* started, not yet retired */
    uint64_t last_pc;       /* address of the last retired instruction */
    uint64_t expect;        /* *last_insns once pending's last one started */
    uint64_t *last_insns;   /* bumped inline when a last instruction starts */
    uint64_t entries;       /* ring entries written */
    uint64_t *ring;         /* retired blocks, see RING_ID() */
    uint64_t ring_mask;     /* ring size - 1; the size covers the window */
    /* Checkpoints, touched every `interval` instructions. */
    uint64_t next_ckpt __attribute__((aligned(64)));
    uint64_t ckpt_count;
    uint64_t compared;      /* checkpoints compared with the peer's */
    uint64_t last_good;     /* position where both hashes last agreed */
    /* Positions are counted from 0 ("physical"); the comparison counts from
     * origin ("logical"), which moves past each transient excursion. */
    uint64_t origin;
    uint32_t epoch;
    bool stopping;          /* streams apart: running on to stop_at */
    bool exiting;           /* in plugin_exit() */
    uint64_t stop_good, stop_bad, stop_at;
    uint64_t limit_hash;    /* see rebase() */
    bool dumped;
    struct timespec last_progress;
    uint64_t ckpt_hash[CKPT_RING];
} own __attribute__((aligned(64)));

/* What the reader thread learnt of the peer; guarded by lock. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t ckpt_count;
    uint64_t ckpt_hash[CKPT_RING];
    bool ended;             /* END or LIMIT received */
    uint64_t end_pos;
    uint64_t end_hash;
    uint32_t epoch;         /* of the last message; older ones are dropped */
    bool stopped;           /* STOP received */
    uint64_t stop_good;
    uint64_t stop_bad;
    bool lost;
} peer = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
};

#if QEMU_PLUGIN_VERSION >= 2
/* narrow=: the steps reported so far, and whether this block needs them. */
static struct {
    uint64_t next;          /* the next position to report */
    uint64_t *on;           /* 1 while the running block overlaps the range */
    struct qemu_plugin_scoreboard *score;
} narrow;

/* An instruction instrumented for narrow=. */
typedef struct NarrowInsn {
    const TbInfo *tb;
    uint32_t i;
    char *disas;
} NarrowInsn;
#endif

/* The orchestrator's "resync" command; guarded by peer.lock. */
static struct {
    bool resync;
    uint32_t epoch;
    uint64_t origin;
    uint64_t limit;
    uint64_t regs_next;
} cmd;

/* The logical position from which the next register snapshot may be taken. */
static uint64_t regs_next;

#if QEMU_PLUGIN_VERSION >= 2
static struct qemu_plugin_scoreboard *last_insns_score;
#else
static uint64_t last_insns_counter;
#endif
static int peer_fd = -1;
static int ctl_fd = -1;
static FILE *ctl;           /* written by one thread at a time (vCPU/atexit) */
static GHashTable *tbs;     /* TbInfo -> TbInfo, for sharing */
static pthread_mutex_t tbs_lock = PTHREAD_MUTEX_INITIALIZER;

static inline uint64_t mix(uint64_t v)
{
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdull;
    v ^= v >> 33;
    v *= 0xc4ceb9fe1a85ec53ull;
    v ^= v >> 33;
    return v;
}

/* The running hash after k instructions of tb, from instruction first. */
static uint64_t __attribute__((noinline))
prefix_hash(uint64_t h, const TbInfo *tb, uint32_t first,
                            uint64_t k)
{
    for (uint64_t i = first; i < first + k; i++) {
        h = h * HASH_MUL + mix(tb->insns[i].vaddr);
    }
    return h;
}

/*
 * A ring entry, one 64-bit word: the block's TbInfo id (bits 0-31), which
 * of its instructions retired, [first, end) (end in bits 32-41, first in
 * bit 42), and how many times in a row it ran so (bits 43-63). A block that
 * runs again right after itself (a tight loop) only bumps the count of the
 * entry already in cache, instead of writing a new one.
 */
#define RING_ID(v) ((uint32_t)(v))
#define RING_END(v) ((uint32_t)((v) >> 32) & 0x3ff)
#define RING_FIRST(v) ((uint32_t)((v) >> 42) & 1)
#define RING_COUNT(v) (RING_END(v) - RING_FIRST(v))
#define RING_REP(v) ((v) >> 43)
#define RING_REP_ONE (1ull << 43)
#define RING_REP_MAX ((1ull << 21) - 1)
#define RING_KEY(v) ((v) & (RING_REP_ONE - 1))

/* Every distinct TbInfo by id; grows at translation time only. */
static GPtrArray *tb_by_id;

/* An event: a memory access or system call of the instruction at `pos`. */
enum { EV_NONE, EV_LOAD, EV_STORE, EV_SYSCALL, EV_SYSERR, EV_REGS };
typedef struct {
    uint64_t pos;       /* stream index of the instruction */
    uint64_t a;         /* address, or syscall number */
    uint64_t v;         /* value (API >= 4), fold of arguments, or errno */
    uint64_t after;     /* the event hash after this event */
    uint32_t kind;
    uint32_t size;      /* bytes accessed */
} Event;

/* Events of this side, in order: written by the vCPU thread only. */
static struct {
    Event *ring;        /* the last mask + 1 events, for the dump */
    uint64_t mask;
    uint64_t count;
    uint64_t hash;      /* fold of every event so far */
    uint64_t last_pos;  /* position of the last event... */
    uint32_t at_pos;    /* ...and how many events it has */
} ev;

/*
 * Events one instruction may have; further ones fold into its last. An x86
 * rep string instruction counts once (see retire()) but makes an access per
 * iteration: without a bound, one `rep stosb` could flush the ring.
 */
#define EV_PER_INSN 64

/*
 * The stream index of the pending block's first instruction: where the
 * retired stream ends, less one when that instruction repeats the last
 * retired one (see retire()). Valid while the pending block runs.
 */
static inline uint64_t pending_base(void)
{
    return own.icount - (own.pending->pc == own.last_pc);
}

#define EV_MUL 0xc2b2ae3d27d4eb4full

/* The hash a checkpoint, end or limit carries: instructions and events. */
static inline uint64_t combine(uint64_t pc_hash, uint64_t ev_hash)
{
    return pc_hash ^ ev_hash * EV_MUL;
}

/* The event hash over the events of instructions before position c. */
static uint64_t events_before(uint64_t c)
{
    uint64_t kept = ev.count > ev.mask + 1 ? ev.count - ev.mask - 1 : 0;

    for (uint64_t j = ev.count; j > kept; j--) {
        const Event *e = &ev.ring[(j - 1) & ev.mask];
        if (e->pos < c) {
            return e->after;
        }
    }
    return 0;   /* no event yet (the ring is far larger than a block) */
}

/* What an event's kind, address and size add to the event hash... */
static inline uint64_t event_key(uint32_t kind, uint64_t a, uint32_t size)
{
    return mix(a ^ (uint64_t)kind << 56 ^ (uint64_t)size << 48);
}

/* ...and the whole event, its value too. */
static inline uint64_t event_term(const Event *e)
{
    return event_key(e->kind, e->a, e->size) + mix(e->v);
}

static void add_event(uint64_t pos, uint32_t kind, uint64_t a, uint32_t size,
                      uint64_t v)
{
    Event *e;

    if (pos == ev.last_pos && ev.count && ev.at_pos >= EV_PER_INSN) {
        /* Fold it into the instruction's last event, and that afresh into
         * the hash (from the event before it). */
        uint64_t before = ev.count >= 2 ? ev.ring[(ev.count - 2) & ev.mask].after
                                        : 0;
        e = &ev.ring[(ev.count - 1) & ev.mask];
        e->v = mix(e->v) ^ event_key(kind, a, size) ^ mix(v + 1);
        ev.hash = before * HASH_MUL + event_term(e);
        e->after = ev.hash;
        return;
    }
    ev.at_pos = pos == ev.last_pos && ev.count ? ev.at_pos + 1 : 1;
    ev.last_pos = pos;
    e = &ev.ring[ev.count++ & ev.mask];

    e->pos = pos;
    e->kind = kind;
    e->a = a;
    e->size = size;
    e->v = v;
    ev.hash = ev.hash * HASH_MUL + event_term(e);
    e->after = ev.hash;
}

/*
 * The stream position of insn, an instruction of the running block. With
 * icount, QEMU re-executes an I/O instruction found inside a block as a block
 * of its own that has memory callbacks only (no exec callback): the block
 * it came from is still the pending one, and holds the instruction.
 */
static uint64_t insn_pos(const Insn *insn)
{
    const TbInfo *p = own.pending;
    uintptr_t off = (uintptr_t)insn - (uintptr_t)p->insns;
    uint64_t i = off / sizeof(Insn);

    if (off % sizeof(Insn) || i >= p->n) {
        for (i = 0; i + 1 < p->n && p->insns[i].vaddr != insn->vaddr; i++) {
        }
    }
    return pending_base() + i;
}

/*
 * A load or store of the instruction `udata` points to. A 16-byte
 * access is two 8-byte events: QEMU versions differ in whether a register
 * pair moves as one access or two, which is not the guest's doing.
 */
static void vcpu_mem(unsigned int vcpu_index, qemu_plugin_meminfo_t info,
                     uint64_t vaddr, void *udata)
{
    uint64_t pos = insn_pos(udata);
    uint32_t kind = qemu_plugin_mem_is_store(info) ? EV_STORE : EV_LOAD;
    uint32_t size = 1u << qemu_plugin_mem_size_shift(info);
    uint64_t value = 0, high = 0;
#if QEMU_PLUGIN_VERSION >= 4
    qemu_plugin_mem_value mv;

    if (!cfg.memvalues) {
        goto add;
    }
    mv = qemu_plugin_mem_get_value(info);
    switch (mv.type) {
    case QEMU_PLUGIN_MEM_VALUE_U8:
        value = mv.data.u8;
        break;
    case QEMU_PLUGIN_MEM_VALUE_U16:
        value = mv.data.u16;
        break;
    case QEMU_PLUGIN_MEM_VALUE_U32:
        value = mv.data.u32;
        break;
    case QEMU_PLUGIN_MEM_VALUE_U64:
        value = mv.data.u64;
        break;
    case QEMU_PLUGIN_MEM_VALUE_U128:
        value = mv.data.u128.low;
        high = mv.data.u128.high;
        break;
    }
add:
#endif
    if (size > 8) {
        add_event(pos, kind, vaddr, 8, value);
        add_event(pos, kind, vaddr + 8, 8, high);
    } else {
        add_event(pos, kind, vaddr, size, value);
    }
}

/*
 * A system call, made by the pending block's last instruction. Return
 * values are compared only when they are errors: pids, tids, times and
 * addresses QEMU picks legitimately differ between two processes.
 */
static void vcpu_syscall(qemu_plugin_id_t id, unsigned int vcpu_index,
                         int64_t num, uint64_t a1, uint64_t a2, uint64_t a3,
                         uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7,
                         uint64_t a8)
{
    uint64_t args = mix(a1) ^ mix(a2 + 1) ^ mix(a3 + 2) ^ mix(a4 + 3) ^
                    mix(a5 + 4) ^ mix(a6 + 5);

    add_event(pending_base() + own.pending->n - 1, EV_SYSCALL, num, 0, args);
}

static void vcpu_syscall_ret(qemu_plugin_id_t id, unsigned int vcpu_idx,
                             int64_t num, int64_t ret)
{
    if (ret < 0) {
        add_event(pending_base() + own.pending->n - 1, EV_SYSERR, num, 0,
                  ret);
    }
}

/* Writes s as a JSON string. */
static void G_GNUC_UNUSED json_str(FILE *f, const char *str)
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

/*
 * Registers (regs=on). The vCPU lists its registers to the orchestrator,
 * which answers with the ones both sides have, less the masked ones, in
 * one order: "regs I J K..." (indices into this side's list).
 */
static struct {
    struct qemu_plugin_register **sel;
    guint n;
    GByteArray *buf;
    GByteArray **prev;  /* narrow: the values last reported */
    char *choice;       /* the orchestrator's answer; guarded by peer.lock */
} regs;

#if QEMU_PLUGIN_VERSION >= 2
static void regs_handshake(void)
{
    GArray *all = qemu_plugin_get_registers();
    char *p, *end;

    regs.buf = g_byte_array_new();
    fputs("{\"t\":\"regs\",\"regs\":[", ctl);
    for (guint i = 0; i < all->len; i++) {
        qemu_plugin_reg_descriptor *d =
            &g_array_index(all, qemu_plugin_reg_descriptor, i);
        g_byte_array_set_size(regs.buf, 0);
        fprintf(ctl, "%s[", i ? "," : "");
        json_str(ctl, d->name);
        fputc(',', ctl);
        json_str(ctl, d->feature);
        fprintf(ctl, ",%d]", qemu_plugin_read_register(d->handle, regs.buf));
    }
    fputs("]}\n", ctl);
    fflush(ctl);

    pthread_mutex_lock(&peer.lock);
    while (!regs.choice) {
        pthread_cond_wait(&peer.cond, &peer.lock);
    }
    pthread_mutex_unlock(&peer.lock);
    regs.sel = g_new0(struct qemu_plugin_register *, all->len + 1);
    regs.prev = g_new0(GByteArray *, all->len + 1);
    p = regs.choice + strlen("regs");
    for (;;) {
        guint64 i = g_ascii_strtoull(p, &end, 10);
        if (end == p || i >= all->len) {
            break;
        }
        regs.prev[regs.n] = g_byte_array_new();
        regs.sel[regs.n++] =
            g_array_index(all, qemu_plugin_reg_descriptor, i).handle;
        p = end;
    }
    g_array_free(all, true);
}

/* A hash of the picked registers' values; in an R_REGS callback only. */
static uint64_t regs_hash(void)
{
    uint64_t h = 0;

    for (guint i = 0; i < regs.n; i++) {
        int len;

        g_byte_array_set_size(regs.buf, 0);
        len = qemu_plugin_read_register(regs.sel[i], regs.buf);
        for (int k = 0; k < len; k += 8) {
            uint64_t w = 0;
            memcpy(&w, regs.buf->data + k, MIN(8, len - k));
            h = h * HASH_MUL + mix(w + i);
        }
    }
    return h;
}
#endif

static void send_peer(uint32_t type, uint64_t a, uint64_t b)
{
    PeerMsg m = { .type = type, .epoch = own.epoch, .a = a, .b = b };
    if (send(peer_fd, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m)) {
        pthread_mutex_lock(&peer.lock);
        peer.lost = true;
        pthread_mutex_unlock(&peer.lock);
    }
}

static void report_counts(const char *type, const char *extra)
{
    fprintf(ctl, "{\"t\":\"%s\",\"insns\":%" PRIu64 ",\"blocks\":%" PRIu64
            ",\"rss\":%ld%s}\n", type, own.icount, own.blocks, peak_rss_kb(),
            extra);
    fflush(ctl);
}

/* Never run on: wait for the orchestrator's "quit" (the reader exits). */
static void park(void)
{
    for (;;) {
        pause();
    }
}

/* One ring entry's block as the dump sends it: start, sizes and bytes. */
static void dump_block(uint64_t start, uint64_t v)
{
    const TbInfo *tb = g_ptr_array_index(tb_by_id, RING_ID(v));
    uint32_t first = RING_FIRST(v), end = RING_END(v);

    fprintf(ctl, "{\"t\":\"blk\",\"i\":%" PRIu64 ",\"pc\":\"0x%" PRIx64
            "\",\"sz\":\"", start, tb->insns[first].vaddr);
    for (uint32_t i = first; i < end; i++) {
        fputc("0123456789abcdef"[tb->insns[i].size & 15], ctl);
    }
    fputs("\",\"b\":\"", ctl);
    for (uint32_t i = first; i < end; i++) {
        for (uint8_t k = 0; k < tb->insns[i].size; k++) {
            fprintf(ctl, "%02x", tb->insns[i].bytes[k]);
        }
    }
    fputs("\"}\n", ctl);
}

/* Send the events of instructions [from, to) that the ring still has. */
static void dump_events(uint64_t from, uint64_t to)
{
    uint64_t kept = ev.count > ev.mask + 1 ? ev.count - ev.mask - 1 : 0;
    uint64_t j = ev.count;

    while (j > kept && ev.ring[(j - 1) & ev.mask].pos >= from) {
        j--;
    }
    for (; j < ev.count; j++) {
        const Event *e = &ev.ring[j & ev.mask];
        if (e->pos >= to) {
            break;
        }
        if (e->kind == EV_NONE) {
            continue;   /* dropped by rebase() */
        }
        fprintf(ctl, "{\"t\":\"ev\",\"p\":%" PRIu64 ",\"k\":%u,\"a\":\"0x%"
                PRIx64 "\",\"s\":%u,\"v\":\"0x%" PRIx64 "\"}\n", e->pos,
                e->kind, e->a, e->size, e->v);
    }
}

/*
 * Send the blocks around (good, bad] to the orchestrator (positions in
 * this side's own count): `history` blocks before the one holding `good`,
 * every block up to `bad` and the `reconverge` instructions run after it,
 * then DUMP_EXTRA more.
 */
static void dump(uint64_t good, uint64_t bad)
{
    uint64_t size = own.ring_mask + 1;
    uint64_t first_kept = own.entries > size ? own.entries - size : 0;
    uint64_t j = own.entries;   /* entry... */
    uint64_t r = 0;             /* ...and repetition within it */
    uint64_t start = own.icount;
    uint64_t extra = 0;
    uint64_t from;
    bool complete;

    if (own.dumped) {
        return;
    }
    own.dumped = true;
    /* Walk back to the entry holding `good`... */
    while (j > first_kept && start > good) {
        uint64_t v = own.ring[--j & own.ring_mask];
        start -= RING_REP(v) * RING_COUNT(v);
    }
    complete = start <= good;
    /* The event ring must reach back as far as the dump does. */
    if (ev.count > ev.mask + 1 &&
        ev.ring[(ev.count - ev.mask - 1) & ev.mask].pos > good) {
        complete = false;
    }
    if (j < own.entries) {
        /* ...to the repetition holding it, then `history` blocks back. */
        uint64_t v = own.ring[j & own.ring_mask];
        r = MIN((good - MIN(start, good)) / RING_COUNT(v), RING_REP(v) - 1);
        start += r * RING_COUNT(v);
        for (uint64_t h = 0; h < cfg.history; h++) {
            if (r == 0) {
                if (j == first_kept) {
                    break;
                }
                v = own.ring[--j & own.ring_mask];
                r = RING_REP(v);
            }
            r--;
            start -= RING_COUNT(v);
        }
    }
    fprintf(ctl, "{\"t\":\"diverged\",\"good\":%" PRIu64 ",\"bad\":%" PRIu64
            ",\"insns\":%" PRIu64 ",\"origin\":%" PRIu64 ",\"complete\":%s}\n",
            good, bad, own.icount, own.origin, complete ? "true" : "false");
    from = start;
    for (; j < own.entries && extra < DUMP_EXTRA; j++, r = 0) {
        uint64_t v = own.ring[j & own.ring_mask];
        for (; r < RING_REP(v) && extra < DUMP_EXTRA; r++) {
            dump_block(start, v);
            if (start > bad + cfg.reconverge) {
                extra++;
            }
            start += RING_COUNT(v);
        }
    }
    dump_events(from, start);
    fputs("{\"t\":\"dumped\"}\n", ctl);
    fflush(ctl);
}

/*
 * The streams disagree between logical positions good and bad: stop
 * comparing, run on `reconverge` more instructions (so the orchestrator can
 * see whether the streams meet again), then dump (see stop_finish()).
 */
static void stop_begin(uint64_t good, uint64_t bad)
{
    if (own.stopping) {
        return;
    }
    own.stopping = true;
    own.stop_good = own.origin + good;
    own.stop_bad = own.origin + bad;
    own.stop_at = own.stop_bad + cfg.reconverge;
    own.next_ckpt = UINT64_MAX;
}

/* This side found the streams apart: tell the peer, and stop. */
static void diverge(uint64_t good, uint64_t bad)
{
    bool lost;

    pthread_mutex_lock(&peer.lock);
    lost = peer.lost;
    pthread_mutex_unlock(&peer.lock);
    if (!lost) {
        send_peer(MSG_STOP, good, bad);
    }
    stop_begin(good, bad);
}

/*
 * Compare the checkpoints both sides have taken in this epoch; called with
 * peer.lock held. Returns the logical position of the first disagreeing
 * one, or 0.
 */
static uint64_t compare_checkpoints(void)
{
    if (peer.epoch != own.epoch) {
        return 0;   /* the peer has not resumed yet */
    }
    while (own.compared < own.ckpt_count &&
           own.compared < peer.ckpt_count) {
        uint64_t i = own.compared % CKPT_RING;
        if (own.ckpt_hash[i] != peer.ckpt_hash[i]) {
            return (own.compared + 1) * cfg.interval;
        }
        own.compared++;
        own.last_good = own.compared * cfg.interval;
    }
    return 0;
}

static void take_checkpoint(uint64_t hash)
{
    struct timespec now;

    own.ckpt_hash[own.ckpt_count % CKPT_RING] = hash;
    own.ckpt_count++;
    own.next_ckpt += cfg.interval;
    send_peer(MSG_CKPT, own.ckpt_count, hash);

    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    if ((now.tv_sec - own.last_progress.tv_sec) * 1000000000ll +
        (now.tv_nsec - own.last_progress.tv_nsec) > 250000000ll) {
        own.last_progress = now;
        report_counts("progress", "");
    }
}

/*
 * Restart the comparison at physical position origin, which the
 * orchestrator found to be where this side's stream meets the peer's again
 * after a transient excursion: fold the hashes afresh from there, out of
 * the block and event rings, and take the checkpoints already passed.
 */
static void rebase(uint64_t origin, uint64_t limit)
{
    uint64_t size = own.ring_mask + 1;
    uint64_t first_kept = own.entries > size ? own.entries - size : 0;
    uint64_t kept = ev.count > ev.mask + 1 ? ev.count - ev.mask - 1 : 0;
    uint64_t j = own.entries, pos = own.icount;
    uint64_t h = 0, eh = 0;

    /* Events: register snapshots were taken on the old grid; drop them. */
    for (uint64_t k = kept; k < ev.count; k++) {
        Event *e = &ev.ring[k & ev.mask];
        if (e->pos >= origin && e->kind == EV_REGS) {
            e->kind = EV_NONE;
        }
        if (e->pos >= origin && e->kind != EV_NONE) {
            eh = eh * HASH_MUL + event_term(e);
        }
        e->after = e->pos >= origin ? eh : 0;
    }
    ev.hash = eh;

    while (j > first_kept && pos > origin) {
        uint64_t v = own.ring[--j & own.ring_mask];
        pos -= RING_REP(v) * RING_COUNT(v);
    }
    own.origin = origin;
    own.ckpt_count = own.compared = own.last_good = 0;
    own.next_ckpt = origin + cfg.interval;
    cfg.maxinsns = limit;
    for (; j < own.entries; j++) {
        uint64_t v = own.ring[j & own.ring_mask];
        const TbInfo *tb = g_ptr_array_index(tb_by_id, RING_ID(v));
        for (uint64_t r = 0; r < RING_REP(v); r++) {
            for (uint32_t i = RING_FIRST(v); i < RING_END(v); i++, pos++) {
                if (pos < origin) {
                    continue;
                }
                h = h * HASH_MUL + mix(tb->insns[i].vaddr);
                if (pos + 1 == own.next_ckpt) {
                    take_checkpoint(combine(h, events_before(pos + 1)));
                }
                if (pos + 1 == limit) {
                    own.limit_hash = combine(h, events_before(pos + 1));
                }
            }
        }
    }
    own.hash = h;
}

/*
 * Dump what this side has, then wait for the orchestrator: "quit" ends the
 * process (see reader()); "resync" rebases and returns.
 */
static void stop_finish(void)
{
    uint64_t origin, limit;

    dump(own.stop_good, own.stop_bad);
    pthread_mutex_lock(&peer.lock);
    while (!cmd.resync) {
        pthread_cond_wait(&peer.cond, &peer.lock);
    }
    cmd.resync = false;
    origin = cmd.origin;
    limit = cmd.limit;
    own.epoch = cmd.epoch;
    regs_next = cmd.regs_next;
    pthread_mutex_unlock(&peer.lock);
    rebase(origin, limit);
    own.stopping = false;
    own.dumped = false;
}

/* Whether the peer's news is of this side's epoch; with peer.lock held. */
static inline bool peer_current(void)
{
    return peer.epoch == own.epoch;
}

/* How settle() ended. */
enum { SETTLED, RESUMED, STOPPING };

/*
 * Wait until the peer's news settles this side's run: its end or limit
 * at `pos` (with `hash`), a stop request, or its loss. Used once this side
 * has ended (guest exit) or reached its limit; positions are logical.
 * On a disagreement a side that can still run (at its limit) returns
 * STOPPING, to run on before it dumps (see stop_begin()); one that cannot
 * dumps at once and returns RESUMED when the orchestrator resumed the
 * comparison after a transient excursion: it then reports its end afresh.
 */
static int settle(uint64_t pos, uint64_t hash, bool can_run)
{
    pthread_mutex_lock(&peer.lock);
    for (;;) {
        uint64_t bad = compare_checkpoints();
        bool current = peer_current();
        uint64_t good = own.last_good;
        bool peer_knows = false;    /* the peer stopped: no need to tell */

        if (!bad && current && peer.stopped) {
            good = peer.stop_good;
            bad = peer.stop_bad;
            peer_knows = true;
        } else if (!bad && current && peer.ended) {
            if (peer.end_pos == pos && peer.end_hash == hash) {
                pthread_mutex_unlock(&peer.lock);
                return SETTLED;
            }
            bad = MIN(pos, peer.end_pos);
        }
        if (bad) {
            pthread_mutex_unlock(&peer.lock);
            if (peer_knows) {
                stop_begin(good, bad);
            } else {
                diverge(good, bad);
            }
            if (can_run) {
                return STOPPING;
            }
            stop_finish();
            return RESUMED;
        }
        if (peer.lost) {
            pthread_mutex_unlock(&peer.lock);
            report_counts("peer-lost", "");
            return SETTLED;
        }
        pthread_cond_wait(&peer.cond, &peer.lock);
    }
}

/* Called when own.icount reached own.next_mark; the block that crossed it
 * retired tb's instructions from `first` on, `start` and `h0` are the
 * position and hash before it. */
static void __attribute__((noinline, cold))
at_mark(const TbInfo *tb, uint32_t first, uint64_t start, uint64_t h0)
{
    bool rebased = false;   /* h0 is then of the old epoch */

    if (cfg.narrow) {
        report_counts("narrowed", "");
        park();
    }
    for (;;) {
        uint64_t limit = cfg.maxinsns ? cfg.maxinsns : UINT64_MAX;
        uint64_t mark;

        if (own.stopping) {
            if (own.icount < own.stop_at || own.exiting) {
                own.next_mark = own.stop_at;
                return;
            }
            stop_finish();
            rebased = true;
            continue;
        }
        while (own.next_ckpt <= own.icount && own.next_ckpt <= limit) {
            uint64_t c = own.next_ckpt;
            take_checkpoint(combine(prefix_hash(h0, tb, first, c - start),
                                    events_before(c)));
        }
        if (own.icount >= limit) {
            /* After a rebase, rebase() computed the limit's hash. */
            uint64_t h = !rebased && limit >= start
                         ? combine(prefix_hash(h0, tb, first, limit - start),
                                   events_before(limit))
                         : own.limit_hash;
            char extra[64];
            send_peer(MSG_LIMIT, limit - own.origin, h);
            snprintf(extra, sizeof(extra), ",\"at\":%" PRIu64
                     ",\"atHash\":\"0x%016" PRIx64 "\"", limit, h);
            report_counts("limit", extra);
            switch (settle(limit - own.origin, h, cfg.reconverge > 0)) {
            case RESUMED:
                rebased = true;
                continue;
            case STOPPING:
                continue;   /* run on to stop_at, past the limit */
            }
            park();
        }
        /* The guest's last block: plugin_exit() reports the end first, so
         * that the orchestrator knows it when the dumps come. */
        if (own.exiting) {
            return;
        }

        pthread_mutex_lock(&peer.lock);
        for (;;) {
            uint64_t bad = compare_checkpoints();
            bool current = peer_current();

            if (bad) {
                pthread_mutex_unlock(&peer.lock);
                diverge(own.last_good, bad);
                break;
            }
            if (current && peer.stopped) {
                uint64_t good = peer.stop_good, stop_bad = peer.stop_bad;
                pthread_mutex_unlock(&peer.lock);
                stop_begin(good, stop_bad);
                break;
            }
            if (current && peer.ended &&
                own.icount - own.origin > peer.end_pos) {
                uint64_t bad = peer.end_pos;
                pthread_mutex_unlock(&peer.lock);
                diverge(MIN(own.last_good, bad), bad);
                break;
            }
            if (peer.lost) {
                pthread_mutex_unlock(&peer.lock);
                report_counts("peer-lost", "");
                park();
            }
            /* Until the peer's first message of this epoch, it has taken
             * no checkpoint of it. */
            if ((current && (peer.stopped || peer.ended)) ||
                own.icount - own.origin <=
                (current ? peer.ckpt_count : 0) * cfg.interval + cfg.window) {
                mark = MIN(own.next_ckpt, limit);
                if (current && peer.ended) {
                    mark = MIN(mark, own.origin + peer.end_pos + 1);
                }
                own.next_mark = mark;
                pthread_mutex_unlock(&peer.lock);
                return;
            }
            pthread_cond_wait(&peer.cond, &peer.lock);
        }
    }
}

/* A second vCPU would interleave two streams into one: refuse it. */
static void vcpu_init(qemu_plugin_id_t id, unsigned int vcpu_index)
{
    if (vcpu_index == 0) {
#if QEMU_PLUGIN_VERSION >= 2
        own.last_insns = qemu_plugin_scoreboard_find(last_insns_score, 0);
        narrow.on = qemu_plugin_scoreboard_find(narrow.score, 0);
        if (cfg.regs) {
            regs_handshake();
        }
#endif
        return;
    }
    fprintf(ctl, "{\"t\":\"error\",\"msg\":\"vCPU %u started: lockstep supports "
            "one vCPU only (use -smp 1 and a single-threaded guest)\"}\n",
            vcpu_index);
    fflush(ctl);
    park();
}

/* How many instructions of an unconfirmed block ran, given the next pc. */
static uint32_t __attribute__((noinline, cold))
cut_short(const TbInfo *tb, uint64_t next_pc)
{
    for (uint32_t m = 1; m < tb->n; m++) {
        if (tb->insns[m].vaddr == next_pc) {
            return m;
        }
    }
    /* An exception to elsewhere: where it stopped is unknown; claim all. */
    return tb->n;
}

/*
 * Fold the pending block into the stream; next_pc is where execution went.
 * An instruction run again right after itself (x86 rep iterations, a jump
 * to itself) counts once: how often QEMU re-enters a rep instruction
 * depends on its translation mode (chaining, one-insn-per-tb), not the guest.
 */
static void retire(uint64_t next_pc)
{
    const TbInfo *tb = own.pending;
    uint32_t end = *own.last_insns == own.expect ? tb->n
                                                 : cut_short(tb, next_pc);
    uint32_t first = tb->pc == own.last_pc;
    uint64_t start = own.icount;
    uint64_t h0 = own.hash;
    uint64_t key, *last;

    if (G_UNLIKELY(end <= first)) {
        return;
    }
    key = tb->id | (uint64_t)end << 32 | (uint64_t)first << 42;
    last = &own.ring[(own.entries - 1) & own.ring_mask];
    if (RING_KEY(*last) == key && RING_REP(*last) < RING_REP_MAX) {
        *last += RING_REP_ONE;
    } else {
        own.ring[own.entries & own.ring_mask] = key | RING_REP_ONE;
        own.entries++;
    }
    own.blocks++;
    own.icount = start + end - first;
    own.hash = G_LIKELY(end == tb->n && !first)
               ? h0 * tb->pow + tb->hash
               : prefix_hash(h0, tb, first, end - first);
    own.last_pc = G_LIKELY(end == tb->n) ? tb->last : tb->insns[end - 1].vaddr;
    if (G_UNLIKELY(own.icount >= own.next_mark)) {
        at_mark(tb, first, start, h0);
    }
}

/*
 * The hot path: runs at the start of every executed block. The common case,
 * the pending block ran whole and did not start by repeating the last
 * instruction, is retire() in a few instructions; anything else goes there.
 */
static void vcpu_tb_exec(unsigned int vcpu_index, void *udata)
{
    const TbInfo *tb = udata;
    const TbInfo *p = own.pending;

    if (G_LIKELY(p && *own.last_insns == own.expect && p->pc != own.last_pc)) {
        uint64_t *last = &own.ring[(own.entries - 1) & own.ring_mask];
        uint64_t start = own.icount;
        uint64_t h0 = own.hash;

        if (RING_KEY(*last) == p->key && RING_REP(*last) < RING_REP_MAX) {
            *last += RING_REP_ONE;
        } else {
            own.ring[own.entries++ & own.ring_mask] = p->key | RING_REP_ONE;
        }
        own.blocks++;
        own.icount = start + p->n;
        own.hash = h0 * p->pow + p->hash;
        own.last_pc = p->last;
        if (G_UNLIKELY(own.icount >= own.next_mark)) {
            at_mark(p, 0, start, h0);
        }
    } else if (p) {
        retire(tb->pc);
    }
    own.pending = tb;
    /* One-instruction blocks have no inline bump: they count as whole. */
    own.expect = *own.last_insns + (tb->n > 1);
}

#if QEMU_PLUGIN_VERSION >= 2
/* Where falling through from the last retired instruction of p leads. */
static uint64_t fall_through(const TbInfo *p)
{
    if (own.last_pc == p->last) {
        return p->end;
    }
    for (uint32_t i = 0; i < p->n; i++) {
        if (p->insns[i].vaddr == own.last_pc) {
            return own.last_pc + p->insns[i].size;
        }
    }
    return UINT64_MAX;
}

/*
 * With regs=on: a block reached by a jump (an exception, an interrupt)
 * starts with a register snapshot. Falling through into the next block or
 * re-entering the same instruction (see retire()) is no such point: where
 * blocks split is QEMU's choice.
 */
static void vcpu_tb_exec_regs(unsigned int vcpu_index, void *udata)
{
    const TbInfo *tb = udata;
    const TbInfo *p = own.pending;

    vcpu_tb_exec(vcpu_index, udata);
    uint64_t at = own.icount - own.origin;

    if (at >= regs_next && tb->pc != own.last_pc &&
        (!p || tb->pc != fall_through(p))) {
        add_event(own.icount, EV_REGS, tb->pc, 0, regs_hash());
        regs_next = (at / cfg.regs_every + 1) * cfg.regs_every;
    }
}

/* With narrow=: count as usual; step through the blocks in the range. */
static void vcpu_tb_exec_narrow(unsigned int vcpu_index, void *udata)
{
    const TbInfo *tb = udata;
    uint64_t base;

    vcpu_tb_exec(vcpu_index, udata);
    base = pending_base();
    *narrow.on = base + tb->n > cfg.narrow_from && base <= cfg.narrow_to;
}

/*
 * Before each instruction of the range: its position, address, bytes and
 * disassembly, and the picked registers whose values changed since the last
 * step (all of them at the first).
 */
static void vcpu_insn_narrow(unsigned int vcpu_index, void *udata)
{
    const NarrowInsn *ni = udata;
    const Insn *d = &ni->tb->insns[ni->i];
    uint64_t pos;
    bool first = narrow.next == 0;
    bool any = false;

    if (!*narrow.on) {
        return;     /* API 2 has no conditional callbacks */
    }
    pos = pending_base() + ni->i;
    if (pos < cfg.narrow_from || pos > cfg.narrow_to || pos < narrow.next) {
        return;
    }
    narrow.next = pos + 1;
    fprintf(ctl, "{\"t\":\"step\",\"p\":%" PRIu64 ",\"pc\":\"0x%" PRIx64
            "\",\"b\":\"", pos, d->vaddr);
    for (uint8_t k = 0; k < d->size && k < sizeof(d->bytes); k++) {
        fprintf(ctl, "%02x", d->bytes[k]);
    }
    fputs("\",\"d\":", ctl);
    json_str(ctl, ni->disas);
    fputs(",\"r\":{", ctl);
    for (guint i = 0; i < regs.n; i++) {
        GByteArray *prev = regs.prev[i];

        g_byte_array_set_size(regs.buf, 0);
        qemu_plugin_read_register(regs.sel[i], regs.buf);
        if (!first && prev->len == regs.buf->len &&
            memcmp(prev->data, regs.buf->data, prev->len) == 0) {
            continue;
        }
        fprintf(ctl, "%s\"%u\":\"", any ? "," : "", i);
        for (guint k = 0; k < regs.buf->len; k++) {
            fprintf(ctl, "%02x", regs.buf->data[k]);
        }
        fputc('"', ctl);
        any = true;
        g_byte_array_set_size(prev, 0);
        g_byte_array_append(prev, regs.buf->data, regs.buf->len);
    }
    fputs("}}\n", ctl);
}
#endif

static guint tb_info_hash(gconstpointer p)
{
    const TbInfo *tb = p;
    return (guint)(tb->hash ^ (tb->hash >> 32) ^ tb->n);
}

static gboolean tb_info_equal(gconstpointer x, gconstpointer y)
{
    const TbInfo *a = x, *b = y;
    return a->n == b->n && a->pc == b->pc &&
           memcmp(a->insns, b->insns, a->n * sizeof(Insn)) == 0;
}

static void vcpu_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    TbInfo *info = g_malloc0(sizeof(TbInfo) + n * sizeof(Insn));
    TbInfo *shared;

    info->pc = qemu_plugin_tb_vaddr(tb);
    info->n = n;
    info->hash = 0;
    info->pow = 1;
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        Insn *d = &info->insns[i];
        size_t size = qemu_plugin_insn_size(insn);

        d->vaddr = qemu_plugin_insn_vaddr(insn);
        d->size = size;
        size = MIN(size, sizeof(d->bytes));
#if QEMU_PLUGIN_VERSION <= 2
        memcpy(d->bytes, qemu_plugin_insn_data(insn), size);
#else
        qemu_plugin_insn_data(insn, d->bytes, size);
#endif
        info->hash = info->hash * HASH_MUL + mix(d->vaddr);
        info->pow *= HASH_MUL;
    }
    info->last = n ? info->insns[n - 1].vaddr : info->pc;
    info->end = n ? info->last + info->insns[n - 1].size : info->pc;

    /* Re-translations of the same code share one TbInfo (and, for narrow=,
     * one set of NarrowInsn): memory follows the code translated, not how
     * often it is translated. */
    pthread_mutex_lock(&tbs_lock);
    shared = g_hash_table_lookup(tbs, info);
    if (shared) {
        g_free(info);
    } else {
        info->id = tb_by_id->len;
        info->key = info->id | (uint64_t)info->n << 32;
        g_ptr_array_add(tb_by_id, info);
        g_hash_table_add(tbs, info);
        shared = info;
    }
#if QEMU_PLUGIN_VERSION >= 2
    if (cfg.narrow && !shared->steps) {
        shared->steps = g_new(NarrowInsn, n);
        for (size_t i = 0; i < n; i++) {
            shared->steps[i].tb = shared;
            shared->steps[i].i = i;
            shared->steps[i].disas =
                qemu_plugin_insn_disas(qemu_plugin_tb_get_insn(tb, i));
        }
    }
#endif
    pthread_mutex_unlock(&tbs_lock);

#if QEMU_PLUGIN_VERSION >= 2
    if (cfg.narrow) {
        qemu_plugin_u64 on = { .score = narrow.score, .offset = 0 };

        qemu_plugin_register_vcpu_tb_exec_cb(tb, vcpu_tb_exec_narrow,
                                             QEMU_PLUGIN_CB_NO_REGS, shared);
        for (size_t i = 0; i < n; i++) {
            struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
            NarrowInsn *ni = &shared->steps[i];

#if QEMU_PLUGIN_VERSION >= 3
            qemu_plugin_register_vcpu_insn_exec_cond_cb(
                insn, vcpu_insn_narrow, QEMU_PLUGIN_CB_R_REGS,
                QEMU_PLUGIN_COND_EQ, on, 1, ni);
#else
            (void)on;
            qemu_plugin_register_vcpu_insn_exec_cb(
                insn, vcpu_insn_narrow, QEMU_PLUGIN_CB_R_REGS, ni);
#endif
        }
        narrow.on = qemu_plugin_scoreboard_find(narrow.score, 0);
    } else if (cfg.regs) {
        qemu_plugin_register_vcpu_tb_exec_cb(tb, vcpu_tb_exec_regs,
                                             QEMU_PLUGIN_CB_R_REGS, shared);
    } else
#endif
    {
        qemu_plugin_register_vcpu_tb_exec_cb(tb, vcpu_tb_exec,
                                             QEMU_PLUGIN_CB_NO_REGS, shared);
    }
    if (cfg.mem) {
        for (size_t i = 0; i < n; i++) {
            qemu_plugin_register_vcpu_mem_cb(qemu_plugin_tb_get_insn(tb, i),
                                             vcpu_mem, QEMU_PLUGIN_CB_NO_REGS,
                                             QEMU_PLUGIN_MEM_RW,
                                             &shared->insns[i]);
        }
    }
    /* An inline add, not a call: cheap enough for every block. */
    if (n > 1) {
        struct qemu_plugin_insn *last = qemu_plugin_tb_get_insn(tb, n - 1);
#if QEMU_PLUGIN_VERSION >= 2
        qemu_plugin_u64 entry = { .score = last_insns_score, .offset = 0 };

        qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
            last, QEMU_PLUGIN_INLINE_ADD_U64, entry, 1);
        /* A scoreboard may move when it grows: follow it. */
        own.last_insns = qemu_plugin_scoreboard_find(last_insns_score, 0);
#else
        qemu_plugin_register_vcpu_insn_exec_inline(
            last, QEMU_PLUGIN_INLINE_ADD_U64, own.last_insns, 1);
#endif
    }
}

/*
 * The guest ended. If it ended inside its last block (a store that powers
 * the machine off, say), how much of that block ran is unknown: it is
 * claimed whole and reported as the stream's uncertain "tail".
 */
static void plugin_exit(qemu_plugin_id_t id, void *p)
{
    uint64_t tail = 0;
    char extra[64];

    own.exiting = true;
    if (own.pending) {
        uint64_t before = own.icount;
        bool whole = *own.last_insns == own.expect;

        retire(UINT64_MAX);
        tail = whole ? 0 : own.icount - before;
    }
    if (cfg.narrow) {
        snprintf(extra, sizeof(extra), ",\"hash\":\"0x%016" PRIx64 "\","
                 "\"tail\":0", combine(own.hash, ev.hash));
        report_counts("end", extra);
        return;
    }
    do {
        uint64_t hash = combine(own.hash, ev.hash);
        send_peer(MSG_END, own.icount - own.origin, hash);
        snprintf(extra, sizeof(extra), ",\"hash\":\"0x%016" PRIx64 "\","
                 "\"tail\":%" PRIu64, hash, tail);
        report_counts("end", extra);
    } while (settle(own.icount - own.origin, combine(own.hash, ev.hash), false)
             == RESUMED);
}

/* Reads the peer's messages and the orchestrator's commands. */
static void *reader(void *arg)
{
    struct pollfd fds[2] = {
        { .fd = peer_fd, .events = POLLIN },
        { .fd = ctl_fd, .events = POLLIN },
    };
    char line[1 << 14];
    size_t used = 0;

    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (fds[1].revents) {
            ssize_t r = read(ctl_fd, line + used, sizeof(line) - 1 - used);
            char *nl;

            /* The orchestrator is gone: never run on alone. */
            if (r <= 0) {
                _exit(3);
            }
            used += r;
            line[used] = 0;
            while ((nl = strchr(line, '\n'))) {
                *nl = 0;
                if (strncmp(line, "regs", 4) == 0) {
                    pthread_mutex_lock(&peer.lock);
                    regs.choice = g_strdup(line);
                    pthread_cond_broadcast(&peer.cond);
                    pthread_mutex_unlock(&peer.lock);
                } else if (strncmp(line, "resync ", 7) == 0) {
                    pthread_mutex_lock(&peer.lock);
                    if (sscanf(line + 7, "%" SCNu32 " %" SCNu64 " %" SCNu64
                               " %" SCNu64, &cmd.epoch, &cmd.origin,
                               &cmd.limit, &cmd.regs_next) != 4) {
                        _exit(3);
                    }
                    cmd.resync = true;
                    pthread_cond_broadcast(&peer.cond);
                    pthread_mutex_unlock(&peer.lock);
                } else {
                    _exit(0);   /* "quit" */
                }
                used -= nl + 1 - line;
                memmove(line, nl + 1, used + 1);
            }
            if (used == sizeof(line) - 1) {
                _exit(3);
            }
        }
        if (fds[0].revents) {
            PeerMsg m;
            ssize_t r = recv(peer_fd, &m, sizeof(m), MSG_WAITALL);

            pthread_mutex_lock(&peer.lock);
            if (r == sizeof(m) && m.epoch > peer.epoch) {
                /* The peer resumed after an excursion: forget its past. */
                peer.epoch = m.epoch;
                peer.ckpt_count = 0;
                peer.ended = peer.stopped = false;
            }
            if (r != sizeof(m)) {
                peer.lost = true;
                fds[0].fd = -1;
            } else if (m.epoch < peer.epoch) {
                /* Sent before the peer resumed: no longer relevant. */
            } else if (m.type == MSG_CKPT) {
                peer.ckpt_hash[(m.a - 1) % CKPT_RING] = m.b;
                peer.ckpt_count = m.a;
            } else if (m.type == MSG_END || m.type == MSG_LIMIT) {
                peer.ended = true;
                peer.end_pos = m.a;
                peer.end_hash = m.b;
            } else if (m.type == MSG_STOP) {
                peer.stopped = true;
                peer.stop_good = m.a;
                peer.stop_bad = m.b;
            }
            pthread_cond_broadcast(&peer.cond);
            pthread_mutex_unlock(&peer.lock);
        }
    }
    return NULL;
}

static int unix_socket(const char *path, struct sockaddr_un *addr)
{
    if (strlen(path) >= sizeof(addr->sun_path)) {
        fprintf(stderr, "lockstep: socket path too long: %s\n", path);
        return -1;
    }
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    strcpy(addr->sun_path, path);
    return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

/* Connect, retrying while the listener is not there yet (up to 30 s). */
static int connect_to(const char *path)
{
    struct sockaddr_un addr;

    for (int tries = 0; tries < 3000; tries++) {
        int fd = unix_socket(path, &addr);
        if (fd < 0) {
            return -1;
        }
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
            return fd;
        }
        close(fd);
        if (errno != ENOENT && errno != ECONNREFUSED) {
            break;
        }
        usleep(10000);
    }
    fprintf(stderr, "lockstep: cannot connect to %s: %s\n", path,
            strerror(errno));
    return -1;
}

/* Listen on path and accept the peer (up to 30 s). */
static int accept_peer(const char *path)
{
    struct sockaddr_un addr;
    struct pollfd pfd;
    int lfd = unix_socket(path, &addr);
    int fd = -1;

    if (lfd < 0) {
        return -1;
    }
    unlink(path);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(lfd, 1) < 0) {
        fprintf(stderr, "lockstep: cannot listen on %s: %s\n", path,
                strerror(errno));
        close(lfd);
        return -1;
    }
    pfd = (struct pollfd){ .fd = lfd, .events = POLLIN };
    if (poll(&pfd, 1, 30000) == 1) {
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    }
    if (fd < 0) {
        fprintf(stderr, "lockstep: side b did not connect to %s\n", path);
    }
    close(lfd);
    unlink(path);
    return fd;
}

static bool parse_u64(const char *key, const char *val, uint64_t *out)
{
    char *end;

    errno = 0;
    *out = strtoull(val, &end, 0);
    if (errno || end == val || *end) {
        fprintf(stderr, "lockstep: %s=%s is not a number\n", key, val);
        return false;
    }
    return true;
}

static bool parse_args(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        g_auto(GStrv) kv = g_strsplit(argv[i], "=", 2);
        const char *key = kv[0], *val = kv[1];
        bool ok = true;

        if (!val) {
            fprintf(stderr, "lockstep: option %s needs a value (key=value)\n",
                    argv[i]);
            return false;
        }
        if (g_strcmp0(key, "role") == 0) {
            if (g_strcmp0(val, "a") && g_strcmp0(val, "b")) {
                fprintf(stderr, "lockstep: role must be a or b, not %s\n",
                        val);
                return false;
            }
            cfg.role = val[0];
        } else if (g_strcmp0(key, "peer") == 0) {
            cfg.peer_path = g_strdup(val);
        } else if (g_strcmp0(key, "ctl") == 0) {
            cfg.ctl_path = g_strdup(val);
        } else if (g_strcmp0(key, "listen") == 0) {
            ok = qemu_plugin_bool_parse(key, val, &cfg.listen);
        } else if (g_strcmp0(key, "maxinsns") == 0) {
            ok = parse_u64(key, val, &cfg.maxinsns);
        } else if (g_strcmp0(key, "interval") == 0) {
            ok = parse_u64(key, val, &cfg.interval) && cfg.interval > 0;
        } else if (g_strcmp0(key, "window") == 0) {
            ok = parse_u64(key, val, &cfg.window);
        } else if (g_strcmp0(key, "history") == 0) {
            ok = parse_u64(key, val, &cfg.history);
        } else if (g_strcmp0(key, "reconverge") == 0) {
            ok = parse_u64(key, val, &cfg.reconverge);
        } else if (g_strcmp0(key, "mem") == 0) {
            ok = qemu_plugin_bool_parse(key, val, &cfg.mem);
        } else if (g_strcmp0(key, "memvalues") == 0) {
            ok = qemu_plugin_bool_parse(key, val, &cfg.memvalues);
        } else if (g_strcmp0(key, "sys") == 0) {
            ok = qemu_plugin_bool_parse(key, val, &cfg.sys);
        } else if (g_strcmp0(key, "regs") == 0) {
            ok = qemu_plugin_bool_parse(key, val, &cfg.regs);
        } else if (g_strcmp0(key, "regsevery") == 0) {
            ok = parse_u64(key, val, &cfg.regs_every) && cfg.regs_every > 0;
        } else if (g_strcmp0(key, "narrow") == 0) {
            char *end;
            cfg.narrow_from = g_ascii_strtoull(val, &end, 10);
            cfg.narrow_to = *end == ':' ? g_ascii_strtoull(end + 1, &end, 10)
                                        : 0;
            ok = *end == 0 && cfg.narrow_to >= cfg.narrow_from;
            cfg.narrow = cfg.regs = true;
        } else {
            fprintf(stderr, "lockstep: unknown option %s (known: role, peer, "
                    "ctl, listen, maxinsns, interval, window, history, "
                    "reconverge, mem, "
                    "memvalues, sys, regs, regsevery, narrow)\n", key);
            return false;
        }
        if (!ok) {
            fprintf(stderr, "lockstep: bad value in %s\n", argv[i]);
            return false;
        }
    }
    if (!cfg.role || !cfg.ctl_path || (!cfg.peer_path && !cfg.narrow)) {
        fprintf(stderr, "lockstep: role=, peer= and ctl= are required\n");
        return false;
    }
    if (cfg.regs && QEMU_PLUGIN_VERSION < 2) {
        fprintf(stderr, "lockstep: regs= and narrow= need plugin API 2 "
                "(QEMU 9.0 or later)\n");
        return false;
    }
    if (cfg.narrow) {
        cfg.mem = cfg.sys = false;
    }
    if (cfg.window / cfg.interval + 2 >= CKPT_RING) {
        fprintf(stderr, "lockstep: window too large for interval (at most "
                "%d intervals)\n", CKPT_RING - 2);
        return false;
    }
    return true;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                           const qemu_info_t *info,
                                           int argc, char **argv)
{
    struct sockaddr_un addr;
    pthread_t thread;

    if (!parse_args(argc, argv)) {
        return -1;
    }
    ctl_fd = unix_socket(cfg.ctl_path, &addr);
    if (ctl_fd < 0 ||
        connect(ctl_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr, "lockstep: cannot connect to %s: %s\n", cfg.ctl_path,
                strerror(errno));
        return -1;
    }
    ctl = fdopen(dup(ctl_fd), "w");
    setvbuf(ctl, NULL, _IOFBF, 1 << 16);
    fprintf(ctl, "{\"t\":\"hello\",\"role\":\"%c\",\"target\":\"%s\","
            "\"api\":%d,\"pid\":%d,\"memValues\":%s}\n",
            cfg.role, info->target_name, QEMU_PLUGIN_VERSION, (int)getpid(),
            cfg.mem && cfg.memvalues && QEMU_PLUGIN_VERSION >= 4 ? "true"
                                                                 : "false");
    fflush(ctl);

    if (!cfg.narrow) {
        peer_fd = cfg.listen ? accept_peer(cfg.peer_path)
                             : connect_to(cfg.peer_path);
        if (peer_fd < 0) {
            return -1;
        }
    }

    /*
     * The ring must hold every block from the last agreeing checkpoint to
     * where this side may be when it dumps (up to a window and two
     * intervals on), at one instruction per block in the worst case.
     */
    own.ring_mask = 1;
    while (own.ring_mask < cfg.window + 2 * cfg.interval + cfg.reconverge +
           cfg.history + DUMP_EXTRA + 64) {
        own.ring_mask <<= 1;
    }
    own.ring = g_new0(uint64_t, own.ring_mask);
#if QEMU_PLUGIN_VERSION >= 2
    /* Its vCPU 0 entry exists from vcpu_init on (see there). */
    last_insns_score = qemu_plugin_scoreboard_new(sizeof(uint64_t));
    narrow.score = qemu_plugin_scoreboard_new(sizeof(uint64_t));
#else
    own.last_insns = &last_insns_counter;
#endif
    own.ring_mask -= 1;
    own.next_ckpt = cfg.narrow ? UINT64_MAX : cfg.interval;
    own.next_mark = cfg.narrow ? cfg.narrow_to + 1
                               : MIN(cfg.interval, cfg.maxinsns ? cfg.maxinsns
                                                                : UINT64_MAX);
    tbs = g_hash_table_new(tb_info_hash, tb_info_equal);
    tb_by_id = g_ptr_array_new();
    if (pthread_create(&thread, NULL, reader, NULL) != 0) {
        fprintf(stderr, "lockstep: cannot start reader thread\n");
        return -1;
    }
    pthread_detach(thread);

    if (cfg.mem || cfg.sys || (cfg.regs && !cfg.narrow)) {
        /* Half as many events as the block ring has entries (1 M events,
         * 40 MB by default): the window at most ~0.8 events an instruction,
         * more than the guests here make. */
        ev.mask = own.ring_mask >> 1;
        ev.ring = g_new0(Event, ev.mask + 1);
    }
    if (cfg.sys && !info->system_emulation) {
        qemu_plugin_register_vcpu_syscall_cb(id, vcpu_syscall);
        qemu_plugin_register_vcpu_syscall_ret_cb(id, vcpu_syscall_ret);
    }
    qemu_plugin_register_vcpu_init_cb(id, vcpu_init);
    qemu_plugin_register_vcpu_tb_trans_cb(id, vcpu_tb_trans);
    qemu_plugin_register_atexit_cb(id, plugin_exit, NULL);
    return 0;
}

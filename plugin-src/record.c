/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * record.c - recording a golden trace (record=PATH, with fast=on). The
 * fast pass's callback flavour (exec.c) counts the stream and takes its
 * checkpoints as usual; the harness, listening as this side's peer,
 * echoes them and keeps them. This unit adds what names a difference
 * later: the jumps, the system calls and register snapshots, encoded here
 * and written to the harness on a socket of their own (the record stream,
 * frames as protocol.h says), which compresses them into the trace.
 *
 * A jump is an instruction that does not follow the one before it in
 * memory (a taken branch, a call, an exception): (position, address of
 * the instruction before, target). Positions count as the fast pass
 * counts, so jumps do not depend on how QEMU splits blocks. Between two
 * jumps the stream runs straight, so the jumps and the code give the
 * whole stream; a loop repeats the same run. Each code address has a slot
 * holding the last REC_WAYS different runs that started there (length,
 * last instruction, target), most recent first: a jump that repeats the
 * most recent is a "hit" and costs nothing but a count; one that repeats
 * another costs a byte or so (the count of hits before it and which); a
 * "miss" is written in full (varints, the target as a small number once
 * seen in the chunk). Chunks cover `chunk` instructions each and start
 * afresh (slots are valid for one chunk), so a window of the trace can be
 * decoded alone. docs/trace-format.md has the encoding byte by byte, and
 * why these choices.
 *
 * Detail records: every system call event (number and a hash of its
 * arguments, its result, what it wrote: linux-user, as events.c makes
 * them), and with regs=on a hash of the picked registers
 * at the first jump target at or after every multiple of `detail`
 * instructions. The register snapshot the fast pass folds into each
 * checkpoint (the first jump target at or after it, as fast.c takes it)
 * is taken here too, so both flavours' checkpoints agree.
 */
#include "lockstep.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "stream.h"

/*
 * Runs remembered per code address: more make the trace hardly smaller
 * (docs/trace-format.md, "Size and the detail interval").
 */
#define REC_WAYS 4

/* A detail record of an event has the event's kind. */
G_STATIC_ASSERT((int)LS_DETAIL_SYSCALL == (int)LS_EV_SYSCALL &&
                (int)LS_DETAIL_SYSRET == (int)LS_EV_SYSRET &&
                (int)LS_DETAIL_REGS == (int)LS_EV_REGS &&
                (int)LS_DETAIL_SYSOUT == (int)LS_EV_SYSOUT);

/* A buffer is written out once it holds this much (a record is < 48 bytes). */
#define REC_BUF_SIZE (1 << 16)
#define REC_FLUSH_AT (REC_BUF_SIZE - 64)

/* A run: its length in instructions, its last instruction, its target. */
typedef struct {
    uint64_t d;
    uint64_t src;
    uint64_t target;
} RecRun;

/* A run no jump matches: d is a position difference, never this. */
#define REC_NO_RUN UINT64_MAX

/*
 * One code address: the last runs that started there (see above). A hit
 * reads the first 32 bytes only. A slot used in a chunk is on that chunk's
 * list, and when the chunk ends its most recent run becomes REC_NO_RUN: a
 * hit needs no check of the chunk.
 */
struct RecSlot {
    uint32_t gen;           /* the chunk the runs are valid in... */
    uint32_t n;             /* ...and how many are */
    RecRun ways[REC_WAYS];  /* most recent first */
    uint32_t id_gen;        /* the chunk `id` is valid in */
    uint32_t id;            /* this address's number in that chunk */
    uint64_t pc;            /* the address (the key in recording.slots) */
    RecSlot *used_next;     /* the chunk's list of slots used in it */
};

typedef struct {
    uint8_t *data;
    size_t len;
} RecBuf;

/* The recording: vCPU thread only (slots: created under tb_table.lock). */
static struct {
    int fd;
    GHashTable *slots;      /* pc -> RecSlot */
    RecSlot start;          /* the run before the first jump (pc 0) */
    /* The chunk being written. */
    uint32_t gen;           /* its index + 1 (0: none yet) */
    uint64_t chunk_end;     /* the first position past it */
    uint32_t next_id;       /* the next new target's number */
    uint64_t jumps;         /* jumps in it up to the last miss */
    uint64_t hits;          /* predicted jumps since then */
    uint64_t last_new;      /* the last new target's address */
    RecSlot *used;          /* slots used in it (RecSlot.used_next) */
    uint64_t det_pos;       /* position of the last detail record */
    /* The run in progress: since the last jump (it started at run->pc). */
    RecSlot *run;
    uint64_t last_pos;
    /* Register snapshots: positions from which the next ones are due, the
     * sooner of them (UINT64_MAX: none are taken). */
    uint64_t ckpt_regs;
    uint64_t detail_regs;
    uint64_t regs_due;
    /* One test a jump: the sooner of chunk_end and regs_due as jump_due()
     * last left them. regs_due changes only there and chunk_end only
     * grows, so it is never later than either. */
    uint64_t due;
    RecBuf jumps_buf;
    RecBuf detail_buf;
} recording;

/*
 * v as a varint at o; returns the byte after it. (Through a local pointer:
 * a byte store may alias anything, so b->len would be read again after
 * every byte.)
 */
static inline uint8_t *varint(uint8_t *o, uint64_t v)
{
    while (v >= 0x80) {
        *o++ = (uint8_t)v | 0x80;
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

static inline void put_varint(RecBuf *b, uint64_t v)
{
    b->len = varint(b->data + b->len, v) - b->data;
}

static inline void put_u64(RecBuf *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        b->data[b->len++] = (uint8_t)(v >> (8 * i));
    }
}

/* A signed difference as an unsigned varint: 0, -1, 1, -2... */
static inline uint64_t zigzag(uint64_t diff)
{
    int64_t v = (int64_t)diff;

    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* One frame: kind, three zero bytes, u32 length, `head` then `body`. */
static void frame(uint8_t kind, const void *head, size_t head_len,
                  const void *body, size_t body_len)
{
    uint8_t h[8] = { kind };
    uint32_t len = head_len + body_len;
    struct iovec iov[3] = {
        { h, sizeof(h) },
        { (void *)head, head_len },
        { (void *)body, body_len },
    };
    int n = 3;
    struct iovec *v = iov;

    for (int i = 0; i < 4; i++) {
        h[4 + i] = (uint8_t)(len >> (8 * i));
    }
    if (recording.fd < 0) {
        return;     /* a forked child records nothing (record_forget()) */
    }
    while (n > 0) {
        ssize_t w = writev(recording.fd, v, n);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            /* The harness is gone: never run on unsupervised. */
            _exit(EXIT_ORCHESTRATOR_LOST);
        }
        while (n > 0 && (size_t)w >= v->iov_len) {
            w -= v->iov_len;
            v++;
            n--;
        }
        if (n > 0) {
            v->iov_base = (uint8_t *)v->iov_base + w;
            v->iov_len -= w;
        }
    }
}

/* Write the chunk's jumps so far (with their count, pending hits too). */
static void flush_jumps(void)
{
    uint8_t count[8];

    le64(count, recording.jumps + recording.hits);
    frame(LS_REC_JUMPS, count, sizeof(count), recording.jumps_buf.data,
          recording.jumps_buf.len);
    recording.jumps_buf.len = 0;
}

static void flush_detail(void)
{
    if (recording.detail_buf.len) {
        frame(LS_REC_DETAIL, NULL, 0, recording.detail_buf.data,
              recording.detail_buf.len);
        recording.detail_buf.len = 0;
    }
}

void record_flush(void)
{
    if (recording.gen) {
        flush_jumps();
        flush_detail();
    }
}

/*
 * Position pos is past the chunk: write the chunk out and begin the one
 * holding pos. Slots of earlier chunks are no longer valid (their gen
 * differs); the run in progress starts the new chunk as its target 0.
 */
static void __attribute__((noinline, cold)) chunk_begin(uint64_t pos)
{
    uint64_t index = pos / options.chunk;
    uint8_t head[24];

    record_flush();
    for (RecSlot *s = recording.used; s; s = s->used_next) {
        s->ways[0].d = REC_NO_RUN;
    }
    recording.used = NULL;
    recording.gen = index + 1;
    recording.chunk_end = (index + 1) * options.chunk;
    recording.next_id = 1;
    recording.jumps = recording.hits = 0;
    recording.last_new = 0;
    recording.det_pos = index * options.chunk;
    recording.run->id_gen = recording.gen;
    recording.run->id = 0;
    le64(head, index);
    le64(head + 8, recording.last_pos);
    le64(head + 16, recording.run->pc);
    frame(LS_REC_CHUNK, head, sizeof(head), NULL, 0);
}

/*
 * A jump to tb at pos the run's slot did not predict first: "hits * 4 + k"
 * where k is the way that did (1 to 3), or 0 and the run in full. The run
 * becomes the slot's most recent, and tb's run begins.
 */
static void __attribute__((noinline))
jump_miss(RecSlot *s, uint64_t d, uint64_t src, const TbInfo *tb, uint64_t pos)
{
    RecBuf *b = &recording.jumps_buf;
    RecSlot *t = tb->slot;
    RecRun run = { d, src, tb->pc };
    uint64_t hits = recording.hits * REC_WAYS;
    uint8_t *o = b->data + b->len;
    uint32_t k;

    if (s->gen != recording.gen) {
        s->gen = recording.gen;
        s->n = 0;
        s->used_next = recording.used;
        recording.used = s;
    }
    for (k = 1; k < s->n; k++) {
        if (s->ways[k].d == d && s->ways[k].src == src &&
            s->ways[k].target == tb->pc) {
            break;
        }
    }
    if (k < s->n) {
        o = varint(o, hits + k);
    } else {
        o = varint(o, hits);
        o = varint(o, d);
        o = varint(o, zigzag(src - s->pc));
        if (t->id_gen == recording.gen) {
            o = varint(o, t->id + 1);
        } else {
            o = varint(o, 0);
            o = varint(o, zigzag(tb->pc - recording.last_new));
            recording.last_new = tb->pc;
            t->id_gen = recording.gen;
            t->id = recording.next_id++;
        }
        k = MIN(s->n, REC_WAYS - 1);
        s->n = MIN(s->n + 1, REC_WAYS);
    }
    /* At most three runs move down: a loop, not a call to memmove(). */
    for (; k > 0; k--) {
        s->ways[k] = s->ways[k - 1];
    }
    s->ways[0] = run;
    recording.jumps += recording.hits + 1;
    recording.hits = 0;
    recording.last_pos = pos;
    recording.run = t;
    b->len = o - b->data;
    if (b->len > REC_FLUSH_AT) {
        flush_jumps();
    }
}

/* A detail record's kind and position (the rest is the caller's). */
static RecBuf *detail_head(uint8_t kind, uint64_t pos)
{
    RecBuf *b = &recording.detail_buf;

    if (pos >= recording.chunk_end) {
        chunk_begin(pos);
    }
    if (b->len > REC_FLUSH_AT) {
        flush_detail();
    }
    b->data[b->len++] = kind;
    put_varint(b, pos - recording.det_pos);
    recording.det_pos = pos;
    return b;
}

/*
 * A register snapshot at a jump target: the checkpoint's (an event, as
 * fast.c takes it) and the trace's own every `detail` instructions.
 */
static void __attribute__((noinline)) snapshot(uint64_t pos, const TbInfo *tb)
{
    uint64_t h = regs_hash();

    if (pos >= recording.ckpt_regs) {
        add_event(pos, LS_EV_REGS, tb->pc, 0, h);
        recording.ckpt_regs = (pos / options.interval + 1) * options.interval;
    }
    if (options.detail && pos >= recording.detail_regs) {
        put_u64(detail_head(LS_DETAIL_REGS, pos), h);
        recording.detail_regs = (pos / options.detail + 1) * options.detail;
    }
    recording.regs_due = MIN(recording.ckpt_regs, recording.detail_regs);
}

/* Where falling through from the last retired instruction of p leads. */
static uint64_t fall_through(const TbInfo *p)
{
    for (uint32_t i = 0; i < p->n; i++) {
        if (p->insns[i].vaddr == stream.last_pc) {
            return stream.last_pc + p->insns[i].size;
        }
    }
    return UINT64_MAX;
}

/*
 * Whether tb, starting after p retired, was reached by a jump: not when it
 * follows the last retired instruction in memory, nor when it re-enters an
 * x86 rep string instruction (counted once, see retire()).
 */
static inline bool is_jump(const TbInfo *tb, const TbInfo *p)
{
    if (G_UNLIKELY(tb->pc == stream.last_pc)) {
        return !tb->rep_first;
    }
    if (G_LIKELY(stream.last_pc == p->last)) {
        return tb->pc != p->end;
    }
    return tb->pc != fall_through(p);
}

/*
 * The first jump at or after recording.regs_due: the snapshots due there,
 * or none at all (regs_snapshots()). (recording.regs_due starts at 0: the
 * registers are picked at vCPU init, after install.)
 */
static void __attribute__((noinline, cold)) regs_due(uint64_t pos,
                                                     const TbInfo *tb)
{
    if (regs_snapshots()) {
        snapshot(pos, tb);
    } else {
        recording.regs_due = UINT64_MAX;
    }
}

/*
 * The jump to tb at pos, after stream.last_pc, into the record stream. (Every
 * call here is the last thing its caller does: the hot path saves no
 * registers.)
 */
static inline void record_jump(uint64_t pos, const TbInfo *tb)
{
    RecSlot *s = recording.run;
    uint64_t d = pos - recording.last_pos;

    if (G_LIKELY(s->ways[0].d == d && s->ways[0].src == stream.last_pc &&
                 s->ways[0].target == tb->pc)) {
        recording.hits++;
        recording.last_pos = pos;
        recording.run = tb->slot;
    } else {
        jump_miss(s, d, stream.last_pc, tb, pos);
    }
}

/* A jump at or after recording.due: a new chunk first, snapshots after. */
static void __attribute__((noinline, cold)) jump_due(uint64_t pos,
                                                     const TbInfo *tb)
{
    if (pos >= recording.chunk_end) {
        chunk_begin(pos);
    }
    record_jump(pos, tb);
    if (pos >= recording.regs_due) {
        regs_due(pos, tb);
    }
    recording.due = MIN(recording.chunk_end, recording.regs_due);
}

/* The jump to tb at pos into the record stream, what is due there too. */
static inline void record_at(uint64_t pos, const TbInfo *tb)
{
    if (G_UNLIKELY(pos >= recording.due)) {
        jump_due(pos, tb);
    } else {
        record_jump(pos, tb);
    }
}

/* Anything but the common case, exec_block_fast() whole. */
static void __attribute__((noinline)) exec_record_slow(const TbInfo *tb)
{
    const TbInfo *p = stream.pending;

    /* The limit (a mark) parks this vCPU inside exec_block_fast(): write
     * out first. */
    if (p && stream.icount + p->n >= comparison.limit) {
        record_flush();
    }
    exec_block_fast(tb);
    if (!p || is_jump(tb, p)) {
        record_at(stream.icount, tb);
    }
}

/*
 * exec_record_slow() with several vCPUs or guest threads. With threads
 * (threads.c) the block before is retired by the thread that ran it, then
 * this one may wait for its turn while others run. A block another thread
 * or vCPU reached is a jump of the one stream, at the same position
 * wherever the same order is followed; a vCPU's turn is a term of the
 * hash where the fast pass makes it one (vcpus_hashed_cheap()).
 */
static void __attribute__((noinline))
exec_record_many(unsigned int vcpu_index, const TbInfo *tb)
{
    const TbInfo *p = stream.pending;
    uint64_t before;

    if (!threads_counted()) {
        return;     /* a thread not yet numbered, or all run free */
    }
    vcpus_fold();
    if (p && stream.icount + p->n >= comparison.limit) {
        record_flush();
    }
    retire_before(tb);
    stream.pending = NULL;
    before = stream.icount;
    if (threads.many) {
        if (!threads_block(tb, stream.icount)) {
            return;
        }
        vcpus_fold();
        if (stream.pending) {
            /* The last block of the thread that ran meanwhile. */
            if (stream.icount + stream.pending->n >= comparison.limit) {
                record_flush();
            }
            retire_before(tb);
        }
    }
    if (vcpus_hashed_cheap() && vcpus_turn(vcpu_index, tb)) {
        stream.hash = stream.hash * stream_mul() + vcpu_term(vcpus.turn);
    }
    make_pending(tb);
    if (stream.icount != before || !p || is_jump(tb, p)) {
        record_at(stream.icount, tb);
    }
}

/*
 * The hot path: exec.c's callback, then, when tb was reached by a jump,
 * the jump into the record stream. The common case, the pending block ran
 * whole and reaches no mark (exec_block_fast()'s first branch, from the same
 * helpers), is taken here without its checks for the limit: on some guests
 * nearly every block is a jump target, so this is as hot as the stream.
 * Anything else is a call at the end (a tail call): the common case saves
 * no register and touches no stack.
 */
void vcpu_tb_exec_record(unsigned int vcpu_index, void *udata)
{
    const TbInfo *tb = udata;
    const TbInfo *p = stream.pending;

    if (G_UNLIKELY(vcpus.n > 1)) {
        exec_record_many(vcpu_index, tb);
        return;
    }
    if (G_UNLIKELY(!ran_whole(p) || stream.icount + p->n >= stream.next_mark)) {
        exec_record_slow(tb);
        return;
    }
    retire_whole(p);
    make_pending(tb);
    /* is_jump() with p retired whole. */
    if (tb->pc == p->end || (tb->pc == p->last && tb->rep_first)) {
        return;
    }
    record_at(stream.icount, tb);
}

/*
 * An event (add_event()): a system call (its number, the fold of its
 * arguments), its result, or 8 bytes of what it wrote (the number, their
 * offset, the bytes), as the event hash has it.
 */
void record_event(uint64_t pos, LsEventKind kind, uint64_t a, uint32_t size,
                  uint64_t v)
{
    RecBuf *b;

    switch (kind) {
    case LS_EV_SYSCALL:
    case LS_EV_SYSRET:
    case LS_EV_SYSOUT:
        b = detail_head(kind, pos);
        put_varint(b, a);
        if (kind == LS_EV_SYSOUT) {
            put_varint(b, size);
        }
        put_u64(b, v);
        return;
    default:
        return;     /* memory accesses: not in the fast pass */
    }
}

/* The slot of address pc, made on first use; with tb_table.lock held. */
RecSlot *record_slot(uint64_t pc)
{
    RecSlot *s = g_hash_table_lookup(recording.slots, &pc);

    if (!s) {
        /* On a cache line of its own: a hit reads one. */
        if (posix_memalign((void **)&s, 64, sizeof(*s))) {
            g_error("lockstep: out of memory");
        }
        memset(s, 0, sizeof(*s));
        s->ways[0].d = REC_NO_RUN;
        s->pc = pc;
        g_hash_table_insert(recording.slots, &s->pc, s);
    }
    return s;
}

/* A forked child: the record stream is its parent's (see process.c). */
void record_forget(void)
{
    if (options.record && recording.fd >= 0) {
        close(recording.fd);
        recording.fd = -1;
    }
}

/* Connect to the harness's record socket; false (said why) if not. */
bool record_install(void)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };

    if (strlen(options.record) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "lockstep: socket path too long: %s\n", options.record);
        return false;
    }
    strcpy(addr.sun_path, options.record);
    recording.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (recording.fd < 0 ||
        connect(recording.fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr, "lockstep: cannot connect to %s: %s\n", options.record,
                strerror(errno));
        return false;
    }
    recording.slots = g_hash_table_new(g_int64_hash, g_int64_equal);
    recording.start.ways[0].d = REC_NO_RUN;
    recording.run = &recording.start;
    recording.ckpt_regs = options.interval;
    recording.detail_regs = options.detail ? 0 : UINT64_MAX;
    recording.jumps_buf.data = g_malloc(REC_BUF_SIZE);
    recording.detail_buf.data = g_malloc(REC_BUF_SIZE);
    return true;
}

/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * lockstep.h - what the units of the lockstep plugin share: constants,
 * types, the state structs, small inline helpers and each unit's entry
 * points. Every unit includes it first (it sets _GNU_SOURCE).
 *
 * Two QEMUs (sides "a" and "b") load the plugin. Each folds the address of
 * every executed instruction into a running polynomial hash, which is
 * split-insensitive: a block cut in two on one side gives the same hash as
 * the whole block on the other.
 *
 * A TB exec callback runs before the block, so it only claims the block. A
 * block is retired when the next one starts: in full if the inline counter
 * on its last instruction was bumped; if not, it was cut short, and when
 * the next block starts inside it (an instruction restarted after a
 * code-page write, or an icount I/O re-execution) only the instructions
 * before that point count. At every `interval` instructions (an exact
 * instruction count, computed inside the block that crosses it) a side
 * sends its hash to the peer over a Unix socket; a side more than `window`
 * instructions ahead of the peer waits. The exec callback only updates the
 * hash and a fixed ring of recent blocks: no lock, no allocation, no
 * syscall.
 *
 * When checkpoints disagree, or one stream ends while the other goes on,
 * both sides dump the blocks from the last agreeing checkpoint to the first
 * disagreeing one to the orchestrator (the "ctl" socket, JSON lines), which
 * finds the first differing instruction. The plugin never decides a verdict.
 *
 * With mem=on and sys=on, every memory access (address, size, direction,
 * and the value from API 4 on) and every system call (number, arguments,
 * result, and from API 4 what environment-reading calls wrote: env.c) is an
 * "event" of the instruction that made it. Events
 * fold into a second running hash, in execution order, so they are
 * split-insensitive too; each checkpoint combines both hashes.
 *
 * With regs=on (API 2 on), the registers the orchestrator picked are read
 * at the start of a block that control flow reached by a jump (not by
 * falling through): every QEMU ends a block at a taken jump, so these
 * points are the same however the code is split. Reading costs ~15 ns a
 * register, so only the first such block at or after every multiple of
 * regsevery instructions is read (also a split-insensitive choice). A hash
 * of the values is an event of the block's first instruction.
 *
 * narrow=FROM:TO runs one side alone (no peer) and reports the picked
 * registers before every instruction from FROM to TO, then parks: the
 * orchestrator re-runs both sides so to name the first instruction after
 * which their state differs.
 *
 * record=PATH (with fast=on) records a golden trace: the fast pass's
 * checkpoints go to the peer (the harness, which echoes them), and every
 * jump, system call and a register snapshot every `detail` instructions go,
 * encoded, to the record stream (record.c).
 *
 * The units: exec.c (the hot path), events.c (memory and system call
 * events), regs.c (registers and narrowing), sync.c (checkpoints, the
 * peer's news, stopping and resuming), peer.c (sockets and the reader
 * thread), report.c (everything written to the orchestrator), args.c (the
 * arguments, listed there), env.c (the guest's environment in linux-user),
 * record.c (the record stream) and lockstep.c (install, translation, exit).
 */
#ifndef LOCKSTEP_H
#define LOCKSTEP_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <glib.h>

#include "compat.h"
#include "protocol.h"

/*
 * The plugin's own symbols are hidden (the build also says
 * -fvisibility=hidden): declaring it here lets the compiler address the
 * shared state directly, as it did when the plugin was one file, instead
 * of through the GOT.
 */
#pragma GCC visibility push(hidden)

/*
 * Defaults, measured with `deno task bench`: fewer, larger steps cost less
 * than the dump they make larger (see README "Performance").
 */
#define DEFAULT_INTERVAL (1u << 17)     /* instructions between checkpoints */
#define DEFAULT_WINDOW (1u << 20)       /* how far a side may run ahead */
#define DEFAULT_HISTORY 8               /* blocks dumped before the good one */
#define DEFAULT_REGS_EVERY 1            /* see regsevery= */
#define DEFAULT_CHUNK (1u << 24)        /* record=: see chunk= */

/* Checkpoints not yet compared; bounded by window / interval (args.c). */
#define CKPT_RING 4096
/* Blocks dumped after the first disagreeing checkpoint, for context. */
#define DUMP_EXTRA 4
/*
 * A margin on the block ring's reach as stream_alloc() adds it up, in whole
 * blocks and exact marks: a block that overshoots a mark, or retires in
 * part, takes an entry the sum does not count.
 */
#define RING_SLACK 64
/*
 * The most instructions the block ring may have to cover (window, two
 * intervals, reconverge and history; see stream_alloc()): 8 GB of ring,
 * above the harness's own limits (harness/defaults.ts LIMITS).
 */
#define RING_COVER_MAX (1ull << 30)
/*
 * Events one instruction may have; further ones fold into its last. An x86
 * rep string instruction counts once (see retire()) but makes an access per
 * iteration: without a bound, one `rep stosb` could flush the event ring.
 */
#define EV_PER_INSN 64
/*
 * The fast pass's event ring: it only needs the events since the last
 * mark's block (events_before() at a checkpoint), never a dump.
 */
#define FAST_EVENTS 4096
/* The longest instruction of any target (x86: 15 bytes). */
#define INSN_MAX_BYTES 15

/* The running hash: h = h * HASH_MUL + mix(x) for each item x. */
#define HASH_MUL 0x9e3779b97f4a7c15ull
/* Combines the event hash into a checkpoint's (see combine()). */
#define EV_MUL 0xc2b2ae3d27d4eb4full

/*
 * Progress reports, at most one a quarter second: often enough for a live
 * display, and checked only at checkpoints, so nearly free.
 */
#define PROGRESS_PERIOD_NS 250000000ll
#define NSEC_PER_SEC 1000000000ll

/*
 * Side b connects to side a's socket, which may not exist yet (QEMU is
 * still starting, loading firmware): retry every 10 ms for 30 s. Side a
 * waits as long for side b.
 */
#define CONNECT_TRIES 3000
#define CONNECT_RETRY_US 10000
#define ACCEPT_TIMEOUT_MS 30000

/*
 * One command line from the orchestrator: "regs" lists up to a few hundred
 * register indices, far below this.
 */
#define CMD_LINE_MAX (1 << 14)
/* The control stream's buffer: a dump is many short lines. */
#define CTL_BUFFER_SIZE (1 << 16)

/*
 * How the plugin ends its QEMU itself: at "quit" (but while QEMU exits,
 * "quit" lets it exit with its own status), and when the orchestrator is
 * gone (never run on unsupervised). A command it cannot use is reported
 * as an error and ignored.
 */
#define EXIT_QUIT 0
#define EXIT_ORCHESTRATOR_LOST 3

/* One translated instruction, as the dump reports it. */
typedef struct {
    uint64_t vaddr;
    uint8_t size;
    uint8_t bytes[INSN_MAX_BYTES];
} Insn;

typedef struct NarrowInsn NarrowInsn;
typedef struct RecSlot RecSlot;

/*
 * One translated block; shared by identical re-translations. What the
 * exec callbacks read of it comes first, in 64 bytes.
 */
typedef struct {
    uint64_t pc;
    uint64_t hash;      /* fold of its instruction addresses */
    uint64_t pow;       /* HASH_MUL ** n, to append it to a running hash */
    uint64_t last;      /* address of its last instruction */
    uint64_t end;       /* the address after it */
    uint64_t key;       /* its ring entry when it runs whole */
    RecSlot *slot;      /* record=: its address's slot (record.c) */
    uint32_t n;
    uint32_t id;        /* index in tbs.by_id, for the ring */
    bool rep_first;     /* x86: it starts with a rep string instruction... */
    bool rep_last;      /* ...it ends with one (see x86_rep_string()) */
    uint64_t sum;       /* fast pass: the sum of mix() of its addresses */
    NarrowInsn *steps;  /* narrow=: one per instruction, made once */
    Insn insns[];
} TbInfo;

/* An instruction instrumented for narrow=. */
struct NarrowInsn {
    const TbInfo *tb;
    uint32_t i;
    char *disas;
};

/* Messages between the two plugins: fixed size, host byte order. */
enum { MSG_CKPT = 1, MSG_END, MSG_LIMIT, MSG_STOP };
typedef struct {
    uint32_t type;
    uint32_t epoch;     /* comparisons restarted so far (see rebase()) */
    uint64_t a;         /* CKPT: count; END/LIMIT: position; STOP: good */
    uint64_t b;         /* CKPT/END/LIMIT: hash; STOP: bad */
} PeerMsg;

/* An event: a memory access or system call of the instruction at `pos`. */
typedef struct {
    uint64_t pos;       /* stream index of the instruction */
    uint64_t a;         /* address, or syscall number */
    uint64_t v;         /* value (API >= 4), fold of arguments, or errno */
    uint64_t after;     /* the event hash after this event */
    uint32_t kind;      /* an LsEventKind */
    uint32_t size;      /* bytes accessed */
} Event;

/* Positions FROM:TO, inclusive, and whether the argument was given. */
typedef struct {
    bool on;
    uint64_t from;
    uint64_t to;
} Range;

/* The arguments (args.c): fixed once installed. */
typedef struct {
    char role;
    bool listen;
    const char *peer_path;
    const char *ctl_path;
    uint64_t maxinsns;      /* 0: none; see cmp.limit */
    uint64_t interval;
    uint64_t window;
    uint64_t history;
    uint64_t reconverge;    /* instructions run on after a disagreement */
    bool mem;
    bool memvalues;         /* fold values too: both sides have API >= 4 */
    bool sys;
    bool regs;
    uint64_t regs_every;    /* instructions between register snapshots */
    Range narrow;           /* run alone and report every step of it */
    bool fast;              /* the fast pass: no dumps, see fast.c */
    bool fastcount;         /* count as the fast pass does (fast=on sets it) */
    const char *record;     /* record=: the record stream's socket */
    uint64_t chunk;         /* record=: instructions a chunk covers */
    uint64_t detail;        /* record=: instructions between snapshots */
    int x86;                /* x86 guest: 2 x86-64, 1 i386, 0 other */
    bool addrs;             /* off: the sides place the guest differently */
} Options;
extern Options cfg;

/*
 * This side's executed stream (exec.c): touched by the vCPU thread only
 * (and by atexit once the vCPU has stopped). The hot path's fields, first
 * and together (88 bytes, two cache lines).
 */
typedef struct {
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
} Stream;
extern Stream own;

/*
 * The comparison with the peer (sync.c): vCPU thread (and atexit) only,
 * touched every `interval` instructions. Positions are counted from 0 ("physical"); the
 * comparison counts from origin ("logical"), which moves past each
 * transient excursion.
 */
typedef struct {
    uint64_t next_ckpt;
    uint64_t ckpt_count;
    uint64_t compared;      /* checkpoints compared with the peer's */
    uint64_t last_good;     /* position where both hashes last agreed */
    uint64_t origin;
    uint64_t limit;         /* physical position to stop at, or UINT64_MAX */
    uint64_t limit_hash;    /* see rebase() */
    uint32_t epoch;
    bool stopping;          /* streams apart: running on to stop_at */
    bool exiting;           /* in plugin_exit() */
    bool dumped;
    uint64_t stop_good, stop_bad, stop_at;
    struct timespec last_progress;
    uint64_t ckpt_hash[CKPT_RING];
} Comparison;
extern Comparison cmp;

/* What the reader thread learnt of the peer (peer.c); guarded by lock. */
typedef struct {
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
} PeerNews;
extern PeerNews peer;

/*
 * The orchestrator's commands (peer.c); guarded by peer.lock. A command
 * is taken only while the vCPU waits for it (want_*); anything else is
 * reported as an error and ignored.
 */
typedef struct {
    bool want_regs;         /* regs_handshake() waits for... */
    char *regs_choice;      /* ..."regs I J K..." */
    bool want_resync;       /* a stop waits for... */
    bool resync;            /* ..."resync EPOCH ORIGIN LIMIT REGS_NEXT" */
    uint32_t epoch;
    uint64_t origin;
    uint64_t limit;
    uint64_t regs_next;
    bool exiting;           /* in plugin_exit(), on exit_thread: then... */
    pthread_t exit_thread;
    bool quit;              /* ..."quit" makes its waits return */
} Commands;
extern Commands cmd;

/* Events of this side, in order (events.c): vCPU thread only. */
typedef struct {
    Event *ring;            /* the last mask + 1 events, for the dump */
    uint64_t mask;
    uint64_t count;
    uint64_t hash;          /* fold of every event so far */
    uint64_t last_pos;      /* position of the last event... */
    uint32_t at_pos;        /* ...and how many events it has */
} EventLog;
extern EventLog ev;

/*
 * The registers picked (regs.c). The vCPU lists its registers to the
 * orchestrator, which answers with the ones both sides have, less the
 * masked ones, in one order (see regs_handshake()).
 */
typedef struct {
    struct qemu_plugin_register **sel;
    guint n;
    GByteArray *buf;
    GByteArray **prev;      /* narrow: the values last reported... */
    bool *changed;          /* ...and which changed at this step */
    uint64_t next;          /* logical position the next snapshot may be at */
} Registers;
extern Registers regs;

/* Register snapshots are taken: regs=on, and some registers were agreed on
 * (sparc32 describes none: then neither the fast pass nor a recording takes
 * any, so that a QEMU that cannot read registers compares with a trace). */
static inline bool regs_snapshots(void)
{
    return cfg.regs && regs.n;
}

/* narrow=: the steps reported so far, and whether this block needs them. */
typedef struct {
    uint64_t next;          /* the next position to report */
    uint64_t *on;           /* 1 while the running block overlaps the range */
    CompatCounter on_counter;
} Narrowing;
extern Narrowing narrow;

/*
 * The fast pass's inline flavour (fast.c, API 3 on): vCPU 0's scoreboard
 * entry, which the translated code itself updates at every block.
 */
typedef struct {
    uint64_t countdown;     /* instructions to fast.c's target, once the
                             * running block is counted whole, and the
                             * blocks started (fast.c: BLOCK_BITS) */
    uint64_t sum;           /* sum of mix(address) of those instructions */
    uint64_t open;          /* the running block's TbInfo until its last
                             * instruction starts, then 0 */
    uint64_t fall;          /* regs: where falling through from the last
                             * block leads (kept by the callbacks: fast.c) */
    uint64_t armed;         /* regs: 1 while a snapshot is due */
} FastVcpu;

/* Every distinct TbInfo (lockstep.c); grows at translation time only. */
typedef struct {
    pthread_mutex_t lock;
    GHashTable *set;        /* TbInfo -> TbInfo, for sharing */
    GPtrArray *by_id;
} TbTable;
extern TbTable tbs;

/* MurmurHash3's 64-bit finaliser: spreads every input bit over the word. */
static inline uint64_t mix(uint64_t v)
{
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdull;
    v ^= v >> 33;
    v *= 0xc4ceb9fe1a85ec53ull;
    v ^= v >> 33;
    return v;
}

/*
 * The instruction stream's hash multiplies by HASH_MUL per instruction (a
 * polynomial: order matters); the fast pass's only adds (its inline
 * flavour can only add constants), and its callback flavour must compute
 * the same numbers to compare with it.
 */
static inline uint64_t stream_mul(void)
{
    return cfg.fast ? 1 : HASH_MUL;
}

/* The hash a checkpoint, end or limit carries: instructions and events. */
static inline uint64_t combine(uint64_t pc_hash, uint64_t ev_hash)
{
    return pc_hash ^ ev_hash * EV_MUL;
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

/*
 * A block ring entry, one 64-bit word: the block's TbInfo id (bits 0-31),
 * which of its instructions retired, [first, end) (end in bits 32-41, so a
 * block has at most 1023 instructions: QEMU stops at 512; first in bit 42),
 * and how many times in a row it ran so (bits 43-63). A block that runs
 * again right after itself (a tight loop) only bumps the count of the
 * entry already in cache, instead of writing a new one.
 */
#define RING_MAKE_KEY(id, first, end) \
    ((uint64_t)(id) | (uint64_t)(end) << 32 | (uint64_t)(first) << 42)
#define RING_ID(v) ((uint32_t)(v))
#define RING_END(v) ((uint32_t)((v) >> 32) & 0x3ff)
#define RING_FIRST(v) ((uint32_t)((v) >> 42) & 1)
#define RING_COUNT(v) (RING_END(v) - RING_FIRST(v))
#define RING_REP(v) ((v) >> 43)
#define RING_REP_ONE (1ull << 43)
#define RING_REP_MAX ((1ull << 21) - 1)
#define RING_KEY(v) ((v) & (RING_REP_ONE - 1))

/* Ring entry j (an index counted since the start, not wrapped). */
static inline uint64_t ring_at(uint64_t j)
{
    return own.ring[j & own.ring_mask];
}

/* The oldest entry still in the ring. */
static inline uint64_t ring_first_kept(void)
{
    uint64_t size = own.ring_mask + 1;

    return own.entries > size ? own.entries - size : 0;
}

/* Retire a block as ring entry `key`: a repeat of the last one bumps it. */
static inline void ring_append(uint64_t key)
{
    uint64_t *last = &own.ring[(own.entries - 1) & own.ring_mask];

    if (RING_KEY(*last) == key && RING_REP(*last) < RING_REP_MAX) {
        *last += RING_REP_ONE;
    } else {
        own.ring[own.entries++ & own.ring_mask] = key | RING_REP_ONE;
    }
}

/*
 * Walk back from the newest entry to the one holding physical position
 * `pos`: returns its index and, in *start, the position of its first
 * instruction. If the ring no longer reaches back that far, that is the
 * oldest entry kept, and *start > pos.
 */
static inline uint64_t ring_seek(uint64_t pos, uint64_t *start)
{
    uint64_t first_kept = ring_first_kept();
    uint64_t j = own.entries;

    *start = own.icount;
    while (j > first_kept && *start > pos) {
        uint64_t v = ring_at(--j);
        *start -= RING_REP(v) * RING_COUNT(v);
    }
    return j;
}

/* The TbInfo of a ring entry. */
static inline const TbInfo *ring_tb(uint64_t v)
{
    return g_ptr_array_index(tbs.by_id, RING_ID(v));
}

/* Event j (counted since the start, not wrapped). */
static inline Event *ev_at(uint64_t j)
{
    return &ev.ring[j & ev.mask];
}

/* The oldest event still in the ring. */
static inline uint64_t ev_first_kept(void)
{
    return ev.count > ev.mask + 1 ? ev.count - ev.mask - 1 : 0;
}

/*
 * The stream index of the pending block's first instruction: where the
 * retired stream ends, less one when that instruction repeats the last
 * retired one (see retire()). Valid while the pending block runs.
 */
static inline uint64_t pending_base(void)
{
    return own.icount - (own.pending->pc == own.last_pc &&
                         (!cfg.fastcount || own.pending->rep_first));
}

/*
 * An x86 rep string instruction (movs, stos, cmps, scas, lods, ins, outs
 * with a rep prefix): QEMU re-enters it once per iteration, as often as its
 * translation mode decides, so the fast pass counts its consecutive
 * entries once (the detail pass counts any instruction run again right
 * after itself once).
 */
static inline bool x86_rep_string(const Insn *in, bool is64)
{
    bool rep = false;

    for (uint8_t k = 0; k < in->size && k < INSN_MAX_BYTES; k++) {
        uint8_t b = in->bytes[k];

        if (b == 0xf2 || b == 0xf3) {
            rep = true;
        } else if (b == 0x66 || b == 0x67 || b == 0xf0 || b == 0x26 ||
                   b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 ||
                   b == 0x65 || (is64 && (b & 0xf0) == 0x40)) {
            continue;   /* another prefix */
        } else {
            return rep && ((b >= 0xa4 && b <= 0xa7) || (b >= 0xaa && b <= 0xaf) ||
                           (b >= 0x6c && b <= 0x6f));
        }
    }
    return false;
}

/* exec.c: retire the pending block when it did not simply run whole. */
void retire(uint64_t next_pc);
/* sync.c: the stream reached own.next_mark (cold). */
void at_mark(const TbInfo *tb, uint32_t first, uint64_t start, uint64_t h0)
    __attribute__((cold));

/* The common case: p, the pending block, ran whole and did not start by
 * repeating the last instruction. */
static inline bool ran_whole(const TbInfo *p)
{
    return p && *own.last_insns == own.expect && p->pc != own.last_pc;
}

/* Retire p, which ran whole, into the stream (a mark it reaches is the
 * caller's). */
static inline void retire_whole(const TbInfo *p)
{
    own.blocks++;
    own.icount += p->n;
    own.hash += p->hash;
    own.last_pc = p->last;
}

/* tb is the block about to run. */
static inline void make_pending(const TbInfo *tb)
{
    own.pending = tb;
    /* One-instruction blocks have no inline bump: they count as whole. */
    own.expect = *own.last_insns + (tb->n > 1);
}

/*
 * The fast pass's callback flavour, inline in exec.c's callback and
 * record.c's: retire the pending block into the stream (its sum; no block
 * ring, which the fast pass never dumps), then make tb pending. The common
 * case, the pending block ran whole and did not start by repeating the
 * last instruction, takes a few instructions; anything else is retire()'s.
 */
static inline void exec_block_fast(const TbInfo *tb)
{
    const TbInfo *p = own.pending;

    if (G_LIKELY(ran_whole(p))) {
        uint64_t start = own.icount;
        uint64_t h0 = own.hash;

        retire_whole(p);
        if (G_UNLIKELY(own.icount >= own.next_mark)) {
            at_mark(p, 0, start, h0);
        }
    } else if (p) {
        retire(tb->pc);
    }
    make_pending(tb);
}

/* fast.c: the fast pass's inline flavour. */
bool fast_inline(void);
void fast_install(void);
void fast_vcpu_init(void);
void fast_tb_trans(struct qemu_plugin_tb *qtb, const TbInfo *tb);
uint64_t fast_syscall_pos(void);
uint64_t fast_exit(void);

/* record.c: the record flavour of the fast pass (record=). */
bool record_install(void);
RecSlot *record_slot(uint64_t pc);
void vcpu_tb_exec_record(unsigned int vcpu_index, void *udata);
void record_event(uint64_t pos, LsEventKind kind, uint64_t a, uint32_t size,
                  uint64_t v);
void record_flush(void);

/* exec.c: the hot path. */
void vcpu_tb_exec(unsigned int vcpu_index, void *udata);
void vcpu_tb_exec_fast(unsigned int vcpu_index, void *udata);
void vcpu_tb_exec_regs(unsigned int vcpu_index, void *udata);
void vcpu_tb_exec_narrow(unsigned int vcpu_index, void *udata);
uint64_t prefix_hash(uint64_t h, const TbInfo *tb, uint32_t first,
                     uint64_t k);
uint64_t retire_last(void);
void stream_alloc(void);

/* events.c */
void events_alloc(void);
void add_event(uint64_t pos, LsEventKind kind, uint64_t a, uint32_t size,
               uint64_t v);
uint64_t events_before(uint64_t pos);
bool events_kept_since(uint64_t pos);
void events_rebase(uint64_t origin);
void vcpu_mem(unsigned int vcpu_index, qemu_plugin_meminfo_t info,
              uint64_t vaddr, void *udata);
void vcpu_syscall(qemu_plugin_id_t id, unsigned int vcpu_index, int64_t num,
                  uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                  uint64_t a5, uint64_t a6, uint64_t a7, uint64_t a8);
void vcpu_syscall_ret(qemu_plugin_id_t id, unsigned int vcpu_idx,
                      int64_t num, int64_t ret);

/* env.c */
void env_init(const qemu_info_t *info);
void env_syscall_start(int64_t num, const uint64_t *args);
void env_syscall_end(void);
bool env_is_address(int64_t num);
void env_outputs(uint64_t pos, int64_t num, int64_t ret);

/* regs.c */
void regs_handshake(void);
uint64_t regs_hash(void);
NarrowInsn *narrow_insns_new(const TbInfo *tb, struct qemu_plugin_tb *qtb);
void vcpu_insn_narrow(unsigned int vcpu_index, void *udata);

/* sync.c */
void sync_start(void);
void sync_end(uint64_t tail);
bool sync_fast_mark(uint64_t at, uint64_t pc_hash);

/* peer.c */
int ctl_connect(const char *path);
int peer_connect(void);
bool peer_start_reader(void);
void send_peer(uint32_t type, uint64_t a, uint64_t b);
bool peer_is_lost(void);
void peer_exiting(void);
bool quit_here(void);
void park(void);

/* report.c */
void report_open(int fd);
void report_hello(const qemu_info_t *info);
void report_counts(const char *type);
void report_limit(uint64_t at, uint64_t hash);
void report_end(uint64_t tail);
void report_apart(uint64_t good, uint64_t bad);
void report_registers(const GArray *all, const int *sizes);
void report_step(uint64_t pos, const Insn *insn, const char *disas);
void report_error(const char *msg);
void dump(uint64_t good, uint64_t bad);

/* args.c */
bool parse_args(int argc, char **argv);

#pragma GCC visibility pop

#endif /* LOCKSTEP_H */

/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * lockstep.h - what the units of the lockstep plugin share: constants,
 * types, the state structs and each unit's entry points. Every unit
 * includes it first (it sets _GNU_SOURCE); the hot path's inline helpers
 * are in stream.h.
 *
 * Two QEMUs (sides "a" and "b") load the plugin. Each folds its executed
 * instruction stream into a hash that does not depend on how QEMU splits
 * the code into blocks, sends it to the other at every checkpoint, and
 * when the two disagree dumps its recent blocks to the orchestrator, which
 * names the first differing instruction: the plugin never decides a
 * verdict. docs/how-it-works.md says how and why; docs/protocol.md has
 * every argument, message and command.
 *
 * The units: lockstep.c (install, translation, exit), exec.c (the hot
 * path: the per-block callbacks), fast.c (the fast pass), record.c (the
 * record stream, record=), events.c (memory and
 * system call events), regs.c (registers and narrowing), sync.c
 * (checkpoints, the peer's news, stopping and resuming), peer.c (sockets
 * and the reader thread), report.c (everything written to the
 * orchestrator), args.c (the arguments, listed there), env.c (the
 * guest's environment in linux-user), counters.c (its time-stamp
 * counters), syscalls.c (system calls' argument counts), death.c (a guest
 * killed by a signal) and process.c (the guest's forks and execs). The headers: stream.h
 * (the block ring, the hashes and the hot path's inline helpers), compat.h
 * (every plugin API difference, and QEMU's header or plugin_api.h),
 * protocol.h (the protocol with the harness), syscall_args.h and
 * peak_rss.h. count.c (the benchmark's baseline) and env_shim.c (preloaded
 * into QEMU) are built apart.
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
 * Defaults, for a plugin given none (the harness always passes its own:
 * harness/core/defaults.ts). Fewer, larger steps cost less than the dump
 * they make larger: a dump covers up to one interval (docs/limits.md).
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
/* The longest instruction of any target (x86: 15 bytes). */
#define INSN_MAX_BYTES 15

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
    uint32_t id;        /* index in tb_table.by_id, for the ring */
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
enum { MSG_CKPT = 1, MSG_END, MSG_LIMIT, MSG_STOP, MSG_SCHED };
typedef struct {
    uint32_t type;
    uint32_t epoch;     /* comparisons restarted so far (see rebase()) */
    uint64_t a;         /* CKPT: count; END/LIMIT: position; STOP: good;
                         * SCHED: position */
    uint64_t b;         /* CKPT/END/LIMIT: hash; STOP: bad; SCHED: thread */
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
    uint64_t maxinsns;      /* 0: none; see comparison.limit */
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
    bool locating;          /* locatepc= given: run alone, count it... */
    uint64_t locate_pc;     /* ...the instruction at this address */
    uint64_t locate;        /* 0, or stop at it from this position on */
    bool fast;              /* the fast pass: no dumps, see fast.c */
    bool fastcount;         /* count as the fast pass does (fast=on sets it) */
    const char *record;     /* record=: the record stream's socket */
    uint64_t chunk;         /* record=: instructions a chunk covers */
    uint64_t detail;        /* record=: instructions between snapshots */
    int x86;                /* x86 guest: 2 x86-64, 1 i386, 0 other */
    bool addrs;             /* off: the sides place the guest differently */
    bool counters;          /* equalise time-stamp counter reads (API 5) */
    bool children;          /* forked children compare with the peer's */
    bool sysnote;           /* note system call results, not compared */
    const char *proc;       /* proc=: its path in the tree, if not "1" */
    uint64_t vcpus;         /* system mode: vCPUs, one stream (vcpus.c) */
    const char *vcpuid;     /* how to tell the running one (vcpus.c) */
    bool threads;           /* linux-user: threads one at a time (threads.c) */
    uint64_t quantum;       /* threads=on: instructions before another runs */
    const char *schedin;    /* threads=on: decisions to follow first */
    bool schedpeer;         /* threads=on: side a's decisions go to side b */
} Options;
extern Options options;

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
    uint32_t vcpu;          /* the vCPU running pending (vcpus.c), else 0 */
} Stream;
extern Stream stream;

/*
 * The comparison with the peer (sync.c): vCPU thread (and atexit) only,
 * touched every `interval` instructions. Positions are counted from 0
 * ("physical"); the comparison counts from origin ("logical"), which moves
 * past each transient excursion.
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
extern Comparison comparison;

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
extern PeerNews peer_news;

/*
 * The orchestrator's commands (peer.c); guarded by peer_news.lock. A command
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
extern Commands commands;

/* Events of this side, in order (events.c): vCPU thread only. */
typedef struct {
    Event *ring;            /* the last mask + 1 events, for the dump */
    uint64_t mask;
    uint64_t count;
    uint64_t hash;          /* fold of every event so far */
    uint64_t last_pos;      /* position of the last event... */
    uint32_t at_pos;        /* ...and how many events it has */
} EventLog;
extern EventLog events;

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
extern Registers registers;

/* Register snapshots are taken: regs=on, and some registers were agreed on
 * (sparc32 describes none: then neither the fast pass nor a recording takes
 * any, so that a QEMU that cannot read registers compares with a trace). */
static inline bool regs_snapshots(void)
{
    return options.regs && registers.n;
}

/* narrow=: the steps reported so far, and whether this block needs them. */
typedef struct {
    uint64_t next;          /* the next position to report */
    uint64_t *on;           /* 1 while the running block overlaps the range */
    CompatCounter on_counter;
} Narrowing;
extern Narrowing narrowing;

/* locatepc=: how often its instruction ran (locate.c). */
typedef struct {
    uint64_t hits;          /* so far; with locate=, before the one found */
    bool reported;          /* locate=: the one found was reported */
} Locating;
extern Locating locating;

/* No peer: the plugin runs alone (narrowing, locating). */
static inline bool runs_alone(void)
{
    return options.narrow.on || options.locating;
}

/*
 * This QEMU's place in the guest's process tree (process.c): a guest's
 * fork forks QEMU, plugin and sockets included.
 */
#define PROC_PATH_MAX 256
typedef struct {
    char path[PROC_PATH_MAX];   /* "1": the guest; "1.2": its second child */
    uint32_t children;          /* forked so far */
    bool forked;                /* not the guest's first process... */
    bool paired;                /* ...compared with the peer's of its path */
    bool ended;                 /* its stream ended: an exit, or an exec */
    uint64_t forked_at;         /* the position of the fork that made it */
    pid_t pid;                  /* this QEMU's (getpid() is the guest's) */
} Process;
extern Process process;

/* Every distinct TbInfo (lockstep.c); grows at translation time only. */
typedef struct {
    pthread_mutex_t lock;
    GHashTable *set;        /* TbInfo -> TbInfo, for sharing */
    GPtrArray *by_id;
} TbTable;
extern TbTable tb_table;

/*
 * Several vCPUs in system mode, one stream (vcpus.c): how many, how the
 * running one is told, and the instructions each has retired.
 */
#define VCPUS_MAX 15
#define VCPU_UNKNOWN 15         /* the running vCPU cannot be told */
#define VCPUS_SLOTS 16
typedef enum {
    VCPU_ID_NONE,
    VCPU_ID_INDEX,
    VCPU_ID_APIC,
    VCPU_ID_THREAD,         /* linux-user threads: their number (threads.c) */
} VcpuIdSource;
typedef struct {
    unsigned n;
    VcpuIdSource source;
    uint8_t apic_to_index[256];
    uint64_t insns[VCPUS_SLOTS];    /* up to `since`, by vCPU */
    uint64_t since;                 /* stream.icount at the last switch */
    bool frozen;                    /* threads run free: fold no more */
    /* The fast pass and recording: the vCPU taking its turn, and the end
     * of the last block (vcpus_turn()). */
    unsigned turn;
    uint64_t prev_end;
} Vcpus;
extern Vcpus vcpus;

bool vcpus_install(const qemu_info_t *info);
bool vcpus_started(unsigned int index);
void vcpus_fold_add(CompatScoreboard *board, size_t offset);
void vcpus_fold_slow(void);
void vcpus_store(CompatCounter *c, uint64_t value);
void vcpus_discard(unsigned int vcpu);
void vcpus_block(unsigned int vcpu_index);
bool vcpus_turn(unsigned int vcpu_index, const TbInfo *tb);
void vcpus_counts_at(uint64_t pos, uint64_t *out);

/*
 * Which vCPU takes a turn is part of the stream where the plugin reads it:
 * a switch to another adds a term to the stream's hash at the block it
 * starts with, so two sides whose vCPUs take turns at other points part
 * there. The detail pass reads the vCPU at every block anyway (apic or
 * index); the fast pass and a recording, which must agree with each
 * other, only where it costs nothing: the callback's own index (before
 * QEMU 10.0). An APIC read there tripled the fast pass's cost on a -smp 2
 * boot (docs/performance.md).
 */
static inline bool vcpus_hashed(void)
{
    return vcpus.n > 1 &&
           (vcpus.source == VCPU_ID_APIC || vcpus.source == VCPU_ID_INDEX);
}

static inline bool vcpus_hashed_cheap(void)
{
    return vcpus.n > 1 && vcpus.source == VCPU_ID_INDEX;
}

/* Before C reads an inline counter: see vcpus.c. */
static inline void vcpus_fold(void)
{
    if (G_UNLIKELY(vcpus.n > 1)) {
        vcpus_fold_slow();
    }
}

/* Whether blocks say which vCPU ran them. */
static inline bool vcpus_named(void)
{
    return vcpus.n > 1 && vcpus.source != VCPU_ID_NONE;
}

/* threads.c: guest threads in linux-user, one at a time. */
typedef struct {
    bool on;
    bool many;              /* a second thread was made: one at a time */
    bool free;              /* all run as QEMU pleases: the stream stopped */
    uint64_t quantum;
    int peer_waits;         /* threads waiting in sync.c, peer.c */
} Threads;
extern Threads threads;
bool threads_install(const qemu_info_t *info);
void threads_vcpu_init(unsigned int vcpu_index);
unsigned threads_current(void);
bool threads_block_slow(const TbInfo *tb, uint64_t pos);
bool threads_syscall_enter(unsigned int vcpu_index, int64_t num,
                           const uint64_t *args);
void threads_syscall_decide(int64_t num);
bool threads_call_tracked(void);
/* A thread waits for the peer or the orchestrator (+1), or no more (-1). */
static inline void threads_peer_wait(int d)
{
    __atomic_add_fetch(&threads.peer_waits, d, __ATOMIC_SEQ_CST);
}
void threads_call_back(void);
uint64_t threads_call_pos(void);
void threads_syscall_ret(int64_t num, int64_t ret);
extern __thread int threads_me;

/* This host thread runs guest code the stream counts (threads=on). */
static inline bool threads_counted(void)
{
    return !threads.many || (threads_me >= 0 && !threads.free);
}
void threads_peer_record(uint64_t pos, uint64_t next);
void threads_release(const char *why);
void threads_forget(void);

/*
 * At a block's start at `pos`: whether to count it (false once the
 * threads run free); may wait for this thread's turn.
 */
static inline bool threads_block(const TbInfo *tb, uint64_t pos)
{
    return !threads.many || threads_block_slow(tb, pos);
}

/* exec.c: the hot path (the per-block callbacks) and the block ring. */
void vcpu_tb_exec(unsigned int vcpu_index, void *udata);
void vcpu_tb_exec_regs(unsigned int vcpu_index, void *udata);
void vcpu_tb_exec_narrow(unsigned int vcpu_index, void *udata);
/* Retire the pending block when it did not simply run whole. */
void retire(uint64_t next_pc);
uint64_t retire_last(void);
uint64_t prefix_hash(uint64_t h, const TbInfo *tb, uint32_t first,
                     uint64_t k);
void stream_alloc(void);

/* fast.c: the fast pass. */
bool fast_counts_inline(void);
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
void record_forget(void);

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
uint64_t syscall_pos(void);
uint64_t next_position(void);

/* regs.c */
void regs_handshake(void);
uint64_t regs_hash(void);
NarrowInsn *narrow_insns_new(const TbInfo *tb, struct qemu_plugin_tb *qtb);
void vcpu_insn_narrow(unsigned int vcpu_index, void *udata);

/* locate.c */
void locate_start(void);
void locate_tb_trans(struct qemu_plugin_tb *qtb, const TbInfo *tb);
uint64_t locate_next_pos(bool *whole);

/* sync.c */
void sync_start(void);
/* The stream reached stream.next_mark (cold). */
void at_mark(const TbInfo *tb, uint32_t first, uint64_t start, uint64_t h0)
    __attribute__((cold));
bool sync_fast_mark(uint64_t at, uint64_t pc_hash);
void sync_end(uint64_t tail);
void sync_fork_child(void);

/* peer.c */
int ctl_connect(const char *path);
int peer_connect(void);
bool peer_start_reader(void);
void send_peer(uint32_t type, uint64_t a, uint64_t b);
bool peer_is_lost(void);
void peer_exiting(void);
bool quit_here(void);
void wait_for_quit(void);
void peer_forget(void);
bool peer_pair_child(const char *path);

/* report.c */
void report_open(int fd);
void report_hello(const qemu_info_t *info);
void report_registers(const GArray *all, const int *sizes);
void report_counts(const char *type);
void report_limit(uint64_t at, uint64_t hash);
void report_end(uint64_t tail);
void report_apart(uint64_t good, uint64_t bad);
void report_step(uint64_t pos, const Insn *insn, const char *disas);
void report_located(uint64_t at, uint64_t hits);
void report_where(void);
void report_error(const char *msg);
void report_dump(uint64_t good, uint64_t bad);
void report_exec(const char *path, const char *const *argv);
void report_hold(void);
void report_release(void);
void report_reopen(int fd);
void report_handler(int64_t sig, bool known, uint64_t pc);
void report_thread(unsigned n, int64_t tid);
void report_unfollowed(const char *why);
void report_sched(uint64_t pos, unsigned next);

/* process.c */
void process_install(const qemu_info_t *info, int argc, char **argv);

/* guest_mem.c */
void guest_mem_install(const qemu_info_t *info);
void guest_mem_check(const TbInfo *tb);
bool guest_mem_read(uint64_t vaddr, GByteArray *buf, size_t len);

/* reexec.c */
void reexec_install(const qemu_info_t *info, int argc, char **argv);
bool reexec(const char *path, char *const *argv, char *const *envp);
void vcpu_syscall_all(qemu_plugin_id_t id, unsigned int vcpu_index,
                      int64_t num, uint64_t a1, uint64_t a2, uint64_t a3,
                      uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7,
                      uint64_t a8);

/* args.c */
bool parse_args(int argc, char **argv);

/* syscalls.c: argument counts */
void syscalls_init(const qemu_info_t *info);
unsigned syscall_arg_count(int64_t num);

/* death.c: the guest killed by a signal, and where */
void death_init(bool user);
void death_vcpu_init(void);
void death_tb_trans(struct qemu_plugin_tb *qtb, size_t n);
void death_block_cut(void);
uint32_t death_started(void);

/* lockstep.c */
void guest_end(void);

/* env.c */
void env_init(const qemu_info_t *info);
void env_syscall_start(int64_t num, const uint64_t *args);
void env_syscall_end(void);
bool env_is_address(int64_t num);
void env_outputs(uint64_t pos, int64_t num, int64_t ret);

/* counters.c */
void counters_install(const qemu_info_t *info);
bool counters_vcpu_init(void);
void counters_tb_trans(struct qemu_plugin_tb *qtb, const TbInfo *tb);

#pragma GCC visibility pop

#endif /* LOCKSTEP_H */
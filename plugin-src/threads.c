/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * threads.c - guest threads in linux-user (threads=on): one runs at a time,
 * so that their blocks form one stream, and side b runs them in the order
 * side a did. Each guest thread is a vCPU on a host thread of its own;
 * the one holding the token runs guest code, the others wait.
 *
 * Where the token may move (decision points), the same positions on both
 * sides for the same stream: a system call's entry, while more than one
 * thread lives; and the first block reached by a jump (not by falling
 * through: every QEMU starts a block there) once the holder has run
 * `quantum` instructions. Side a decides: at a system call, when the call
 * returns (the holder goes on) or when its host thread sleeps in the
 * kernel (a blocking call: the next runnable thread in creation order
 * runs; the call has checked its futex word, say, before anyone else
 * runs); at a quantum point, the next runnable thread, if any. It sends
 * each decision (position, thread) to side b, which waits for it at the
 * same position and follows it: it too lets another thread run only once
 * the holder's call sleeps or returned, and waits for a thread it must
 * run that is still in a call. A thread numbers by creation order (its
 * clone's return in its parent), so numbers agree across sides.
 *
 * Waiting is safe only outside QEMU's execution loop (start_exclusive()
 * waits for every vCPU inside it to leave): in a system call's callbacks,
 * at a new thread's start. A quantum switch parks the holder inside its
 * block callback, so before anything that needs every vCPU stopped the
 * plugin lets all threads run free and the comparison ends there: the
 * guest's exit (exit_group, the last thread's exit), a fork while threads
 * live (then the run is inconclusive: "unfollowed"). A holder that makes
 * no progress for long while others wait in block callbacks (QEMU's
 * exclusive sections for an atomic step or a code flush) is met the same
 * way, as is a thread side b must run whose call does not return there.
 */
#include "lockstep.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stream.h"

/* How long a thread waits between looks at the others (ns). */
#define POLL_NS 200000
/* Side b: how long it waits for a thread that must run (s). */
#define FOLLOW_SECONDS 30
/* A holder making no progress while others wait in block callbacks (s). */
#define STUCK_SECONDS 10

typedef enum {
    T_NONE,         /* not started */
    T_RUNNABLE,     /* in guest code, or waiting to run it */
    T_SYSCALL,      /* in a system call */
    T_EXITED,
} TState;

typedef struct {
    TState state;
    bool started;           /* its vcpu_init ran */
    bool parked_in_block;   /* waits in a block callback */
    int64_t tid;            /* the host's (and the guest's) thread id */
    int stat_fd;            /* its /proc/thread-self/stat, opened by it */
    bool in_call;           /* between its call's entry and return callbacks */
    unsigned vcpu;          /* QEMU's vCPU index */
} Thread;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    Thread t[VCPUS_SLOTS];
    unsigned n;             /* threads numbered (created) so far */
    unsigned live;          /* started and not exited */
    int holder;             /* the thread that may run, -1: none */
    uint64_t since;         /* the position it got the token at */
    uint64_t progress;      /* bumped at every holder's block */
    /* The pending decision point: a holder in a system call at `at`. */
    bool deciding;
    uint64_t at;
    /* Side b: side a's decisions not yet followed (pairs pos, thread). */
    GArray *rec;
    uint64_t rec_head;
    /* The block stream's last block, for jump targets. */
    uint64_t prev_end, prev_last;
} th = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
    .holder = 0,
    .prev_end = UINT64_MAX,
    .prev_last = UINT64_MAX,
};

Threads threads;

/* This host thread's number, -1 before its start. */
__thread int threads_me = -1;
#define me threads_me

/* This thread's call makes a thread (numbered when it returns). */
static __thread bool pending_thread;
/* This thread's system call is not in the stream (its first, see there). */
static __thread bool untracked_call;
/* The position of this thread's last call. */
static __thread uint64_t call_pos;

static int64_t host_tid(void)
{
    return syscall(SYS_gettid);
}

/*
 * The decisions given (schedin=) are followed first, on either side; then
 * side b follows side a's (schedpeer=on), and any other side decides.
 */
static bool follows(void)
{
    return (options.role == 'b' && options.schedpeer) ||
           (th.rec && th.rec_head < th.rec->len);
}

/* Decisions are pairs (position, thread), u64 little-endian. */
#define DECISION_SIZE 16

/* Reads schedin='s decisions: followed before any other (see follows()). */
static bool load_schedule(const char *path)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GMappedFile) file = NULL;
    const char *data;
    gsize len;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0) {
        fprintf(stderr, "lockstep: cannot open %s: %s\n", path,
                strerror(errno));
        return false;
    }
    /* Read through the descriptor opened above, not the path again. */
    file = g_mapped_file_new_from_fd(fd, FALSE, &err);
    close(fd);
    len = file ? g_mapped_file_get_length(file) : 0;
    if (!file || len % DECISION_SIZE) {
        fprintf(stderr, "lockstep: %s holds no decisions (%s)\n", path,
                err ? err->message : "not whole pairs");
        return false;
    }
    data = g_mapped_file_get_contents(file);
    th.rec = g_array_sized_new(FALSE, FALSE, DECISION_SIZE,
                               len / DECISION_SIZE);
    for (gsize o = 0; o < len; o += DECISION_SIZE) {
        uint64_t pair[2];

        memcpy(pair, data + o, sizeof(pair));
        pair[0] = GUINT64_FROM_LE(pair[0]);
        pair[1] = GUINT64_FROM_LE(pair[1]);
        g_array_append_val(th.rec, pair);
    }
    return true;
}

/* The calls the scheduler must know, by target; -1: none. */
static struct {
    int64_t clone, clone3, fork, vfork, exit, exit_group;
} nr = { -1, -1, -1, -1, -1, -1 };

#define CLONE_VM_FLAG 0x100

bool threads_install(const qemu_info_t *info)
{
    /*
     * Before API 2 inline operations add to one variable for all vCPUs,
     * which a new thread's uncompared first blocks would add to as well.
     */
    if (!options.threads || info->system_emulation || !COMPAT_HAS_REGS) {
        return true;
    }
    if (g_str_equal(info->target_name, "x86_64")) {
        nr.clone = 56, nr.fork = 57, nr.vfork = 58, nr.exit = 60;
        nr.exit_group = 231, nr.clone3 = 435;
    } else if (g_str_equal(info->target_name, "aarch64")) {
        nr.clone = 220, nr.exit = 93, nr.exit_group = 94, nr.clone3 = 435;
    } else {
        return true;    /* a second thread stops the run (lockstep.c) */
    }
    threads.on = true;
    threads.quantum = options.quantum;
    if (options.proc) {
        return true;    /* a program a process executed: not the first's order */
    }
    /* Read before the guest runs: its descriptor is closed again, and
     * the guest's own are numbered as on a side that reads none. */
    return !options.schedin || load_schedule(options.schedin);
}

/* In a forked child: the first process's order is not its own. */
void threads_forget(void)
{
    if (th.rec) {
        th.rec_head = th.rec->len;
    }
}

/* Everyone runs as QEMU pleases from now on; the stream stops. th.lock held. */
static void free_all(const char *why)
{
    if (!threads.free) {
        threads.free = true;
        /* What the others' blocks added before is counted; no more. */
        vcpus_fold();
        vcpus.frozen = true;
        if (why) {
            report_unfollowed(why);
        }
    }
    pthread_cond_broadcast(&th.cond);
}

void threads_release(const char *why)
{
    pthread_mutex_lock(&th.lock);
    free_all(why);
    pthread_mutex_unlock(&th.lock);
}

/* Whether thread k's host thread is gone (its stat file reads no more). */
static bool gone(int k)
{
    char c;

    return th.t[k].stat_fd < 0 || pread(th.t[k].stat_fd, &c, 1, 0) <= 0;
}

/*
 * Whether thread k's host thread sleeps in the kernel (a blocking call).
 * Its stat file was opened by itself (/proc/thread-self: the procfs may
 * belong to another PID namespace than the thread ids).
 */
static bool sleeping(int k)
{
    char buf[256];
    ssize_t r;
    char *p;

    if (th.t[k].stat_fd < 0) {
        return false;
    }
    r = pread(th.t[k].stat_fd, buf, sizeof(buf) - 1, 0);
    if (r <= 0) {
        return true;    /* gone: it exited */
    }
    buf[r] = 0;
    p = strrchr(buf, ')');
    return p && p[1] == ' ' && (p[2] == 'S' || p[2] == 'D');
}

/*
 * A decision this side made: to side b (side a), and to the orchestrator,
 * which keeps the first process's for the runs after (a file of the
 * plugin's own would take a descriptor number the guest's next file gets
 * on the other side).
 */
static void record(uint64_t pos, int next)
{
    if (options.role == 'a' && options.schedpeer) {
        send_peer(MSG_SCHED, pos, (uint64_t)next);
    }
    report_sched(pos, (unsigned)next);
}

void threads_peer_record(uint64_t pos, uint64_t next)
{
    /* Called by the reader thread, peer_news.lock held. */
    uint64_t pair[2] = { pos, next };

    pthread_mutex_lock(&th.lock);
    if (!th.rec) {
        th.rec = g_array_new(FALSE, FALSE, sizeof(pair));
    }
    /* Drop what was followed when it is most of the array. */
    if (th.rec_head > 4096 && th.rec_head * 2 > th.rec->len) {
        g_array_remove_range(th.rec, 0, th.rec_head);
        th.rec_head = 0;
    }
    g_array_append_val(th.rec, pair);
    pthread_cond_broadcast(&th.cond);
    pthread_mutex_unlock(&th.lock);
}

/* Side b: whether side a's next decision came, and its fields. */
static bool rec_none(void)
{
    return !th.rec || th.rec_head >= th.rec->len;
}

static uint64_t rec_at(int field)
{
    const uint64_t *pair = (const uint64_t *)(void *)th.rec->data +
                           2 * th.rec_head;

    return pair[field];
}

/* The next runnable thread after `from`, in creation order; -1: none. */
static int next_runnable(int from)
{
    for (unsigned k = 1; k <= th.n; k++) {
        int c = (from + (int)k) % (int)th.n;
        if (c != from && th.t[c].state == T_RUNNABLE && th.t[c].started) {
            return c;
        }
    }
    return -1;
}

static void give(int next, uint64_t pos)
{
    th.holder = next;
    th.since = pos;
    th.deciding = false;
    pthread_cond_broadcast(&th.cond);
}

/*
 * The holder is in a system call at th.at: decide who runs once it sleeps
 * or returned (`returned`: its call is back). th.lock held.
 */
static void decide_at_call(bool returned)
{
    Thread *h = &th.t[th.holder];
    bool away;

    if (!th.deciding) {
        return;
    }
    returned |= h->state == T_RUNNABLE;
    /* Asleep in the kernel within its call: not on a lock of ours on the
     * way back (in_call is cleared first thing there, without a lock). A
     * thread's exit is done when its host thread is gone: QEMU clears its
     * tid word and wakes a joiner after the call's callback. */
    away = returned ||
           (h->state == T_EXITED ? gone(th.holder)
                                 : __atomic_load_n(&h->in_call,
                                                   __ATOMIC_SEQ_CST) &&
                                   sleeping(th.holder));

    if (!away) {
        return;
    }
    if (follows()) {
        uint64_t next;

        if (rec_none()) {
            return;     /* side a has not decided yet */
        }
        if (rec_at(0) != th.at) {
            free_all(NULL);     /* the streams part: the comparison says */
            return;
        }
        next = rec_at(1);
        if (next >= th.n || (next != (uint64_t)th.holder &&
                             th.t[next].state != T_RUNNABLE)) {
            return;     /* not yet back from its call here: wait */
        }
        if (next == (uint64_t)th.holder && !returned) {
            return;     /* it goes on: once its call returns */
        }
        th.rec_head++;
        give((int)next, th.at);
        return;
    }
    if (returned) {
        record(th.at, th.holder);
        give(th.holder, th.at);
        return;
    }
    {
        int next = next_runnable(th.holder);
        if (next >= 0) {
            record(th.at, next);
            give(next, th.at);
        }
    }
}

/* Wait on th.cond, th.lock held, at most `ns` (< 2 s): then look again. */
static void wait_at_most(long ns)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += ns;
    while (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&th.cond, &th.lock, &ts);
}

static void poll_wait(void)
{
    wait_at_most(POLL_NS);
}

/* Monotonic seconds. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Wait, th.lock held, until this thread holds the token (or all run
 * free). While waiting, look at the holder: its call may have slept.
 */
static void wait_turn(bool in_block)
{
    double start = now();
    uint64_t seen = th.progress;
    double seen_at = start;

    th.t[me].parked_in_block = in_block;
    while (!threads.free && th.holder != me) {
        if (th.deciding) {
            decide_at_call(false);
            if (th.holder == me || threads.free) {
                break;
            }
        }
        if (th.progress != seen) {
            seen = th.progress;
            seen_at = now();
        } else if (__atomic_load_n(&threads.peer_waits, __ATOMIC_SEQ_CST)) {
            seen_at = now();    /* the holder waits for its peer: not stuck */
        } else if (now() - seen_at > STUCK_SECONDS && !th.deciding &&
                   th.holder >= 0 && th.t[th.holder].state == T_RUNNABLE) {
            free_all("a thread made no progress while others waited in "
                     "QEMU's execution loop (QEMU stops every vCPU for an "
                     "atomic step or a code flush): the threads run free");
            break;
        }
        if (follows() && now() - start > FOLLOW_SECONDS && th.deciding) {
            free_all("side b waited for a thread side a ran, whose system "
                     "call did not return here: side b cannot follow");
            break;
        }
        poll_wait();
    }
    th.t[me].parked_in_block = false;
}

/* The thread numbered k: its tid and vCPU known. th.lock held. */
static void started(int k, unsigned vcpu)
{
    me = k;
    th.t[k].stat_fd = open("/proc/thread-self/stat", O_RDONLY | O_CLOEXEC);
    /* What its blocks added before (untracked) is not the stream's. */
    vcpus_discard(vcpu);
    th.t[k].started = true;
    th.t[k].vcpu = vcpu;
    th.t[k].state = T_RUNNABLE;
    th.live++;
    report_thread((unsigned)k, th.t[k].tid);
}

/*
 * A thread not yet numbered, at a safe point (its start, its first system
 * call): number it by its tid, which its parent's clone returned, and
 * wait for its turn. th.lock held.
 */
static void number_me(unsigned int vcpu_index)
{
    int64_t tid = host_tid();
    double start = now();

    for (;;) {
        for (unsigned k = 0; k < th.n; k++) {
            if (th.t[k].tid == tid && !th.t[k].started) {
                started((int)k, vcpu_index);
                pthread_cond_broadcast(&th.cond);
                wait_turn(false);
                return;
            }
        }
        if (threads.free) {
            return;
        }
        if (now() - start > FOLLOW_SECONDS) {
            free_all("a thread started whose clone lockstep did not see "
                     "make a thread");
            return;
        }
        wait_at_most(1000000000);
    }
}

void threads_vcpu_init(unsigned int vcpu_index)
{
    int64_t tid = host_tid();

    if (!threads.on) {
        return;
    }
    pthread_mutex_lock(&th.lock);
    if (me >= 0) {
        pthread_mutex_unlock(&th.lock);
        return;     /* numbered at its first system call already */
    }
    if (th.n == 0) {
        /* The guest's first thread. */
        th.n = 1;
        th.t[0].tid = tid;
        started(0, vcpu_index);
        th.holder = 0;
        pthread_mutex_unlock(&th.lock);
        return;
    }
    /* Its parent numbers it when its clone returns: wait for that. */
    number_me(vcpu_index);
    pthread_mutex_unlock(&th.lock);
}

/* The running thread's number (its stream entries' "vCPU"). */
unsigned threads_current(void)
{
    return me >= 0 ? (unsigned)me : VCPU_UNKNOWN;
}

bool threads_block_slow(const TbInfo *tb, uint64_t pos)
{
    bool jump = tb->pc != th.prev_end && tb->pc != th.prev_last;
    bool run = true;

    pthread_mutex_lock(&th.lock);
    if (threads.free) {
        run = false;
        goto out;
    }
    if (th.holder != me) {
        /* Not its turn (it came back from a signal handler, say). */
        wait_turn(true);
        if (threads.free) {
            run = false;
            goto out;
        }
    }
    th.progress++;
    th.prev_end = tb->end;
    th.prev_last = tb->last;
    if (th.live > 1 && jump && pos >= th.since + threads.quantum) {
        int next;

        if (follows()) {
            double start = now();

            /* Side a decided here: wait for it. */
            while (!threads.free && rec_none()) {

                if (now() - start > FOLLOW_SECONDS) {
                    free_all("side b waited for side a's next thread "
                             "too long: side b cannot follow");
                    break;
                }
                poll_wait();
            }
            if (threads.free) {
                run = false;
                goto out;
            }
            if (rec_at(0) != pos) {
                free_all(NULL);     /* the streams part here */
                run = false;
                goto out;
            }
            next = (int)rec_at(1);
            th.rec_head++;
        } else {
            next = next_runnable(me);
            if (next < 0) {
                next = me;
            }
            record(pos, next);
        }
        give(next, pos);
        if (next != me) {
            wait_turn(true);
            if (threads.free) {
                run = false;
            }
        }
    }
out:
    pthread_mutex_unlock(&th.lock);
    return run;
}

/* A clone (clone, clone3) that makes a thread, not a process. */
static bool makes_thread(int64_t num, const uint64_t *args)
{
    if (num == nr.clone) {
        return args[0] & CLONE_VM_FLAG;
    }
    if (num == nr.clone3) {
        g_autoptr(GByteArray) buf = g_byte_array_new();
        uint64_t flags = 0;

        if (!guest_mem_read(args[0], buf, 8) || buf->len < 8) {
            return false;
        }
        memcpy(&flags, buf->data, 8);
        return flags & CLONE_VM_FLAG;
    }
    return false;
}

bool threads_syscall_enter(unsigned int vcpu_index, int64_t num,
                           const uint64_t *args)
{
    bool clone = num == nr.clone || num == nr.clone3;
    bool thread = clone && makes_thread(num, args);

    if (!threads.on) {
        return true;
    }
    pthread_mutex_lock(&th.lock);
    if (threads.free) {
        pthread_mutex_unlock(&th.lock);
        return false;
    }
    if (me < 0) {
        /* A new thread's first call: number it here, a safe place to
         * wait; this call itself is not in the stream (nor were the
         * instructions before it). */
        number_me(vcpu_index);
        untracked_call = true;
        pthread_mutex_unlock(&th.lock);
        return false;
    }
    pending_thread = thread;
    if (thread && !threads.many) {
        /* The guest's second thread: from now on one stream of several.
         * QEMU flushes its code for it (CF_PARALLEL), so every block is
         * instrumented again, counted in C (fast.c, vcpus.c). */
        threads.many = true;
        vcpus.n = VCPUS_MAX;
        vcpus.source = VCPU_ID_THREAD;
    }
    if (th.n == 1) {
        call_pos = syscall_pos();
        pthread_mutex_unlock(&th.lock);
        return true;    /* one thread so far: as without threads=on */
    }
    if (num == nr.exit_group || (num == nr.exit && th.live == 1)) {
        /* The guest's end: QEMU stops every vCPU for it. */
        free_all(NULL);
        pthread_mutex_unlock(&th.lock);
        return false;
    }
    if (th.live > 1 && ((clone && !thread) || num == nr.fork ||
                        num == nr.vfork)) {
        free_all("a thread forked while other threads lived: lockstep "
                 "cannot keep threads in step across a fork");
        pthread_mutex_unlock(&th.lock);
        return false;
    }
    if (thread && th.n >= VCPUS_MAX) {
        free_all("more than 15 threads: lockstep follows at most 15");
        pthread_mutex_unlock(&th.lock);
        return false;
    }
    pthread_mutex_unlock(&th.lock);
    return true;
}

/*
 * After the call's event: the holder leaves for its call, and the token
 * may move once it sleeps or returns (decide_at_call()).
 */
void threads_syscall_decide(int64_t num)
{
    uint64_t pos;

    if (!threads.on) {
        return;
    }
    pthread_mutex_lock(&th.lock);
    if (threads.free || me < 0 || th.n == 1) {
        pthread_mutex_unlock(&th.lock);
        return;
    }
    pos = call_pos = syscall_pos();
    th.t[me].state = num == nr.exit ? T_EXITED : T_SYSCALL;
    __atomic_store_n(&th.t[me].in_call, true, __ATOMIC_SEQ_CST);
    if (th.t[me].state == T_EXITED) {
        th.live--;
    }
    if (th.n > 1) {
        th.deciding = true;
        th.at = pos;
        decide_at_call(false);
    }
    pthread_mutex_unlock(&th.lock);
}

/* First thing when a call returns, before any lock (see decide_at_call()). */
void threads_call_back(void)
{
    if (threads.on && me >= 0) {
        __atomic_store_n(&th.t[me].in_call, false, __ATOMIC_SEQ_CST);
    }
}

/* Whether the call returning now is one of the stream's. */
bool threads_call_tracked(void)
{
    return !threads.on || (!untracked_call && me >= 0 && !threads.free);
}

/*
 * Where the result of this thread's call goes in the stream: at the call,
 * if no other thread ran during it; else where this one runs on, so that
 * events stay in the stream's order (another thread ran meanwhile).
 */
uint64_t threads_call_pos(void)
{
    uint64_t next = next_position();

    return next == call_pos + 1 ? call_pos : next;
}

void threads_syscall_ret(int64_t num, int64_t ret)
{
    if (!threads.on) {
        return;
    }
    if (untracked_call) {
        untracked_call = false;
        return;
    }
    pthread_mutex_lock(&th.lock);
    if (threads.free || me < 0) {
        pthread_mutex_unlock(&th.lock);
        return;
    }
    /* A new thread: number it now, in the stream's order. */
    if ((num == nr.clone || num == nr.clone3) && ret > 0 && pending_thread &&
        th.n < VCPUS_SLOTS) {
        Thread *c = &th.t[th.n++];

        c->tid = ret;
        c->stat_fd = -1;
        c->state = T_NONE;
        pthread_cond_broadcast(&th.cond);
    }
    pending_thread = false;
    th.t[me].state = T_RUNNABLE;
    /* Its call is back: side a goes on; side b waits for side a's word. */
    while (th.deciding && th.holder == me && !threads.free) {

        decide_at_call(true);
        if (!th.deciding) {
            break;
        }
        poll_wait();
    }
    if (th.holder != me) {
        wait_turn(false);
    }
    pthread_mutex_unlock(&th.lock);
}

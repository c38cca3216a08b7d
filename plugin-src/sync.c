/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * sync.c - checkpoints and the comparison with the peer (`comparison`): what
 * happens when the stream reaches a mark (a checkpoint, the limit, the
 * peer's end, the end of a stop's run-on), waiting for a peer that is
 * behind, what the peer's news means (read_news(), the one place that
 * reads it), stopping when the streams are apart, and resuming after the
 * orchestrator found a transient excursion (rebase()). vCPU thread only.
 */
#include "lockstep.h"
#include "stream.h"

/*
 * Progress reports, at most one a quarter second: often enough for a live
 * display, and checked only at checkpoints, so nearly free.
 */
#define PROGRESS_PERIOD_NS 250000000ll
#define NSEC_PER_SEC 1000000000ll

Comparison comparison;

/* How settle() ended. */
enum { SETTLED, RESUMED, STOPPING, QUIT };

/* What the peer's news means for this side (see read_news()). */
typedef enum {
    NEWS_NONE,      /* nothing decided: run on, or wait */
    NEWS_APART,     /* the streams are apart between good and bad */
    NEWS_AGREED,    /* both sides ended at the same position and hash */
    NEWS_LOST,      /* the peer is gone */
} NewsKind;

typedef struct {
    NewsKind kind;
    uint64_t good;      /* APART: logical positions */
    uint64_t bad;
    bool peer_knows;    /* APART: the peer stopped first, no need to tell */
} News;

/* a + b, or UINT64_MAX if that overflows: positions from the peer. */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

/* a * b, or UINT64_MAX if that overflows. */
static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* Before the first block: where the first mark is. */
void sync_start(void)
{
    comparison.limit = options.maxinsns ? options.maxinsns : UINT64_MAX;
    comparison.next_ckpt = options.narrow.on ? UINT64_MAX : options.interval;
    stream.next_mark = options.narrow.on
                       ? options.narrow.to + 1
                       : MIN(options.interval, comparison.limit);
}

/*
 * The streams disagree between logical positions good and bad: stop
 * comparing, run on `reconverge` more instructions (so the orchestrator can
 * see whether the streams meet again), then dump (see stop_finish()).
 */
static void stop_begin(uint64_t good, uint64_t bad)
{
    if (comparison.stopping) {
        return;
    }
    comparison.stopping = true;
    comparison.stop_good = sat_add(comparison.origin, good);
    comparison.stop_bad = sat_add(comparison.origin, bad);
    comparison.stop_at = sat_add(comparison.stop_bad, options.reconverge);
    comparison.next_ckpt = UINT64_MAX;
}

/*
 * The news says the streams are apart: tell the peer if it does not know.
 * The fast pass then says where and waits for "quit": the harness names the
 * instruction with the detail pass.
 */
static void part_ways(const News *n)
{
    if (!n->peer_knows && !peer_is_lost()) {
        send_peer(MSG_STOP, n->good, n->bad);
    }
    if (options.fast) {
        report_apart(n->good, n->bad);
        wait_for_quit();
    }
    stop_begin(n->good, n->bad);
}

/*
 * Compare the checkpoints both sides have taken in this epoch; called with
 * peer_news.lock held. Returns the logical position of the first
 * disagreeing one, or 0.
 */
static uint64_t compare_checkpoints(void)
{
    if (peer_news.epoch != comparison.epoch) {
        return 0;   /* the peer has not resumed yet */
    }
    while (comparison.compared < comparison.ckpt_count &&
           comparison.compared < peer_news.ckpt_count) {
        uint64_t i = comparison.compared % CKPT_RING;
        if (comparison.ckpt_hash[i] != peer_news.ckpt_hash[i]) {
            return (comparison.compared + 1) * options.interval;
        }
        comparison.compared++;
        comparison.last_good = comparison.compared * options.interval;
    }
    return 0;
}

/*
 * What the peer's news means for this side at logical position pos; with
 * peer_news.lock held. `ended`: this side has ended (or reached its limit)
 * there, with `hash`; otherwise it is running. News of an older epoch (the
 * peer has not resumed yet) decides nothing.
 */
static News read_news(uint64_t pos, bool ended, uint64_t hash)
{
    uint64_t bad = compare_checkpoints();
    bool current = peer_news.epoch == comparison.epoch;

    if (bad) {
        return (News){ NEWS_APART, comparison.last_good, bad, false };
    }
    if (current && peer_news.stopped) {
        return (News){ NEWS_APART, peer_news.stop_good, peer_news.stop_bad,
                       true };
    }
    if (current && peer_news.ended) {
        if (ended && peer_news.end_pos == pos && peer_news.end_hash == hash) {
            return (News){ NEWS_AGREED };
        }
        /* A running side is apart only once it has passed the peer's end. */
        if (ended || pos > peer_news.end_pos) {
            bad = MIN(pos, peer_news.end_pos);
            return (News){ NEWS_APART, MIN(comparison.last_good, bad), bad,
                           false };
        }
    }
    if (peer_news.lost) {
        return (News){ NEWS_LOST };
    }
    return (News){ NEWS_NONE };
}

static void take_checkpoint(uint64_t hash)
{
    struct timespec now;

    comparison.ckpt_hash[comparison.ckpt_count % CKPT_RING] = hash;
    comparison.ckpt_count++;
    comparison.next_ckpt += options.interval;
    send_peer(MSG_CKPT, comparison.ckpt_count, hash);

    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    if ((now.tv_sec - comparison.last_progress.tv_sec) * NSEC_PER_SEC +
        (now.tv_nsec - comparison.last_progress.tv_nsec) > PROGRESS_PERIOD_NS) {
        comparison.last_progress = now;
        report_counts(LS_MSG_PROGRESS);
    }
}

/*
 * Restart the comparison at physical position origin, which the
 * orchestrator found to be where this side's stream meets the peer's again
 * after a transient excursion: fold the hashes afresh from there, out of
 * the block and event rings, and take the checkpoints already passed.
 * limit is the new one (0: none).
 */
static void rebase(uint64_t origin, uint64_t limit)
{
    uint64_t pos;
    uint64_t j = ring_seek(origin, &pos);
    uint64_t h = 0;

    events_rebase(origin);
    comparison.origin = origin;
    comparison.ckpt_count = comparison.compared = comparison.last_good = 0;
    comparison.next_ckpt = origin + options.interval;
    comparison.limit = limit ? limit : UINT64_MAX;
    for (; j < stream.entries; j++) {
        uint64_t v = ring_at(j);
        const TbInfo *tb = ring_tb(v);
        for (uint64_t r = 0; r < RING_REP(v); r++) {
            for (uint32_t i = RING_FIRST(v); i < RING_END(v); i++, pos++) {
                if (pos < origin) {
                    continue;
                }
                h = h * HASH_MUL + mix(tb->insns[i].vaddr);
                if (pos + 1 == comparison.next_ckpt) {
                    take_checkpoint(combine(h, events_before(pos + 1)));
                }
                if (pos + 1 == comparison.limit) {
                    comparison.limit_hash = combine(h, events_before(pos + 1));
                }
            }
        }
    }
    stream.hash = h;
}

/*
 * Why a "resync" the orchestrator sent cannot be followed, or NULL. Its
 * values come from outside: the origin must be a position this side has
 * passed and its block ring still holds (rebase() folds the hash afresh
 * from there, and the checkpoints it retakes are exactly the ones between),
 * the epoch a new one, the limit past the origin.
 */
static char *resync_refused(uint32_t epoch, uint64_t origin, uint64_t limit)
{
    uint64_t start;

    if (epoch <= comparison.epoch) {
        return g_strdup_printf("resync refused: epoch %" PRIu32 " is not "
                               "past %" PRIu32, epoch, comparison.epoch);
    }
    if (origin > stream.icount) {
        return g_strdup_printf("resync refused: origin %" PRIu64 " is past "
                               "this side's %" PRIu64 " instructions",
                               origin, stream.icount);
    }
    ring_seek(origin, &start);
    if (start > origin) {
        return g_strdup_printf("resync refused: origin %" PRIu64 " is "
                               "before the oldest block kept (%" PRIu64 ")",
                               origin, start);
    }
    if (limit && limit <= origin) {
        return g_strdup_printf("resync refused: limit %" PRIu64 " is not "
                               "past origin %" PRIu64, limit, origin);
    }
    return NULL;
}

/*
 * Dump what this side has, then wait for the orchestrator: "resync"
 * rebases and returns true; "quit" ends the process (see peer.c), or while
 * QEMU exits returns false. A resync this side cannot follow is reported
 * and waited past.
 */
static bool stop_finish(void)
{
    uint32_t epoch;
    uint64_t origin, limit, regs_next;
    g_autofree char *why = NULL;

    /* Before the dump: the answer may come as soon as it is read. */
    pthread_mutex_lock(&peer_news.lock);
    commands.want_resync = true;
    pthread_mutex_unlock(&peer_news.lock);
    report_dump(comparison.stop_good, comparison.stop_bad);
    do {
        g_clear_pointer(&why, g_free);
        pthread_mutex_lock(&peer_news.lock);
        while (!commands.resync && !quit_here()) {
            threads_peer_wait(1);
            pthread_cond_wait(&peer_news.cond, &peer_news.lock);
            threads_peer_wait(-1);
        }
        if (!commands.resync) {
            pthread_mutex_unlock(&peer_news.lock);
            return false;
        }
        commands.resync = false;
        epoch = commands.epoch;
        origin = commands.origin;
        limit = commands.limit;
        regs_next = commands.regs_next;
        pthread_mutex_unlock(&peer_news.lock);
        why = resync_refused(epoch, origin, limit);
        if (why) {
            report_error(why);
        }
    } while (why);
    pthread_mutex_lock(&peer_news.lock);
    commands.want_resync = false;
    pthread_mutex_unlock(&peer_news.lock);
    comparison.epoch = epoch;
    registers.next = regs_next;
    rebase(origin, limit);
    comparison.stopping = false;
    return true;
}

/*
 * Wait until the peer's news settles this side's run: its end or limit
 * at `pos` (with `hash`), a stop request, or its loss. Used once this side
 * has ended (guest exit) or reached its limit; positions are logical.
 * On a disagreement a side that can still run (at its limit) returns
 * STOPPING, to run on before it dumps (see stop_begin()); one that cannot
 * dumps at once and returns RESUMED when the orchestrator resumed the
 * comparison after a transient excursion: it then reports its end afresh.
 * QUIT: "quit" came while QEMU exits (see wait_for_quit()).
 */
static int settle(uint64_t pos, uint64_t hash, bool can_run)
{
    News n;

    pthread_mutex_lock(&peer_news.lock);
    while ((n = read_news(pos, true, hash)).kind == NEWS_NONE &&
           !quit_here()) {
        threads_peer_wait(1);
            pthread_cond_wait(&peer_news.cond, &peer_news.lock);
            threads_peer_wait(-1);
    }
    pthread_mutex_unlock(&peer_news.lock);
    if (n.kind == NEWS_NONE) {
        return QUIT;
    }
    if (n.kind == NEWS_LOST) {
        report_counts(LS_MSG_PEER_LOST);
    }
    if (n.kind != NEWS_APART) {
        return SETTLED;
    }
    part_ways(&n);
    if (can_run) {
        return STOPPING;
    }
    return stop_finish() ? RESUMED : QUIT;
}

/*
 * A running side at physical position `at`, a mark: compare, and wait
 * while it is more than
 * `window` ahead of the peer. Returns true, with the next mark set, when it
 * may run on; false when the streams are apart (stop_begin() was called).
 */
static bool wait_for_peer(uint64_t at)
{
    pthread_mutex_lock(&peer_news.lock);
    for (;;) {
        uint64_t pos = at - comparison.origin;
        News n = read_news(pos, false, 0);
        bool current = peer_news.epoch == comparison.epoch;

        if (n.kind == NEWS_APART) {
            pthread_mutex_unlock(&peer_news.lock);
            part_ways(&n);
            return false;
        }
        if (n.kind == NEWS_LOST) {
            pthread_mutex_unlock(&peer_news.lock);
            report_counts(LS_MSG_PEER_LOST);
            wait_for_quit();    /* returns only while exiting, never here */
            stream.next_mark = UINT64_MAX;
            return true;
        }
        /* Until the peer's first message of this epoch, it has taken no
         * checkpoint of it. An ended peer is waited for no more: run on to
         * its end. */
        if ((current && peer_news.ended) ||
            pos <= sat_add(sat_mul(current ? peer_news.ckpt_count : 0,
                                   options.interval), options.window)) {
            uint64_t mark = MIN(comparison.next_ckpt, comparison.limit);

            if (current && peer_news.ended) {
                mark = MIN(mark, sat_add(comparison.origin,
                                         sat_add(peer_news.end_pos, 1)));
            }
            stream.next_mark = mark;
            pthread_mutex_unlock(&peer_news.lock);
            return true;
        }
        threads_peer_wait(1);
            pthread_cond_wait(&peer_news.cond, &peer_news.lock);
            threads_peer_wait(-1);
    }
}

/*
 * Called when stream.icount reached stream.next_mark; the block that crossed it
 * retired tb's instructions from `first` on, `start` and `h0` are the
 * position and hash before it.
 */
void __attribute__((noinline, cold))
at_mark(const TbInfo *tb, uint32_t first, uint64_t start, uint64_t h0)
{
    bool rebased = false;   /* h0 is then of the old epoch */

    if (options.narrow.on) {
        report_counts(LS_MSG_NARROWED);
        wait_for_quit();    /* returns only while QEMU exits */
        stream.next_mark = UINT64_MAX;
        return;
    }
    for (;;) {
        uint64_t limit = comparison.limit;

        if (comparison.stopping) {
            if (stream.icount < comparison.stop_at || comparison.exiting) {
                stream.next_mark = comparison.stop_at;
                return;
            }
            if (!stop_finish()) {
                return;
            }
            rebased = true;
            continue;
        }
        while (comparison.next_ckpt <= stream.icount &&
               comparison.next_ckpt <= limit) {
            uint64_t c = comparison.next_ckpt;
            take_checkpoint(combine(prefix_hash(h0, tb, first, c - start),
                                    events_before(c)));
        }
        if (stream.icount >= limit) {
            /* After a rebase, rebase() computed the limit's hash. */
            uint64_t h = !rebased && limit >= start
                         ? combine(prefix_hash(h0, tb, first, limit - start),
                                   events_before(limit))
                         : comparison.limit_hash;

            send_peer(MSG_LIMIT, limit - comparison.origin, h);
            report_limit(limit, h);
            switch (settle(limit - comparison.origin, h,
                           options.reconverge > 0)) {
            case RESUMED:
                rebased = true;
                continue;
            case STOPPING:
                continue;   /* run on to stop_at, past the limit */
            case SETTLED:
                wait_for_quit();    /* returns only while QEMU exits */
                break;
            case QUIT:
                break;
            }
            stream.next_mark = UINT64_MAX;
            return;
        }
        /* The guest's last block: sync_end() reports the end first, so
         * that the orchestrator knows it when the dumps come. */
        if (comparison.exiting) {
            return;
        }
        if (wait_for_peer(stream.icount)) {
            return;
        }
    }
}

/*
 * The guest ended (after the last block retired, see retire_last()): tell
 * the peer and the orchestrator, and wait for the peer's news; after a
 * transient excursion the end is reported afresh. A side that ran no
 * instruction (QEMU refused the guest or an argument) has nothing to
 * compare: it reports its end and returns at once, and QEMU exits with its
 * own status.
 */
void sync_end(uint64_t tail)
{
    do {
        send_peer(MSG_END, stream.icount - comparison.origin,
                  combine(stream.hash, events.hash));
        report_end(tail);
        if (stream.icount == 0) {
            return;
        }
    } while (settle(stream.icount - comparison.origin,
                    combine(stream.hash, events.hash), false) == RESUMED);
}

/*
 * A forked child pairs with the peer's (process.c): what the parent took
 * before the fork counts as compared, the rest is the child's own.
 */
void sync_fork_child(void)
{
    comparison.compared = comparison.ckpt_count;
    comparison.last_good = comparison.compared * options.interval;
}

/*
 * The fast pass's inline flavour (fast.c) is exactly at physical position
 * `at`, one of its marks, where the instructions' sum is pc_hash: take the
 * checkpoint, stop at the limit, and wait while too far ahead of the peer.
 * Sets stream.next_mark; returns whether `at` was a checkpoint. Does not
 * return when the streams are apart or the run is over (the plugin parks).
 */
bool sync_fast_mark(uint64_t at, uint64_t pc_hash)
{
    bool checkpoint = false;

    stream.icount = at;
    stream.hash = pc_hash;
    while (comparison.next_ckpt <= at &&
           comparison.next_ckpt <= comparison.limit) {
        take_checkpoint(combine(pc_hash, events.hash));
        checkpoint = true;
    }
    if (at >= comparison.limit) {
        uint64_t h = combine(pc_hash, events.hash);

        send_peer(MSG_LIMIT, at - comparison.origin, h);
        report_limit(at, h);
        settle(at - comparison.origin, h, false);
        wait_for_quit();
    }
    wait_for_peer(at);
    return checkpoint;
}

/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * sync.c - checkpoints and the comparison with the peer (`cmp`): what
 * happens when the stream reaches a mark (a checkpoint, the limit, the
 * peer's end, the end of a stop's run-on), waiting for a peer that is
 * behind, what the peer's news means (read_news(), the one place that
 * reads it), stopping when the streams are apart, and resuming after the
 * orchestrator found a transient excursion (rebase()). vCPU thread only.
 */
#include "lockstep.h"

Comparison cmp;

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
    cmp.limit = cfg.maxinsns ? cfg.maxinsns : UINT64_MAX;
    cmp.next_ckpt = cfg.narrow.on ? UINT64_MAX : cfg.interval;
    own.next_mark = cfg.narrow.on ? cfg.narrow.to + 1
                                  : MIN(cfg.interval, cmp.limit);
}

/*
 * The streams disagree between logical positions good and bad: stop
 * comparing, run on `reconverge` more instructions (so the orchestrator can
 * see whether the streams meet again), then dump (see stop_finish()).
 */
static void stop_begin(uint64_t good, uint64_t bad)
{
    if (cmp.stopping) {
        return;
    }
    cmp.stopping = true;
    cmp.stop_good = sat_add(cmp.origin, good);
    cmp.stop_bad = sat_add(cmp.origin, bad);
    cmp.stop_at = sat_add(cmp.stop_bad, cfg.reconverge);
    cmp.next_ckpt = UINT64_MAX;
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
    if (cfg.fast) {
        report_apart(n->good, n->bad);
        park();
    }
    stop_begin(n->good, n->bad);
}

/*
 * Compare the checkpoints both sides have taken in this epoch; called with
 * peer.lock held. Returns the logical position of the first disagreeing
 * one, or 0.
 */
static uint64_t compare_checkpoints(void)
{
    if (peer.epoch != cmp.epoch) {
        return 0;   /* the peer has not resumed yet */
    }
    while (cmp.compared < cmp.ckpt_count &&
           cmp.compared < peer.ckpt_count) {
        uint64_t i = cmp.compared % CKPT_RING;
        if (cmp.ckpt_hash[i] != peer.ckpt_hash[i]) {
            return (cmp.compared + 1) * cfg.interval;
        }
        cmp.compared++;
        cmp.last_good = cmp.compared * cfg.interval;
    }
    return 0;
}

/*
 * What the peer's news means for this side at logical position pos; with
 * peer.lock held. `ended`: this side has ended (or reached its limit) there,
 * with `hash`; otherwise it is running. News of an older epoch (the peer has
 * not resumed yet) decides nothing.
 */
static News read_news(uint64_t pos, bool ended, uint64_t hash)
{
    uint64_t bad = compare_checkpoints();
    bool current = peer.epoch == cmp.epoch;

    if (bad) {
        return (News){ NEWS_APART, cmp.last_good, bad, false };
    }
    if (current && peer.stopped) {
        return (News){ NEWS_APART, peer.stop_good, peer.stop_bad, true };
    }
    if (current && peer.ended) {
        if (ended && peer.end_pos == pos && peer.end_hash == hash) {
            return (News){ NEWS_AGREED };
        }
        /* A running side is apart only once it has passed the peer's end. */
        if (ended || pos > peer.end_pos) {
            bad = MIN(pos, peer.end_pos);
            return (News){ NEWS_APART, MIN(cmp.last_good, bad), bad, false };
        }
    }
    if (peer.lost) {
        return (News){ NEWS_LOST };
    }
    return (News){ NEWS_NONE };
}

static void take_checkpoint(uint64_t hash)
{
    struct timespec now;

    cmp.ckpt_hash[cmp.ckpt_count % CKPT_RING] = hash;
    cmp.ckpt_count++;
    cmp.next_ckpt += cfg.interval;
    send_peer(MSG_CKPT, cmp.ckpt_count, hash);

    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    if ((now.tv_sec - cmp.last_progress.tv_sec) * NSEC_PER_SEC +
        (now.tv_nsec - cmp.last_progress.tv_nsec) > PROGRESS_PERIOD_NS) {
        cmp.last_progress = now;
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
    cmp.origin = origin;
    cmp.ckpt_count = cmp.compared = cmp.last_good = 0;
    cmp.next_ckpt = origin + cfg.interval;
    cmp.limit = limit ? limit : UINT64_MAX;
    for (; j < own.entries; j++) {
        uint64_t v = ring_at(j);
        const TbInfo *tb = ring_tb(v);
        for (uint64_t r = 0; r < RING_REP(v); r++) {
            for (uint32_t i = RING_FIRST(v); i < RING_END(v); i++, pos++) {
                if (pos < origin) {
                    continue;
                }
                h = h * HASH_MUL + mix(tb->insns[i].vaddr);
                if (pos + 1 == cmp.next_ckpt) {
                    take_checkpoint(combine(h, events_before(pos + 1)));
                }
                if (pos + 1 == cmp.limit) {
                    cmp.limit_hash = combine(h, events_before(pos + 1));
                }
            }
        }
    }
    own.hash = h;
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

    if (epoch <= cmp.epoch) {
        return g_strdup_printf("resync refused: epoch %" PRIu32 " is not "
                               "past %" PRIu32, epoch, cmp.epoch);
    }
    if (origin > own.icount) {
        return g_strdup_printf("resync refused: origin %" PRIu64 " is past "
                               "this side's %" PRIu64 " instructions",
                               origin, own.icount);
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
    pthread_mutex_lock(&peer.lock);
    cmd.want_resync = true;
    pthread_mutex_unlock(&peer.lock);
    dump(cmp.stop_good, cmp.stop_bad);
    do {
        g_clear_pointer(&why, g_free);
        pthread_mutex_lock(&peer.lock);
        while (!cmd.resync && !quit_here()) {
            pthread_cond_wait(&peer.cond, &peer.lock);
        }
        if (!cmd.resync) {
            pthread_mutex_unlock(&peer.lock);
            return false;
        }
        cmd.resync = false;
        epoch = cmd.epoch;
        origin = cmd.origin;
        limit = cmd.limit;
        regs_next = cmd.regs_next;
        pthread_mutex_unlock(&peer.lock);
        why = resync_refused(epoch, origin, limit);
        if (why) {
            report_error(why);
        }
    } while (why);
    pthread_mutex_lock(&peer.lock);
    cmd.want_resync = false;
    pthread_mutex_unlock(&peer.lock);
    cmp.epoch = epoch;
    regs.next = regs_next;
    rebase(origin, limit);
    cmp.stopping = false;
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
 * QUIT: "quit" came while QEMU exits (see park()).
 */
static int settle(uint64_t pos, uint64_t hash, bool can_run)
{
    News n;

    pthread_mutex_lock(&peer.lock);
    while ((n = read_news(pos, true, hash)).kind == NEWS_NONE &&
           !quit_here()) {
        pthread_cond_wait(&peer.cond, &peer.lock);
    }
    pthread_mutex_unlock(&peer.lock);
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
    pthread_mutex_lock(&peer.lock);
    for (;;) {
        uint64_t pos = at - cmp.origin;
        News n = read_news(pos, false, 0);
        bool current = peer.epoch == cmp.epoch;

        if (n.kind == NEWS_APART) {
            pthread_mutex_unlock(&peer.lock);
            part_ways(&n);
            return false;
        }
        if (n.kind == NEWS_LOST) {
            pthread_mutex_unlock(&peer.lock);
            report_counts(LS_MSG_PEER_LOST);
            park();     /* returns only while exiting, never here */
            own.next_mark = UINT64_MAX;
            return true;
        }
        /* Until the peer's first message of this epoch, it has taken no
         * checkpoint of it. An ended peer is waited for no more: run on to
         * its end. */
        if ((current && peer.ended) ||
            pos <= sat_add(sat_mul(current ? peer.ckpt_count : 0,
                                   cfg.interval), cfg.window)) {
            uint64_t mark = MIN(cmp.next_ckpt, cmp.limit);

            if (current && peer.ended) {
                mark = MIN(mark, sat_add(cmp.origin,
                                         sat_add(peer.end_pos, 1)));
            }
            own.next_mark = mark;
            pthread_mutex_unlock(&peer.lock);
            return true;
        }
        pthread_cond_wait(&peer.cond, &peer.lock);
    }
}

/*
 * Called when own.icount reached own.next_mark; the block that crossed it
 * retired tb's instructions from `first` on, `start` and `h0` are the
 * position and hash before it.
 */
void __attribute__((noinline, cold))
at_mark(const TbInfo *tb, uint32_t first, uint64_t start, uint64_t h0)
{
    bool rebased = false;   /* h0 is then of the old epoch */

    if (cfg.narrow.on) {
        report_counts(LS_MSG_NARROWED);
        park();     /* returns only while QEMU exits */
        own.next_mark = UINT64_MAX;
        return;
    }
    for (;;) {
        uint64_t limit = cmp.limit;

        if (cmp.stopping) {
            if (own.icount < cmp.stop_at || cmp.exiting) {
                own.next_mark = cmp.stop_at;
                return;
            }
            if (!stop_finish()) {
                return;
            }
            rebased = true;
            continue;
        }
        while (cmp.next_ckpt <= own.icount && cmp.next_ckpt <= limit) {
            uint64_t c = cmp.next_ckpt;
            take_checkpoint(combine(prefix_hash(h0, tb, first, c - start),
                                    events_before(c)));
        }
        if (own.icount >= limit) {
            /* After a rebase, rebase() computed the limit's hash. */
            uint64_t h = !rebased && limit >= start
                         ? combine(prefix_hash(h0, tb, first, limit - start),
                                   events_before(limit))
                         : cmp.limit_hash;

            send_peer(MSG_LIMIT, limit - cmp.origin, h);
            report_limit(limit, h);
            switch (settle(limit - cmp.origin, h, cfg.reconverge > 0)) {
            case RESUMED:
                rebased = true;
                continue;
            case STOPPING:
                continue;   /* run on to stop_at, past the limit */
            case SETTLED:
                park();     /* returns only while QEMU exits */
                break;
            case QUIT:
                break;
            }
            own.next_mark = UINT64_MAX;
            return;
        }
        /* The guest's last block: sync_end() reports the end first, so
         * that the orchestrator knows it when the dumps come. */
        if (cmp.exiting) {
            return;
        }
        if (wait_for_peer(own.icount)) {
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
        send_peer(MSG_END, own.icount - cmp.origin,
                  combine(own.hash, ev.hash));
        report_end(tail);
        if (own.icount == 0) {
            return;
        }
    } while (settle(own.icount - cmp.origin, combine(own.hash, ev.hash),
                    false) == RESUMED);
}

/*
 * The fast pass's inline flavour (fast.c) is exactly at physical position
 * `at`, one of its marks, where the instructions' sum is pc_hash: take the
 * checkpoint, stop at the limit, and wait while too far ahead of the peer.
 * Sets own.next_mark; returns whether `at` was a checkpoint. Does not
 * return when the streams are apart or the run is over (the plugin parks).
 */
bool sync_fast_mark(uint64_t at, uint64_t pc_hash)
{
    bool checkpoint = false;

    own.icount = at;
    own.hash = pc_hash;
    while (cmp.next_ckpt <= at && cmp.next_ckpt <= cmp.limit) {
        take_checkpoint(combine(pc_hash, ev.hash));
        checkpoint = true;
    }
    if (at >= cmp.limit) {
        uint64_t h = combine(pc_hash, ev.hash);

        send_peer(MSG_LIMIT, at - cmp.origin, h);
        report_limit(at, h);
        settle(at - cmp.origin, h, false);
        park();
    }
    wait_for_peer(at);
    return checkpoint;
}

/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * fast.c - the fast pass (fast=on): the translated code itself counts the
 * stream, and C runs only at a mark (a checkpoint, the limit), after a
 * block that was cut short, and for a register snapshot; before API 3,
 * which has no conditional callbacks, a short C callback at every block
 * tests and counts. Most runs never diverge: they should cost about what
 * one QEMU costs. When the checkpoints disagree, the plugin says where
 * ("apart") and parks; the harness then re-runs both sides with the detail
 * pass (the block ring, events, dumps: exec.c and sync.c) to name the
 * instruction.
 *
 * Every block takes, at its start, its instruction count off a countdown
 * (and counts itself in the same operation, see BLOCK_BITS) and adds the
 * sum of mix() of its instruction addresses to a running sum: a sum is
 * the same however the code is split into blocks, and a stream that goes
 * elsewhere changes it. A block is counted whole from its start, and
 * leaves its entry "open" (see CLOSED) until its last instruction starts,
 * so a block whose last instruction never started (an icount I/O
 * re-execution, a restart after a code-page write, an exception) is still
 * open at the next block's start, where fast_cut() takes back what did not
 * run, as exec.c's retire() does. Consecutive entries of an x86 rep string
 * instruction count once (see x86_rep_string()). One callback a block, and
 * conditional: QEMU tests the entry in the translated code and calls
 * fast_block() only when the previous block was left open, when this one
 * reaches a mark, or while a register snapshot is due (before API 3,
 * fast_every() runs at every block, tests the same and counts the block in
 * C).
 */
#include "lockstep.h"

#include <stddef.h>

#include "stream.h"

/*
 * A vCPU's scoreboard entry, which the translated code itself updates at
 * every block.
 */
typedef struct {
    uint64_t countdown;     /* instructions to `target`, once the running
                             * block is counted whole, the blocks started
                             * (see BLOCK_BITS) and CLOSED */
    uint64_t sum;           /* sum of mix(address) of those instructions */
    uint64_t open;          /* the running block's TbInfo id (a small
                             * number: a short store) */
} FastVcpu;

/* vCPU 0's entries: the board, and where vCPU 0's entry is (it can move). */
static CompatScoreboard *board;
static FastVcpu *vcpu0;

/* regs=on: the position from which the pending snapshot may be taken... */
static uint64_t regs_from;
/* ...while one is due... */
static bool armed;
/* ...and where falling through from the last block leads. */
static uint64_t fall;

/*
 * `countdown` holds two counters, so that one inline operation a block
 * keeps both: the instructions left to `target` above BLOCK_BITS, the
 * blocks started since fast_call() last moved `target` below (a block
 * adds 1 - (n << BLOCK_BITS)): every inline operation is paid at every
 * block. `target` is never more than FAST_SPAN instructions on, and every
 * block counted takes at least one instruction off (an x86 rep instruction
 * entered again alone is not counted: fast_cut()), so the blocks never
 * carry into the instructions.
 *
 * Above the counts, CLOSED says whether the last block started its last
 * instruction, so that one condition at a block's start covers every
 * reason to call C: a block takes CLOSED off as it starts, and its last
 * instruction adds it back, or REP_DONE when that is an x86 rep string
 * instruction (then the next block's start looks whether it enters the
 * instruction again). Without CLOSED the entry is below every block's
 * threshold(); with it, only a block that reaches `target` is.
 *
 * The constants fit the 32-bit immediates of the host's instructions,
 * which keeps QEMU's code for them short; in exchange C runs at least
 * every FAST_SPAN instructions.
 */
#define BLOCK_BITS 15
#define BLOCK_MASK ((1ull << BLOCK_BITS) - 1)
#define FAST_SPAN (1ull << 13)
#define REP_DONE (1ull << 29)
#define CLOSED (1ull << 30)
#define COUNTS_MASK (REP_DONE - 1)
G_STATIC_ASSERT((FAST_SPAN << BLOCK_BITS | BLOCK_MASK) < REP_DONE);

/* The position `countdown` counts to: stream.next_mark, or sooner. */
static uint64_t target;

/* The blocks started before fast_call() last moved `target`. */
static uint64_t blocks_before;

/*
 * Whether the translated code counts the stream (this file): fast=on, but
 * not while recording, which needs a call at every block and counts in it
 * (record.c).
 */
bool fast_counts_inline(void)
{
    return options.fast && !options.record;
}

static CompatEntry entry(size_t offset)
{
    return (CompatEntry){ .score = board, .offset = offset };
}

/* The sum of mix(address) of tb's instructions [from, to). */
static uint64_t sum_of(const TbInfo *tb, uint32_t from, uint32_t to)
{
    uint64_t s = 0;

    for (uint32_t i = from; i < to; i++) {
        s += mix(tb->insns[i].vaddr);
    }
    return s;
}

/* The TbInfo of an id (its index in tb_table.by_id). */
static const TbInfo *tb_by_id(uint64_t id)
{
    return g_ptr_array_index(tb_table.by_id, id);
}

/* The position of the running block's start (before its own counting). */
static uint64_t position(void)
{
    return target - ((vcpu0->countdown & COUNTS_MASK) >> BLOCK_BITS);
}

/* Blocks started so far (before the running block's own counting). */
static uint64_t blocks_started(void)
{
    return blocks_before + (vcpu0->countdown & BLOCK_MASK);
}

/*
 * Count from start, the start of block tb, to the next mark (or FAST_SPAN
 * on); while a snapshot is due, only to tb's end, so that the next block
 * calls fast_block() too.
 */
static void countdown_from(uint64_t start, const TbInfo *tb)
{
    uint64_t span = MIN(stream.next_mark - start, FAST_SPAN);

    blocks_before = blocks_started();
    target = start + (armed ? MIN(span, tb->n) : span);
    vcpu0->countdown = CLOSED | (target - start) << BLOCK_BITS;
}

/* The condition at tb's start: the entry is at most this. */
static uint64_t threshold(const TbInfo *tb)
{
    return CLOSED | (uint64_t)tb->n << BLOCK_BITS | BLOCK_MASK;
}

/*
 * The previous block's last instruction never started. If execution went
 * on inside it, only the instructions before that point ran; otherwise (an
 * exception to elsewhere) where it stopped is unknown: it is claimed whole,
 * as exec.c does. Or the previous block ran whole up to an x86 rep string
 * instruction (REP_DONE), which this block may enter again. Closes the
 * entry.
 */
static void fast_cut(const TbInfo *tb)
{
    const TbInfo *prev = tb_by_id(vcpu0->open);
    uint32_t k = 0;

    if (vcpu0->countdown & REP_DONE) {
        /* prev ran whole: if this block starts by entering its last
         * instruction again, that entry is not counted (before this
         * block's own counting adds it). */
        bool again = tb->rep_first && tb->pc == prev->last;

        vcpu0->countdown &= COUNTS_MASK;
        if (again) {
            vcpu0->countdown += 1ull << BLOCK_BITS;
            vcpu0->sum -= mix(tb->pc);
            /* A block of that instruction alone is no block (as retire()
             * has it): it takes no instruction off, and millions of them
             * (a rep stos over megabytes) would carry into the
             * instructions. The block is counted below, at its start. */
            if (tb->n == 1) {
                if (vcpu0->countdown & BLOCK_MASK) {
                    vcpu0->countdown -= 1;
                } else {
                    blocks_before -= 1;
                }
            }
        }
        fall = again ? tb->pc : prev->end;
        vcpu0->countdown |= CLOSED;
        return;
    }

    for (uint32_t m = 1; m < prev->n; m++) {
        if (prev->insns[m].vaddr == tb->pc) {
            k = m;
            break;
        }
    }
    if (k) {
        vcpu0->countdown += (uint64_t)(prev->n - k) << BLOCK_BITS;
        vcpu0->sum -= sum_of(prev, k, prev->n);
        fall = tb->pc;      /* going on where it stopped is no jump */
    } else {
        fall = prev->end;
    }
    vcpu0->countdown |= CLOSED;
}

/*
 * This block reaches `target`. It may cross one or more marks: the first
 * is stream.next_mark - start instructions into it. The state there is the
 * sum so far plus the block's prefix: computed now, before the block runs,
 * it is what it will be (the addresses are the block's, whatever makes it
 * stop and restart). Called too for a block that ends exactly at a mark,
 * so that a snapshot due from the next block on knows where this one falls
 * through to, and at a `target` short of the mark.
 */
static void fast_mark(const TbInfo *tb, uint64_t start)
{
    while (stream.next_mark - start < tb->n) {
        uint64_t j = stream.next_mark - start;
        uint64_t at = start + j;

        stream.blocks = blocks_started();
        if (sync_fast_mark(at, vcpu0->sum + sum_of(tb, 0, j)) &&
            regs_snapshots()) {
            regs_from = at;
            armed = true;
        }
    }
}

/*
 * regs=on: the first block reached by a jump at or after a checkpoint
 * starts with a register snapshot (see exec.c's vcpu_tb_exec_regs() for
 * why jump targets: they are the same points however code is split). While
 * one is due every block calls here (see countdown_from()), so `fall` is
 * kept here: this block's end, unless it is cut short (then fast_cut()
 * says where it stopped, before the next block looks).
 */
static void fast_regs(const TbInfo *tb, uint64_t start)
{
    if (start >= regs_from && tb->pc != fall) {
        add_event(start, LS_EV_REGS, tb->pc, 0, regs_hash());
        armed = false;
    }
}

/*
 * At a block's start, when the previous block was left open, when this
 * one reaches `target` or while a snapshot is due (the entry is at most
 * threshold()).
 */
static void __attribute__((noinline)) fast_call(const TbInfo *tb)
{
    uint64_t start;

    if (!(vcpu0->countdown & CLOSED)) {
        fast_cut(tb);
    }
    start = position();
    if (start + tb->n < target && !armed) {
        return;
    }
    fast_mark(tb, start);
    if (armed) {
        fast_regs(tb, start);
    }
    fall = tb->end;
    countdown_from(start, tb);
}

/*
 * The previous block ran whole to an x86 rep string instruction, and this
 * block is that instruction alone, entered again (as QEMU does once an
 * iteration without chaining, or under icount): no instruction and no
 * block, as fast_cut() has it, the most frequent reason to call C, in a
 * few instructions. False, and nothing done, when anything else is to do.
 */
static inline bool rep_again(const TbInfo *tb)
{
    uint64_t w = vcpu0->countdown;

    if ((w & (CLOSED | REP_DONE)) != REP_DONE || vcpu0->open != tb->id ||
        tb->n != 1 || !tb->rep_first || armed ||
        !((w & COUNTS_MASK) >> BLOCK_BITS) || !(w & BLOCK_MASK)) {
        return false;
    }
    vcpu0->countdown = CLOSED | ((w & COUNTS_MASK) + (1ull << BLOCK_BITS) - 1);
    vcpu0->sum -= tb->sum;
    return true;
}

/* From API 3 on: called only when the entry is at most threshold(tb). */
static void fast_block(unsigned int vcpu_index, void *udata)
{
    const TbInfo *tb = udata;

    if (!rep_again(tb)) {
        fast_call(tb);
    }
}

/* Before API 3: a block's counting, inline from API 3 on, at its start. */
static inline void count_block(const TbInfo *tb)
{
    vcpu0->countdown += 1 - ((uint64_t)tb->n << BLOCK_BITS) - CLOSED;
    vcpu0->sum += tb->sum;
    vcpu0->open = tb->id;
}

/* fast_every()'s rare case, apart so that the common one saves no register. */
static void __attribute__((noinline)) fast_every_call(const TbInfo *tb)
{
    if (!rep_again(tb)) {
        fast_call(tb);
    }
    count_block(tb);
}

/*
 * Before API 3, which has neither conditional callbacks nor inline stores,
 * at every block: what QEMU tests from API 3 on, then the block's counting,
 * which C does in fewer instructions than QEMU's inline adds, and saves
 * translating them. Only the add on the last instruction stays inline.
 */
/*
 * fast_every() with several vCPUs or guest threads: this thread may wait
 * for its turn (threads.c), and the other vCPUs' inline adds are folded
 * (vcpus.c). Apart, so that the one-vCPU case saves no register.
 */
static void __attribute__((noinline))
fast_every_many(unsigned int vcpu_index, const TbInfo *tb)
{
    if (threads.many && (!threads_counted() || !threads_block(tb, position()))) {
        return;
    }
    vcpus_fold();
    if (vcpus_hashed_cheap() && vcpus_turn(vcpu_index, tb)) {
        vcpu0->sum += vcpu_term(vcpus.turn);    /* see vcpus_hashed() */
    }
    if (vcpu0->countdown <= threshold(tb)) {
        fast_every_call(tb);
        return;
    }
    count_block(tb);
}

static void fast_every(unsigned int vcpu_index, void *udata)
{
    const TbInfo *tb = udata;

    if (G_UNLIKELY(vcpus.n > 1)) {
        fast_every_many(vcpu_index, tb);
        return;
    }
    if (G_UNLIKELY(vcpu0->countdown <= threshold(tb))) {
        fast_every_call(tb);
        return;
    }
    count_block(tb);
}

/*
 * Whether the translated code counts blocks (from API 3): not with several
 * vCPUs, whose inline stores would land in any vCPU's entry (vcpus.c);
 * there fast_every() counts, and only the adds on last instructions stay
 * inline, folded into vCPU 0's entry.
 */
static bool counts_in_code(void)
{
    return COMPAT_HAS_COND_CB && vcpus.n == 1;
}

void fast_install(void)
{
    board = compat_scoreboard_new(sizeof(FastVcpu));
#if QEMU_PLUGIN_VERSION >= 2
    vcpus_fold_add(board, offsetof(FastVcpu, countdown));
#endif
}

/* vCPU 0 exists: its entry does too. */
void fast_vcpu_init(void)
{
    vcpu0 = compat_scoreboard_find(board, 0);
    blocks_before = 0;
    target = MIN(stream.next_mark, FAST_SPAN);
    vcpu0->countdown = CLOSED | target << BLOCK_BITS;
}

/*
 * Instrument a translated block: the conditional callback first (QEMU
 * emits it before the inline operations), then the block's own counting.
 */
void fast_tb_trans(struct qemu_plugin_tb *qtb, const TbInfo *tb)
{
    struct qemu_plugin_insn *last;

    if (tb->n == 0) {
        return;
    }
    if (counts_in_code()) {
        compat_tb_cb_if(qtb, fast_block,
                        regs_snapshots() ? QEMU_PLUGIN_CB_R_REGS
                                         : QEMU_PLUGIN_CB_NO_REGS,
                        COMPAT_COND_LE, entry(offsetof(FastVcpu, countdown)),
                        threshold(tb), (void *)tb);
    } else {
        qemu_plugin_register_vcpu_tb_exec_cb(qtb, fast_every,
                                             regs_snapshots()
                                                 ? QEMU_PLUGIN_CB_R_REGS
                                                 : QEMU_PLUGIN_CB_NO_REGS,
                                             (void *)tb);
    }
    if (counts_in_code()) {
        compat_tb_inline(qtb, true, entry(offsetof(FastVcpu, open)), tb->id);
        compat_tb_inline(qtb, false, entry(offsetof(FastVcpu, countdown)),
                         1 - ((uint64_t)tb->n << BLOCK_BITS) - CLOSED);
        compat_tb_inline(qtb, false, entry(offsetof(FastVcpu, sum)),
                         tb->sum);
    }
    last = qemu_plugin_tb_get_insn(qtb, tb->n - 1);
    compat_insn_inline(last, false, entry(offsetof(FastVcpu, countdown)),
                       tb->rep_last ? REP_DONE : CLOSED);
    /* The board may have moved while QEMU grew it. */
    vcpu0 = compat_scoreboard_find(board, 0);
}

/*
 * The position of a system call's instruction: the running block's last
 * (a system call ends its block), which the block's start has counted.
 */
uint64_t fast_syscall_pos(void)
{
    g_assert(vcpu0);
    return position() - 1;
}

/*
 * The guest ended: the stream's length and sum into `stream` for the end
 * report. A block whose last instruction never started was claimed whole:
 * its instructions are the uncertain tail.
 */
uint64_t fast_exit(void)
{
    const TbInfo *open;

    if (!vcpu0) {
        return 0;   /* QEMU ends before its vCPU started (a refused image) */
    }
    /* A block that ran whole up to a rep instruction is no tail. */
    open = vcpu0->countdown & (CLOSED | REP_DONE) ? NULL
                                                  : tb_by_id(vcpu0->open);

    stream.icount = position();
    stream.hash = vcpu0->sum;
    stream.blocks = blocks_started();
    return open ? open->n : 0;
}

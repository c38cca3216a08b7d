/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * fast.c - the fast pass's inline flavour (fast=on, plugin API 3 on): the
 * translated code itself counts the stream, and C runs only at a mark (a
 * checkpoint, the limit), after a block that was cut short, and for a
 * register snapshot. Most runs never diverge: they should cost about what
 * one QEMU costs. When the checkpoints disagree, the plugin says where
 * ("apart") and parks; the harness then re-runs both sides with the detail
 * pass (the block ring, events, dumps: exec.c and sync.c) to name the
 * instruction. (Before API 3 the fast pass is exec.c's per-block callback
 * without the ring.)
 *
 * Every block takes, at its start, its instruction count off a countdown
 * (and counts itself in the same operation, see BLOCK_BITS) and adds the
 * sum of mix() of its instruction addresses to a running sum: a sum is
 * the same however the code is split into blocks, and a stream that goes
 * elsewhere changes it. A block is counted whole from its start; the
 * inline store on its last instruction clears `open`, so a block whose
 * last instruction never started (an icount I/O re-execution, a restart
 * after a code-page write, an exception) is still open at the next block's
 * start, where fast_cut() takes back what did not run, as exec.c's
 * retire() does. Consecutive entries of an x86 rep string instruction count
 * once (see x86_rep_string()). The callbacks are conditional: QEMU tests
 * the entry in the translated code and calls only when the condition holds.
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
                             * block is counted whole, and the blocks
                             * started (see BLOCK_BITS) */
    uint64_t sum;           /* sum of mix(address) of those instructions */
    uint64_t open;          /* the running block's TbInfo until its last
                             * instruction starts, then 0 */
    uint64_t fall;          /* regs: where falling through from the last
                             * block leads (kept by the callbacks) */
    uint64_t armed;         /* regs: 1 while a snapshot is due */
} FastVcpu;

/* vCPU 0's entries: the board, and where vCPU 0's entry is (it can move). */
static CompatScoreboard *board;
static FastVcpu *vcpu0;

/*
 * `open` once a block's last instruction started, when that is an x86 rep
 * string instruction: the block's TbInfo tagged with this bit (TbInfo is
 * malloc'ed, so the bit is free), which makes the next block's start look
 * whether it enters the instruction again.
 */
#define REP_DONE 1ull

/* regs=on: the position from which the pending snapshot may be taken. */
static uint64_t regs_from;

/*
 * `countdown` holds two counters, so that one inline operation a block
 * keeps both: the instructions left to `target` above BLOCK_BITS, the
 * blocks started since fast_mark() last ran below (a block adds
 * 1 - (n << BLOCK_BITS)): every inline operation is paid at every block.
 * fast_mark() runs at least every FAST_SPAN instructions (`target` is
 * never further), and every block counted takes at least one instruction
 * off (an x86 rep instruction entered again alone is not counted:
 * fast_cut()), so the blocks never carry into the instructions.
 */
#define BLOCK_BITS 24
#define BLOCK_MASK ((1ull << BLOCK_BITS) - 1)
#define FAST_SPAN (1ull << (BLOCK_BITS - 1))

/* The position `countdown` counts to: stream.next_mark, or sooner. */
static uint64_t target;

/* The blocks started before fast_mark() last ran. */
static uint64_t blocks_before;

/*
 * Whether the translated code counts the stream (this flavour): fast=on
 * from API 3 on, but not while recording, which needs a call at every
 * block (record.c) and takes the callback flavour.
 */
bool fast_counts_inline(void)
{
    return options.fast && COMPAT_HAS_INLINE_FAST && !options.record;
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

/* The position of the running block's start (before its own counting). */
static uint64_t position(void)
{
    return target - (vcpu0->countdown >> BLOCK_BITS);
}

/* Blocks started so far (before the running block's own counting). */
static uint64_t blocks_started(void)
{
    return blocks_before + (vcpu0->countdown & BLOCK_MASK);
}

/* Count from start, a block's start, to the next mark (or FAST_SPAN on). */
static void countdown_from(uint64_t start)
{
    blocks_before = blocks_started();
    target = start + MIN(stream.next_mark - start, FAST_SPAN);
    vcpu0->countdown = (target - start) << BLOCK_BITS;
}

/*
 * The previous block's last instruction never started. If execution went
 * on inside it, only the instructions before that point ran; otherwise (an
 * exception to elsewhere) where it stopped is unknown: it is claimed whole,
 * as exec.c does.
 */
static void fast_cut(unsigned int vcpu_index, void *udata)
{
    const TbInfo *tb = udata;
    const TbInfo *prev = (const TbInfo *)(uintptr_t)(vcpu0->open & ~REP_DONE);
    uint32_t k = 0;

    if (vcpu0->open & REP_DONE) {
        /* prev ran whole, ending with an x86 rep string instruction: if
         * this block starts by entering it again, that entry is not counted
         * (before this block's own counting adds it). */
        bool again = tb->rep_first && tb->pc == prev->last;

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
        vcpu0->fall = again ? tb->pc : prev->end;
        vcpu0->open = 0;
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
        vcpu0->fall = tb->pc;      /* going on where it stopped is no jump */
    } else {
        vcpu0->fall = prev->end;
    }
    vcpu0->open = 0;
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
static void fast_mark(unsigned int vcpu_index, void *udata)
{
    const TbInfo *tb = udata;
    uint64_t start = position();

    while (stream.next_mark - start < tb->n) {
        uint64_t j = stream.next_mark - start;
        uint64_t at = start + j;

        stream.blocks = blocks_started();
        if (sync_fast_mark(at, vcpu0->sum + sum_of(tb, 0, j)) &&
            regs_snapshots()) {
            regs_from = at;
            vcpu0->armed = 1;
        }
    }
    countdown_from(start);
    /* While a snapshot is due, fast_regs() keeps `fall` (it still needs
     * the block before this one's, as fast_cut() left it). */
    if (!vcpu0->armed) {
        vcpu0->fall = tb->end;
    }
}

/*
 * regs=on: the first block reached by a jump at or after a checkpoint
 * starts with a register snapshot (see exec.c's vcpu_tb_exec_regs() for
 * why jump targets: they are the same points however code is split). Called
 * at every block while one is due, so it keeps `fall` itself (no inline
 * store at every block's end): this block's end, unless it is cut short
 * (then fast_cut() says where it stopped, before this runs again).
 */
static void fast_regs(unsigned int vcpu_index, void *udata)
{
    const TbInfo *tb = udata;
    uint64_t pos = position();

    if (pos < regs_from || tb->pc == vcpu0->fall) {
        vcpu0->fall = tb->end;
        return;
    }
    add_event(pos, LS_EV_REGS, tb->pc, 0, regs_hash());
    vcpu0->armed = 0;
}

void fast_install(void)
{
    board = compat_scoreboard_new(sizeof(FastVcpu));
}

/* vCPU 0 exists: its entry does too. */
void fast_vcpu_init(void)
{
    vcpu0 = compat_scoreboard_find(board, 0);
    countdown_from(0);
}

/*
 * Instrument a translated block: conditional callbacks first (QEMU emits
 * them in this order), then the block's own counting.
 */
void fast_tb_trans(struct qemu_plugin_tb *qtb, const TbInfo *tb)
{
    struct qemu_plugin_insn *last;

    if (tb->n == 0) {
        return;
    }
    compat_tb_cb_if(qtb, fast_cut, QEMU_PLUGIN_CB_NO_REGS, COMPAT_COND_NE,
                    entry(offsetof(FastVcpu, open)), 0, (void *)tb);
    /* countdown >> BLOCK_BITS <= n, whatever the blocks below. */
    compat_tb_cb_if(qtb, fast_mark, QEMU_PLUGIN_CB_NO_REGS, COMPAT_COND_LE,
                    entry(offsetof(FastVcpu, countdown)),
                    ((uint64_t)tb->n << BLOCK_BITS) | BLOCK_MASK, (void *)tb);
    if (regs_snapshots()) {
        compat_tb_cb_if(qtb, fast_regs, QEMU_PLUGIN_CB_R_REGS, COMPAT_COND_EQ,
                        entry(offsetof(FastVcpu, armed)), 1, (void *)tb);
    }
    compat_tb_inline(qtb, true, entry(offsetof(FastVcpu, open)),
                     (uintptr_t)tb);
    compat_tb_inline(qtb, false, entry(offsetof(FastVcpu, countdown)),
                     1 - ((uint64_t)tb->n << BLOCK_BITS));
    compat_tb_inline(qtb, false, entry(offsetof(FastVcpu, sum)), tb->sum);
    last = qemu_plugin_tb_get_insn(qtb, tb->n - 1);
    compat_insn_inline(last, true, entry(offsetof(FastVcpu, open)),
                       tb->rep_last ? (uintptr_t)tb | REP_DONE : 0);
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
    open = vcpu0->open & REP_DONE ? NULL
                                  : (const TbInfo *)(uintptr_t)vcpu0->open;

    stream.icount = position();
    stream.hash = vcpu0->sum;
    stream.blocks = blocks_started();
    return open ? open->n : 0;
}

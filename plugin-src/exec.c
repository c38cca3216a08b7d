/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * exec.c - the hot path: the TB exec callbacks, which retire the previous
 * block into this side's stream (the running hash, the counts and the block
 * ring, all in `stream`) at the start of every executed block. Everything
 * they call per block is here or inline in stream.h, so that the compiler
 * sees it whole; anything rarer (a checkpoint, the limit, a stop) is
 * at_mark()'s, in sync.c. The exec callbacks allocate nothing and take no
 * lock.
 */
#include "lockstep.h"
#include "stream.h"

/*
 * A margin on the block ring's reach as stream_alloc() adds it up, in whole
 * blocks and exact marks: a block that overshoots a mark, or retires in
 * part, takes an entry the sum does not count.
 */
#define RING_SLACK 64

/*
 * No instruction has retired yet: last_pc is no address, so a guest that
 * starts at address 0 (sparc's -bios) does not look like re-entering it.
 */
Stream stream __attribute__((aligned(64))) = { .last_pc = UINT64_MAX };

/* The running hash after k instructions of tb, from instruction first. */
uint64_t __attribute__((noinline))
prefix_hash(uint64_t h, const TbInfo *tb, uint32_t first, uint64_t k)
{
    uint64_t mul = stream_mul();

    for (uint64_t i = first; i < first + k; i++) {
        h = h * mul + mix(tb->insns[i].vaddr);
    }
    return h;
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
void retire(uint64_t next_pc)
{
    const TbInfo *tb = stream.pending;
    uint32_t end = *stream.last_insns == stream.expect ? tb->n
                                                       : cut_short(tb, next_pc);
    /* In the fast pass only x86 rep entries: as fast.c counts. */
    uint32_t first = tb->pc == stream.last_pc &&
                     (!options.fastcount || tb->rep_first);
    uint64_t start = stream.icount;
    uint64_t h0 = stream.hash;

    death_block_cut();
    if (G_UNLIKELY(end <= first)) {
        return;
    }
    ring_append(RING_MAKE_KEY(tb->id, first, end) |
                RING_VCPU_KEY(stream.vcpu));
    stream.blocks++;
    stream.icount = start + end - first;
    stream.hash = G_LIKELY(end == tb->n && !first)
                  ? h0 * tb->pow + tb->hash
                  : prefix_hash(h0, tb, first, end - first);
    stream.last_pc = G_LIKELY(end == tb->n) ? tb->last
                                            : tb->insns[end - 1].vaddr;
    if (G_UNLIKELY(stream.icount >= stream.next_mark)) {
        at_mark(tb, first, start, h0);
    }
}

/*
 * The hot path: runs at the start of every executed block. The common case,
 * the pending block ran whole and did not start by repeating the last
 * instruction, is retire() in a few instructions; anything else goes there.
 */
static inline void retire_pending(const TbInfo *tb)
{
    const TbInfo *p = stream.pending;

    if (G_LIKELY(p && *stream.last_insns == stream.expect &&
                 p->pc != stream.last_pc)) {
        uint64_t start = stream.icount;
        uint64_t h0 = stream.hash;

        ring_append(p->key | RING_VCPU_KEY(stream.vcpu));
        stream.blocks++;
        stream.icount = start + p->n;
        stream.hash = h0 * p->pow + p->hash;
        stream.last_pc = p->last;
        if (G_UNLIKELY(stream.icount >= stream.next_mark)) {
            at_mark(p, 0, start, h0);
        }
    } else if (p) {
        retire(tb->pc);
    }
}

/*
 * vcpu_tb_exec() with several vCPUs or guest threads: fold the others'
 * inline adds (vcpus.c) before reading them; a thread may wait for its
 * turn (threads.c) while the others run, whose last block is pending
 * then. Apart, so that the one-vCPU case saves no register.
 */
static void __attribute__((noinline))
vcpu_tb_exec_many(unsigned int vcpu_index, const TbInfo *tb)
{
    if (!threads_counted()) {
        return;     /* a thread not yet numbered, or all run free */
    }
    vcpus_fold();
    retire_pending(tb);
    if (threads.many) {
        stream.pending = NULL;
        if (!threads_block(tb, stream.icount)) {
            return;
        }
        vcpus_fold();
        retire_pending(tb);
    }
    vcpus_block(vcpu_index);
    stream.pending = tb;
    stream.expect = *stream.last_insns + (tb->n > 1);
}

void vcpu_tb_exec(unsigned int vcpu_index, void *udata)
{
    const TbInfo *tb = udata;

    if (G_UNLIKELY(vcpus.n > 1)) {
        vcpu_tb_exec_many(vcpu_index, tb);
        return;
    }
    retire_pending(tb);
    stream.pending = tb;
    /* One-instruction blocks have no inline bump: they count as whole. */
    stream.expect = *stream.last_insns + (tb->n > 1);
}

/* Where falling through from the last retired instruction of p leads. */
static uint64_t fall_through(const TbInfo *p)
{
    if (stream.last_pc == p->last) {
        return p->end;
    }
    for (uint32_t i = 0; i < p->n; i++) {
        if (p->insns[i].vaddr == stream.last_pc) {
            return stream.last_pc + p->insns[i].size;
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
void vcpu_tb_exec_regs(unsigned int vcpu_index, void *udata)
{
    const TbInfo *tb = udata;
    const TbInfo *p = stream.pending;
    uint64_t at;

    vcpu_tb_exec(vcpu_index, udata);
    at = stream.icount - comparison.origin;
    if (at >= registers.next && tb->pc != stream.last_pc &&
        (!p || tb->pc != fall_through(p))) {
        add_event(stream.icount, LS_EV_REGS, tb->pc, 0, regs_hash());
        registers.next = (at / options.regs_every + 1) * options.regs_every;
    }
}

/* With narrow=: count as usual; step through the blocks in the range. */
void vcpu_tb_exec_narrow(unsigned int vcpu_index, void *udata)
{
    const TbInfo *tb = udata;
    uint64_t base;
    bool on;

    vcpu_tb_exec(vcpu_index, udata);
    base = pending_base();
    /* Narrowing steps through the guest's first process: a forked child
     * (its stream the parent's up to the fork) reports no step. */
    on = !process.forked && base + tb->n > options.narrow.from &&
         base <= options.narrow.to;
    *narrowing.on = on;
    if (G_UNLIKELY(vcpus.n > 1)) {
        vcpus_store(&narrowing.on_counter, on);
    }
}

/*
 * The guest ended: retire the block it ended in. If it ended inside it,
 * death.c may know how many of its instructions started (linux-user: the
 * last one faulted); else (a store that powers the machine off, say) how
 * much of that block ran is unknown: it is claimed whole, and the claimed
 * instructions are returned as the stream's uncertain "tail".
 */
uint64_t retire_last(void)
{
    uint64_t before = stream.icount;
    uint32_t started;
    bool whole;

    if (!stream.pending) {
        return 0;
    }
    whole = *stream.last_insns == stream.expect;
    started = whole ? 0 : death_started();
    if (started && started < stream.pending->n) {
        /* cut_short() takes the instruction after the last one started */
        retire(stream.pending->insns[started].vaddr);
        return 0;
    }
    retire(UINT64_MAX);
    return whole ? 0 : stream.icount - before;
}

/*
 * The block ring must hold every block from the last agreeing checkpoint
 * to where this side may be when it dumps (up to a window and two intervals
 * on, plus what it runs on and the dump's context), at one instruction per
 * block in the worst case.
 */
void stream_alloc(void)
{
    uint64_t size = 1;

    /* The fast pass never dumps: a few entries for ring_append() to use. */
    while (size < (options.fast ? RING_SLACK
                                : options.window + 2 * options.interval +
                                  options.reconverge + options.history +
                                  DUMP_EXTRA + RING_SLACK)) {
        size <<= 1;
    }
    stream.ring = g_new0(uint64_t, size);
    stream.ring_mask = size - 1;
}

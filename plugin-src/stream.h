/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * stream.h - the executed stream's inline helpers, for the hot path and
 * what reads the stream back: the hashes, the block ring and its entries'
 * bit packing, the event ring's indexing, x86 rep string instructions,
 * and retiring a block that ran whole (exec_block_fast(), record.c's
 * callback). Inline here so that the compiler sees each callback whole;
 * the state they touch is lockstep.h's.
 */
#ifndef LOCKSTEP_STREAM_H
#define LOCKSTEP_STREAM_H

#include "lockstep.h"

/* The running hash: h = h * HASH_MUL + mix(x) for each item x. */
#define HASH_MUL 0x9e3779b97f4a7c15ull
/* Combines the event hash into a checkpoint's (see combine()). */
#define EV_MUL 0xc2b2ae3d27d4eb4full

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
 * polynomial: order matters); the fast pass's only adds (inline operations
 * can only add constants, fast.c), and recording's callback (record.c)
 * must compute the same numbers to compare with it.
 */
static inline uint64_t stream_mul(void)
{
    return options.fast ? 1 : HASH_MUL;
}

/* The term a switch to vCPU v adds to the stream's hash (vcpus_hashed()). */
static inline uint64_t vcpu_term(unsigned v)
{
    return mix(0x76637075ull << 32 | v);
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
 * A block ring entry, one 64-bit word: the block's TbInfo id (bits 0-27),
 * the vCPU that ran it (bits 28-31: stream.vcpu),
 * which of its instructions retired, [first, end) (end in bits 32-41, so a
 * block has at most 1023 instructions: QEMU stops at 512; first in bit 42),
 * and how many times in a row it ran so (bits 43-63). A block that runs
 * again right after itself (a tight loop) only bumps the count of the
 * entry already in cache, instead of writing a new one.
 */
#define RING_MAKE_KEY(id, first, end) \
    ((uint64_t)(id) | (uint64_t)(end) << 32 | (uint64_t)(first) << 42)
#define RING_ID_MAX ((1u << 28) - 1)
#define RING_ID(v) ((uint32_t)(v) & RING_ID_MAX)
#define RING_VCPU(v) ((uint32_t)(v) >> 28 & 0xf)
#define RING_VCPU_KEY(vcpu) ((uint64_t)(vcpu) << 28)
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
    return stream.ring[j & stream.ring_mask];
}

/* The oldest entry still in the ring. */
static inline uint64_t ring_first_kept(void)
{
    uint64_t size = stream.ring_mask + 1;

    return stream.entries > size ? stream.entries - size : 0;
}

/* Retire a block as ring entry `key`: a repeat of the last one bumps it. */
static inline void ring_append(uint64_t key)
{
    uint64_t *last = &stream.ring[(stream.entries - 1) & stream.ring_mask];

    if (RING_KEY(*last) == key && RING_REP(*last) < RING_REP_MAX) {
        *last += RING_REP_ONE;
    } else {
        stream.ring[stream.entries++ & stream.ring_mask] = key | RING_REP_ONE;
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
    uint64_t j = stream.entries;

    *start = stream.icount;
    while (j > first_kept && *start > pos) {
        uint64_t v = ring_at(--j);
        *start -= RING_REP(v) * RING_COUNT(v);
    }
    return j;
}

/* The TbInfo of a ring entry. */
static inline const TbInfo *ring_tb(uint64_t v)
{
    return g_ptr_array_index(tb_table.by_id, RING_ID(v));
}

/* Event j (counted since the start, not wrapped). */
static inline Event *event_at(uint64_t j)
{
    return &events.ring[j & events.mask];
}

/* The oldest event still in the ring. */
static inline uint64_t events_first_kept(void)
{
    return events.count > events.mask + 1 ? events.count - events.mask - 1 : 0;
}

/*
 * The stream index of the pending block's first instruction: where the
 * retired stream ends, less one when that instruction repeats the last
 * retired one (see retire()). Valid while the pending block runs.
 */
static inline uint64_t pending_base(void)
{
    return stream.icount -
           (stream.pending->pc == stream.last_pc &&
            (!options.fastcount || stream.pending->rep_first));
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
            return rep && ((b >= 0xa4 && b <= 0xa7) ||
                           (b >= 0xaa && b <= 0xaf) ||
                           (b >= 0x6c && b <= 0x6f));
        }
    }
    return false;
}

/* The common case: p, the pending block, ran whole and did not start by
 * repeating the last instruction. */
static inline bool ran_whole(const TbInfo *p)
{
    return p && *stream.last_insns == stream.expect && p->pc != stream.last_pc;
}

/* Retire p, which ran whole, into the stream (a mark it reaches is the
 * caller's). */
static inline void retire_whole(const TbInfo *p)
{
    stream.blocks++;
    stream.icount += p->n;
    stream.hash += p->hash;
    stream.last_pc = p->last;
}

/* tb is the block about to run. */
static inline void make_pending(const TbInfo *tb)
{
    stream.pending = tb;
    /* One-instruction blocks have no inline bump: they count as whole. */
    stream.expect = *stream.last_insns + (tb->n > 1);
}

/*
 * Recording's counting (record.c's callback), as the fast pass counts:
 * retire the pending block into the stream (its sum; no block ring, which
 * it never dumps), then make tb pending. The common case, the pending
 * block ran whole and did not start by repeating the last instruction,
 * takes a few instructions; anything else is retire()'s.
 */
/* The first half: retire the pending block, tb being the next one run. */
static inline void retire_before(const TbInfo *tb)
{
    const TbInfo *p = stream.pending;

    if (G_LIKELY(ran_whole(p))) {
        uint64_t start = stream.icount;
        uint64_t h0 = stream.hash;

        retire_whole(p);
        if (G_UNLIKELY(stream.icount >= stream.next_mark)) {
            at_mark(p, 0, start, h0);
        }
    } else if (p) {
        retire(tb->pc);
    }
}

static inline void exec_block_fast(const TbInfo *tb)
{
    retire_before(tb);
    make_pending(tb);
}

#endif /* LOCKSTEP_STREAM_H */

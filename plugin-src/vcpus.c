/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * vcpus.c - several vCPUs in system mode (vcpus=N, N > 1). Under icount
 * QEMU runs every vCPU on one host thread, in turn (round-robin TCG), and
 * switches at points icount makes deterministic: their blocks form one
 * stream, in the order they ran, and each side compares that stream as it
 * would one vCPU's. Two things the plugin API does not give per vCPU are
 * made up here.
 *
 * Inline operations. QEMU 10.0 to 10.2 give a block that is not
 * CF_PARALLEL (round-robin never is) the index of the vCPU that translated
 * it, in its callbacks and inline operations alike; blocks are shared
 * between vCPUs, so a block that vCPU 1 translated and vCPU 0 runs adds to
 * vCPU 1's scoreboard entry. Every inline operation the plugin emits is an
 * add to a counter that C reads (or a flag that C writes), so before C
 * reads one, the other vCPUs' entries are folded into vCPU 0's
 * (vcpus_fold()); a flag C writes goes to every entry (vcpus_store()).
 * The fast pass's inline stores cannot fold: with several vCPUs it counts
 * in C at every block (fast.c).
 *
 * Which vCPU runs (vcpuid=). apic: x86 from API 5 (QEMU 10.1): the local
 * APIC's ID register, read through physical memory, answers for the
 * running vCPU (QEMU dispatches it to current_cpu's APIC); vcpu_init maps
 * IDs to indices. index: the callback's own vCPU index, right before QEMU
 * 10.0. none: not known (then nothing names a vCPU). The detail pass reads
 * it at every block and keeps it in the block ring; the fast pass does not
 * read it (a different interleaving changes the stream it compares).
 */
#include "lockstep.h"

#include <string.h>

#include "stream.h"

Vcpus vcpus = { .n = 1 };

/* The x86 local APIC's ID register (xAPIC: the ID in bits 24-31). */
#define APIC_ID_HWADDR 0xfee00020ull

/* Additive scoreboard fields to fold: their boards and offsets. */
#define FOLD_MAX 4
static struct {
    CompatScoreboard *board;
    size_t offset;
} folds[FOLD_MAX];
static unsigned n_folds;

#if QEMU_PLUGIN_VERSION >= 5
static GByteArray *apic_buf;
#endif

bool vcpus_install(const qemu_info_t *info)
{
    vcpus.n = options.vcpus;
    if (vcpus.n > VCPUS_MAX) {
        fprintf(stderr, "lockstep: vcpus=%u: at most %u\n", vcpus.n,
                VCPUS_MAX);
        return false;
    }
    if (vcpus.n > 1 && !info->system_emulation) {
        fprintf(stderr, "lockstep: vcpus= is for system mode\n");
        return false;
    }
    vcpus.source = VCPU_ID_NONE;
    if (g_str_equal(options.vcpuid, "index")) {
        vcpus.source = VCPU_ID_INDEX;
    } else if (g_str_equal(options.vcpuid, "apic")) {
#if QEMU_PLUGIN_VERSION >= 5
        if (!options.x86) {
            fprintf(stderr, "lockstep: vcpuid=apic is for x86 guests\n");
            return false;
        }
        vcpus.source = VCPU_ID_APIC;
        apic_buf = g_byte_array_new();
        memset(vcpus.apic_to_index, 0xff, sizeof(vcpus.apic_to_index));
#else
        fprintf(stderr, "lockstep: vcpuid=apic needs plugin API 5 (QEMU "
                "10.1 or later)\n");
        return false;
#endif
    } else if (!g_str_equal(options.vcpuid, "none")) {
        fprintf(stderr, "lockstep: vcpuid= wants apic, index or none\n");
        return false;
    }
    return true;
}

#if QEMU_PLUGIN_VERSION >= 5
/* The running vCPU's APIC ID, or -1. */
static int apic_id(void)
{
    if (qemu_plugin_read_memory_hwaddr(APIC_ID_HWADDR, apic_buf, 4) !=
        QEMU_PLUGIN_HWADDR_OPERATION_OK || apic_buf->len < 4) {
        return -1;
    }
    return apic_buf->data[3];
}
#endif

/*
 * vCPU index started (current_cpu is it): learn its APIC ID. False for a
 * vCPU past the count given.
 */
bool vcpus_started(unsigned int index)
{
    if (index >= vcpus.n) {
        return false;
    }
#if QEMU_PLUGIN_VERSION >= 5
    if (vcpus.source == VCPU_ID_APIC) {
        int id = apic_id();

        if (id >= 0) {
            vcpus.apic_to_index[id] = index;
        }
    }
#endif
    return true;
}

void vcpus_fold_add(CompatScoreboard *board, size_t offset)
{
    g_assert(n_folds < FOLD_MAX);
    folds[n_folds].board = board;
    folds[n_folds].offset = offset;
    n_folds++;
}

void vcpus_fold_slow(void)
{
#if QEMU_PLUGIN_VERSION >= 2
    unsigned n = MIN(vcpus.n, (unsigned)qemu_plugin_num_vcpus());

    if (vcpus.frozen) {
        return;
    }
    for (unsigned f = 0; f < n_folds; f++) {
        uint64_t *to = (uint64_t *)((char *)compat_scoreboard_find(
                                        folds[f].board, 0) + folds[f].offset);

        for (unsigned k = 1; k < n; k++) {
            uint64_t *from = (uint64_t *)((char *)compat_scoreboard_find(
                                              folds[f].board, k) +
                                          folds[f].offset);
            *to += *from;
            *from = 0;
        }
    }
#endif
}

/* Forget what vCPU `vcpu`'s inline operations added so far. */
void vcpus_discard(unsigned int vcpu)
{
#if QEMU_PLUGIN_VERSION >= 2
    if (vcpu == 0 || vcpu >= (unsigned)qemu_plugin_num_vcpus()) {
        return;
    }
    for (unsigned f = 0; f < n_folds; f++) {
        *(uint64_t *)((char *)compat_scoreboard_find(folds[f].board, vcpu) +
                      folds[f].offset) = 0;
    }
#endif
}

void vcpus_store(CompatCounter *c, uint64_t value)
{
#if QEMU_PLUGIN_VERSION >= 2
    unsigned n = MIN(vcpus.n, (unsigned)qemu_plugin_num_vcpus());

    for (unsigned k = 0; k < n; k++) {
        *(uint64_t *)qemu_plugin_scoreboard_find(c->score, k) = value;
    }
#else
    c->value = value;
#endif
}

/*
 * The vCPU that runs the block starting now (vcpu_index: the callback's),
 * VCPU_UNKNOWN when it cannot be told.
 */
static unsigned running(unsigned int vcpu_index)
{
    switch (vcpus.source) {
    case VCPU_ID_INDEX:
        return vcpu_index < vcpus.n ? vcpu_index : VCPU_UNKNOWN;
    case VCPU_ID_THREAD:
        return threads_current();
#if QEMU_PLUGIN_VERSION >= 5
    case VCPU_ID_APIC: {
        int id = apic_id();

        return id >= 0 && vcpus.apic_to_index[id] < vcpus.n
               ? vcpus.apic_to_index[id] : VCPU_UNKNOWN;
    }
#endif
    default:
        return VCPU_UNKNOWN;
    }
}

/*
 * A block starts, after the previous one retired (on stream.vcpu): which
 * vCPU runs it. The instructions since the last switch go to the vCPU
 * that ran them.
 */
void vcpus_block(unsigned int vcpu_index)
{
    unsigned now = running(vcpu_index);

    if (now != stream.vcpu) {
        vcpus.insns[stream.vcpu] += stream.icount - vcpus.since;
        vcpus.since = stream.icount;
        stream.vcpu = now;
        if (vcpus_hashed()) {
            stream.hash = stream.hash * stream_mul() + vcpu_term(now);
        }
    }
}

/*
 * The fast pass and recording, at tb's start: whether another vCPU than
 * the last block's runs it (vcpus.turn then says which). Read only at a
 * block not reached by falling through from the last one: a vCPU's turn
 * starting exactly where the other's stopped is taken as none.
 */
bool vcpus_turn(unsigned int vcpu_index, const TbInfo *tb)
{
    bool fell = tb->pc == vcpus.prev_end;
    unsigned now;

    vcpus.prev_end = tb->end;
    if (fell) {
        return false;
    }
    now = running(vcpu_index);
    if (now == vcpus.turn) {
        return false;
    }
    vcpus.turn = now;
    return true;
}

/*
 * How many instructions each vCPU had retired at position `pos` (a block
 * boundary the ring still holds), into out[vcpus.n]: the counts now, less
 * the ring's blocks from pos on.
 */
void vcpus_counts_at(uint64_t pos, uint64_t *out)
{
    uint64_t at = stream.icount;
    uint64_t first_kept = ring_first_kept();

    for (unsigned k = 0; k <= VCPU_UNKNOWN && k < VCPUS_SLOTS; k++) {
        out[k] = vcpus.insns[k];
    }
    out[stream.vcpu] += stream.icount - vcpus.since;
    for (uint64_t j = stream.entries; j > first_kept && at > pos; j--) {
        uint64_t v = ring_at(j - 1);
        uint64_t whole = RING_REP(v) * RING_COUNT(v);
        uint64_t take = MIN(whole, at - pos);

        out[RING_VCPU(v)] -= take;
        at -= take;
    }
}

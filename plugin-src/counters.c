/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * counters.c - the host's time-stamp counters made the same on both sides
 * (linux-user, counters=on, plugin API 5 on).
 *
 * linux-user gives a guest the host's counter: x86 rdtsc and rdtscp, and
 * aarch64's mrs of cntvct_el0, cntpct_el0 and their self-synchronised
 * forms, read it without a system call, so the environment shim cannot
 * answer them. Here the plugin overwrites what such an instruction read:
 * at the start of the next instruction (the value is in the registers
 * only once the read has run), it writes COUNTER_BASE plus the read's
 * position in the stream into the destination registers. The same on both
 * sides, monotonic, one tick an instruction.
 *
 * An inline store before the read marks it pending (its CounterRead); a
 * callback that QEMU makes only while one is pending (a conditional
 * callback, RW_REGS) does the write. QEMU 10.1 and 10.2 end a block at each
 * of these instructions (an I/O read: translator_io_start()), so the next
 * instruction starts a block: that callback comes first at every block's
 * start, before the exec callbacks that count the stream or read the
 * registers, and is registered first so that QEMU emits it first. A read
 * in the middle of a block gets the same callback on the instruction after
 * it. A pending read the next block does not follow (a signal handler
 * came in between) is dropped: the guest keeps the host's value, and the
 * difference is reported as the counter's, as without counters=on.
 */
#include "lockstep.h"

#include <string.h>

#include "stream.h"

/*
 * What a read gives: 1000 s of a 1 GHz counter, then one tick an
 * instruction. Any value the guest could read after a while of uptime.
 */
#define COUNTER_BASE 1000000000000ull

/* A counter-reading instruction: where execution goes on, and its result. */
typedef struct {
    uint64_t next;          /* the address after it */
    int n_dest;
    int dest[2];            /* indices into counters.reg */
} CounterRead;

/* The callback on an instruction after a read in the same block. */
typedef struct {
    uint64_t vaddr;         /* this instruction's address */
    uint32_t back;          /* instructions from the read to the block's end */
} CounterSite;

/* Registers a read can write: x86 rax, rdx; aarch64 x0..x30. */
#define COUNTER_REGS 31

static struct {
    bool on;                /* counters=on, API 5, a known target */
    bool aarch64;
    CompatScoreboard *board;    /* per vCPU: the pending CounterRead */
    uint64_t *pending;          /* vCPU 0's entry (it can move) */
    GHashTable *reads;          /* address -> CounterRead, made once */
    struct qemu_plugin_register *reg[COUNTER_REGS];
    GByteArray *buf;
} counters;

void counters_install(const qemu_info_t *info)
{
    counters.aarch64 = g_str_equal(info->target_name, "aarch64");
    counters.on = options.counters && COMPAT_HAS_WRITE_REGS &&
                  !info->system_emulation &&
                  (g_str_equal(info->target_name, "x86_64") ||
                   counters.aarch64);
    if (!counters.on) {
        return;
    }
    counters.board = compat_scoreboard_new(sizeof(uint64_t));
    counters.reads = g_hash_table_new_full(g_int64_hash, g_int64_equal,
                                           g_free, g_free);
    counters.buf = g_byte_array_new();
}

/*
 * At vCPU init: the destination registers' handles. A target whose gdbstub
 * does not name them cannot have its counters equalised: say so.
 */
bool counters_vcpu_init(void)
{
    g_autoptr(GArray) all = NULL;
    int found = 0;

    if (!counters.on) {
        return true;
    }
    counters.pending = compat_scoreboard_find(counters.board, 0);
    all = compat_registers();
    for (guint i = 0; i < all->len; i++) {
        const CompatRegister *d = &g_array_index(all, CompatRegister, i);
        int k = -1;

        if (counters.aarch64 && d->name[0] == 'x' &&
            g_ascii_isdigit(d->name[1])) {
            k = (int)g_ascii_strtoull(d->name + 1, NULL, 10);
        } else if (!counters.aarch64) {
            k = g_str_equal(d->name, "rax") ? 0
                : g_str_equal(d->name, "rdx") ? 1 : -1;
        }
        if (k >= 0 && k < COUNTER_REGS && !counters.reg[k]) {
            counters.reg[k] = d->handle;
            found++;
        }
    }
    return found == (counters.aarch64 ? COUNTER_REGS : 2);
}

/*
 * Whether insn reads the host's counter, and which registers it writes:
 * the same encodings as harness/verdict/environment.ts recognises.
 */
static bool counter_read(const Insn *insn, CounterRead *r)
{
    static const uint32_t mrs[] = {
        0xd53be020,     /* mrs Xt, cntpct_el0 */
        0xd53be040,     /* mrs Xt, cntvct_el0 */
        0xd53be0a0,     /* mrs Xt, cntpctss_el0 */
        0xd53be0c0,     /* mrs Xt, cntvctss_el0 */
    };
    uint32_t word;

    r->next = insn->vaddr + insn->size;
    if (!counters.aarch64) {
        bool rdtsc = insn->size == 2 && insn->bytes[0] == 0x0f &&
                     insn->bytes[1] == 0x31;
        bool rdtscp = insn->size == 3 && insn->bytes[0] == 0x0f &&
                      insn->bytes[1] == 0x01 && insn->bytes[2] == 0xf9;

        /* Both write edx:eax; rdtscp's ecx (TSC_AUX) is QEMU's own. */
        r->n_dest = 2;
        r->dest[0] = 0;
        r->dest[1] = 1;
        return rdtsc || rdtscp;
    }
    if (insn->size != 4) {
        return false;
    }
    memcpy(&word, insn->bytes, 4);
    word = GUINT32_FROM_LE(word);
    for (size_t i = 0; i < G_N_ELEMENTS(mrs); i++) {
        if ((word & ~0x1fu) == mrs[i]) {
            /* Xt = 31 is xzr: nothing to write. */
            r->n_dest = (word & 0x1f) == 31 ? 0 : 1;
            r->dest[0] = word & 0x1f;
            return r->n_dest > 0;
        }
    }
    return false;
}

/*
 * The position of the last instruction the stream has counted: the read,
 * at the start of the block after it (its block is still the pending one;
 * the fast pass's inline count has not taken the new block yet), as a
 * system call's (events.c).
 */
static uint64_t counted_last(void)
{
    return fast_counts_inline() ? fast_syscall_pos()
                                : pending_base() + stream.pending->n - 1;
}

/* Write what the read at pos should have read. */
static void equalise(const CounterRead *r, uint64_t pos)
{
    uint64_t value = COUNTER_BASE + pos;

    for (int k = 0; k < r->n_dest; k++) {
        /* x86: eax the low half, edx the high half, zero-extended. */
        uint64_t v = counters.aarch64 ? value
                     : k == 0 ? (uint32_t)value : value >> 32;
        uint8_t bytes[8];

        for (int i = 0; i < 8; i++) {
            bytes[i] = v >> (8 * i);    /* both targets are little-endian */
        }
        g_byte_array_set_size(counters.buf, 0);
        g_byte_array_append(counters.buf, bytes, sizeof(bytes));
        compat_write_register(counters.reg[r->dest[k]], counters.buf);
    }
}

/* The start of a block while a read is pending: is this the next insn? */
static void vcpu_counter_block(unsigned int vcpu_index, void *udata)
{
    const TbInfo *tb = udata;
    const CounterRead *r = (const CounterRead *)(uintptr_t)*counters.pending;

    *counters.pending = 0;
    if (r->next == tb->pc) {
        equalise(r, counted_last());
    }
}

/* The instruction after a read in the same block. */
static void vcpu_counter_insn(unsigned int vcpu_index, void *udata)
{
    const CounterSite *site = udata;
    const CounterRead *r = (const CounterRead *)(uintptr_t)*counters.pending;

    *counters.pending = 0;
    if (r->next == site->vaddr) {
        equalise(r, counted_last() - site->back);
    }
}

/* The read at address vaddr, made once and shared by re-translations. */
static const CounterRead *read_at(uint64_t vaddr, const CounterRead *r)
{
    CounterRead *shared = g_hash_table_lookup(counters.reads, &vaddr);

    if (!shared) {
        uint64_t *key = g_new(uint64_t, 1);

        *key = vaddr;
        shared = g_memdup2(r, sizeof(*r));
        g_hash_table_insert(counters.reads, key, shared);
    }
    return shared;
}

/*
 * Instrument a translated block, before anything else is registered on it
 * (QEMU emits callbacks in the order they were registered).
 */
void counters_tb_trans(struct qemu_plugin_tb *qtb, const TbInfo *tb)
{
    CompatEntry pending = { .score = counters.board, .offset = 0 };

    if (!counters.on || tb->n == 0) {
        return;
    }
    compat_tb_cb_if(qtb, vcpu_counter_block, QEMU_PLUGIN_CB_RW_REGS,
                    COMPAT_COND_NE, pending, 0, (void *)tb);
    for (uint32_t i = 0; i < tb->n; i++) {
        CounterRead r;
        const CounterRead *shared;

        if (!counter_read(&tb->insns[i], &r)) {
            continue;
        }
        shared = read_at(tb->insns[i].vaddr, &r);
        compat_insn_inline(qemu_plugin_tb_get_insn(qtb, i), true, pending,
                           (uintptr_t)shared);
        if (i + 1 < tb->n) {
            CounterSite *site = g_new(CounterSite, 1);

            site->vaddr = tb->insns[i + 1].vaddr;
            site->back = tb->n - 1 - i;
            compat_insn_cb_when(qemu_plugin_tb_get_insn(qtb, i + 1),
                                vcpu_counter_insn, QEMU_PLUGIN_CB_RW_REGS,
                                COMPAT_COND_NE, pending, 0, site);
        }
    }
    /* The board may have moved while QEMU grew it. */
    counters.pending = compat_scoreboard_find(counters.board, 0);
}

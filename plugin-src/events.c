/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * events.c - events: the memory accesses and system calls of the running
 * block (mem=on, sys=on) and the register snapshots exec.c takes (regs=on),
 * each of the instruction that made it. It owns the event ring and the
 * event hash (`events`): appending, the hash at a given position, and
 * folding it afresh when the comparison restarts.
 */
#include "lockstep.h"
#include "stream.h"

/*
 * Events one instruction may have; further ones fold into its last. An x86
 * rep string instruction counts once (see retire()) but makes an access per
 * iteration: without a bound, one `rep stosb` could flush the event ring.
 */
#define EV_PER_INSN 64
/*
 * The fast pass's event ring: it only needs the events since the last
 * mark's block (events_before() at a checkpoint), never a dump.
 */
#define FAST_EVENTS 4096

EventLog events;

/*
 * Half as many events as the block ring has entries (1 M events, 40 MB by
 * default): for the window, at most ~0.8 events an instruction, more than
 * the guests here make. Only if something makes events.
 */
void events_alloc(void)
{
    if (options.mem || options.sys || options.sysnote ||
        (options.regs && !options.narrow.on)) {
        /* The fast pass reads back no further than the running block. */
        events.mask = options.fast ? FAST_EVENTS - 1 : stream.ring_mask >> 1;
        events.ring = g_new0(Event, events.mask + 1);
    }
}

void add_event(uint64_t pos, LsEventKind kind, uint64_t a, uint32_t size,
               uint64_t v)
{
    Event *e;

    if (G_UNLIKELY(process.ended)) {
        return;     /* past an exec that failed (process.c): uncompared */
    }
    if (options.record && kind != LS_EV_REGS) {
        record_event(pos, kind, a, size, v);   /* the trace keeps each */
    }
    if (pos == events.last_pos && events.count &&
        events.at_pos >= EV_PER_INSN) {
        if (kind == LS_EV_SYSNOTE || kind == LS_EV_SYSNOTE_CALL) {
            return;     /* a note folds into nothing */
        }
        /* Fold it into the instruction's last event, and that afresh into
         * the hash (from the event before it). */
        uint64_t before = events.count >= 2
                          ? event_at(events.count - 2)->after : 0;

        e = event_at(events.count - 1);
        e->v = mix(e->v) ^ event_key(kind, a, size) ^ mix(v + 1);
        events.hash = before * HASH_MUL + event_term(e);
        e->after = events.hash;
        return;
    }
    events.at_pos = pos == events.last_pos && events.count
                    ? events.at_pos + 1 : 1;
    events.last_pos = pos;
    e = event_at(events.count++);

    e->pos = pos;
    e->kind = kind;
    e->a = a;
    e->size = size;
    e->v = v;
    /* A note is dumped, never hashed: checkpoints agree whatever it says. */
    if (kind != LS_EV_SYSNOTE && kind != LS_EV_SYSNOTE_CALL) {
        events.hash = events.hash * HASH_MUL + event_term(e);
    }
    e->after = events.hash;
}

/* The event hash over the events of instructions before position pos. */
uint64_t events_before(uint64_t pos)
{
    uint64_t kept = events_first_kept();

    for (uint64_t j = events.count; j > kept; j--) {
        const Event *e = event_at(j - 1);
        if (e->pos < pos) {
            return e->after;
        }
    }
    return 0;   /* no event yet (the ring is far larger than a block) */
}

/* Whether the ring still has every event from position pos on. */
bool events_kept_since(uint64_t pos)
{
    return events.count <= events.mask + 1 ||
           event_at(events_first_kept())->pos <= pos;
}

/*
 * The comparison restarts at physical position origin (see rebase()):
 * fold the event hash afresh from there. Register snapshots were taken on
 * the old grid: drop them.
 */
void events_rebase(uint64_t origin)
{
    uint64_t eh = 0;

    for (uint64_t k = events_first_kept(); k < events.count; k++) {
        Event *e = event_at(k);
        if (e->pos >= origin && e->kind == LS_EV_REGS) {
            e->kind = LS_EV_NONE;
        }
        if (e->pos >= origin && e->kind != LS_EV_NONE &&
            e->kind != LS_EV_SYSNOTE && e->kind != LS_EV_SYSNOTE_CALL) {
            eh = eh * HASH_MUL + event_term(e);
        }
        e->after = e->pos >= origin ? eh : 0;
    }
    events.hash = eh;
}

/*
 * The stream position of insn, an instruction of the running block. With
 * icount, QEMU re-executes an I/O instruction found inside a block as a block
 * of its own that has memory callbacks only (no exec callback): the block
 * it came from is still the pending one, and holds the instruction.
 */
static uint64_t insn_pos(const Insn *insn)
{
    const TbInfo *p = stream.pending;
    uintptr_t off = (uintptr_t)insn - (uintptr_t)p->insns;
    uint64_t i = off / sizeof(Insn);

    if (off % sizeof(Insn) || i >= p->n) {
        for (i = 0; i + 1 < p->n && p->insns[i].vaddr != insn->vaddr; i++) {
        }
    }
    return pending_base() + i;
}

/*
 * A load or store of the instruction `udata` points to. A 16-byte
 * access is two 8-byte events: QEMU versions differ in whether a register
 * pair moves as one access or two, which is not the guest's doing.
 */
void vcpu_mem(unsigned int vcpu_index, qemu_plugin_meminfo_t info,
              uint64_t vaddr, void *udata)
{
    if (G_UNLIKELY(!threads_counted())) {
        return;     /* a thread the stream does not count (threads.c) */
    }
    uint64_t pos = insn_pos(udata);
    LsEventKind kind = qemu_plugin_mem_is_store(info) ? LS_EV_STORE
                                                      : LS_EV_LOAD;
    uint32_t size = 1u << qemu_plugin_mem_size_shift(info);
    uint64_t value = 0, high = 0;
    uint64_t vaddr_high = vaddr + 8;

    if (options.memvalues) {
        compat_mem_value(info, &value, &high);
    }
    if (!options.addrs) {
        /* Addresses and the values moved (often addresses) mean nothing
         * across two layouts: direction and size still do. */
        vaddr = vaddr_high = value = high = 0;
    }
    if (size > 8) {
        add_event(pos, kind, vaddr, 8, value);
        add_event(pos, kind, vaddr_high, 8, high);
    } else {
        add_event(pos, kind, vaddr, size, value);
    }
}

/*
 * A system call, made by the pending block's last instruction. In
 * linux-user these callbacks are always registered: they tell env.c when
 * a guest call is in progress (for the shim), with sys=on they make events
 * too. The event hashes the arguments the call takes (syscalls.c), never a
 * register it does not read; with addrs=off (the two QEMUs place the guest
 * differently) the arguments, which may be pointers, are left out.
 */
/* The position of the running block's last instruction, which made a call. */
/* The position of the instruction that runs next (between blocks). */
uint64_t next_position(void)
{
    if (fast_counts_inline()) {
        return fast_syscall_pos() + 1;
    }
    return stream.pending ? pending_base() + stream.pending->n
                          : stream.icount;
}

uint64_t syscall_pos(void)
{
    return fast_counts_inline() ? fast_syscall_pos()
                                : pending_base() + stream.pending->n - 1;
}

void vcpu_syscall(qemu_plugin_id_t id, unsigned int vcpu_index, int64_t num,
                  uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                  uint64_t a5, uint64_t a6, uint64_t a7, uint64_t a8)
{
    const uint64_t args[6] = { a1, a2, a3, a4, a5, a6 };
    uint64_t fold = 0;

    if ((options.sys || options.sysnote) && !process.ended) {
        if (options.addrs) {
            unsigned n = syscall_arg_count(num);

            for (unsigned i = 0; i < n; i++) {
                fold ^= mix(args[i] + i);
            }
        }
        add_event(syscall_pos(),
                  options.sys ? LS_EV_SYSCALL : LS_EV_SYSNOTE_CALL, num, 0,
                  fold);
    }
    env_syscall_start(num, args);
}

/*
 * Its result (an address only with addrs=on), and what an
 * environment-reading call wrote (API 4 on). QEMU calls this before it
 * writes the result to the guest's register; the buffers are written.
 */
void vcpu_syscall_ret(qemu_plugin_id_t id, unsigned int vcpu_idx,
                      int64_t num, int64_t ret)
{
    uint64_t pos;

    env_syscall_end();
    if (process.ended) {
        return;
    }
    if (!options.sys) {
        if (options.sysnote) {
            add_event(threads.on ? threads_call_pos() : syscall_pos(),
                      LS_EV_SYSNOTE, num, 0,
                      options.addrs || !env_is_address(num) ? (uint64_t)ret
                                                            : 0);
        }
        return;
    }
    /* With threads, another may have run during the call (threads.c). */
    pos = threads.on ? threads_call_pos() : syscall_pos();
    add_event(pos, LS_EV_SYSRET, num, 0,
              options.addrs || !env_is_address(num) ? (uint64_t)ret : 0);
    env_outputs(pos, num, ret);
}

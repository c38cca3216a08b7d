/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * locate.c - one address's executions, for a debugger to stop at one of
 * them (harness/debug/). The plugin runs alone, counting the stream as
 * usual, with a callback before every instruction at locatepc=. With
 * locate=N (the locate pass), the first such instruction at position N or
 * later reports how many ran before it and waits for "quit". Without it (a
 * run under gdb), the callback only counts, and "where" asks how many ran
 * and where the stream is while gdb holds the vCPU. It owns `locating`.
 */
#include "lockstep.h"

#include "stream.h"

Locating locating;

/* Before the first block: no checkpoint, no mark; nothing to compare. */
void locate_start(void)
{
    comparison.next_ckpt = UINT64_MAX;
    stream.next_mark = UINT64_MAX;
}

/*
 * Before an instruction at locatepc= (udata: its index in the block). Its
 * position is the pending block's base plus the index: an instruction
 * entered again right after itself (an x86 rep iteration) has the same
 * position each time, and each entry counts, as each stops at a
 * breakpoint.
 */
static void vcpu_insn_locate(unsigned int vcpu_index, void *udata)
{
    uint64_t pos = pending_base() + (uintptr_t)udata;

    if (options.locate && pos >= options.locate && !locating.reported) {
        locating.reported = true;
        report_located(pos, locating.hits);
        wait_for_quit();    /* returns only while QEMU exits */
        return;
    }
    locating.hits++;
}

/* Instrument qtb's instructions at locatepc= (tb: what the plugin keeps). */
void locate_tb_trans(struct qemu_plugin_tb *qtb, const TbInfo *tb)
{
    for (uint32_t i = 0; i < tb->n; i++) {
        if (tb->insns[i].vaddr == options.locate_pc) {
            qemu_plugin_register_vcpu_insn_exec_cb(
                qemu_plugin_tb_get_insn(qtb, i), vcpu_insn_locate,
                QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)i);
        }
    }
}

/*
 * The position of the instruction that runs next, when the vCPU is held
 * between blocks (by gdb): the pending block's base plus its instructions,
 * if it ran whole (*whole). Read by the reader thread while the vCPU
 * waits; a running vCPU makes the answer stale, never wrong in kind.
 */
uint64_t locate_next_pos(bool *whole)
{
    const TbInfo *p = stream.pending;

    if (!p) {
        *whole = true;
        return stream.icount;
    }
    *whole = *stream.last_insns == stream.expect;
    return pending_base() + p->n;
}

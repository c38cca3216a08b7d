/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * regs.c - registers and narrowing (API 2 on; args.c refuses regs= and
 * narrow= before). It owns the registers the orchestrator picked
 * (`registers`) and narrowing's progress (`narrowing`): the handshake that
 * picks the registers, the hash of their values that a register snapshot
 * adds as an event, and for narrow= the callback before every instruction
 * of the range, which finds the registers that changed since the last step
 * (report.c writes the step), and the per-instruction data that callback
 * gets.
 */
#include "lockstep.h"

#include <string.h>

#include "stream.h"

Registers registers;
Narrowing narrowing;

/*
 * Pick the registers "regs I J K..." names (choice: what follows "regs"):
 * indices into `all`, each once. Returns NULL, or why the answer cannot be
 * used (nothing picked then).
 */
static char *pick_registers(const char *choice, const GArray *all)
{
    g_auto(GStrv) words = g_strsplit(choice, " ", -1);
    g_autofree bool *taken = g_new0(bool, all->len + 1);
    guint n = g_strv_length(words);

    if (n > all->len) {
        return g_strdup_printf("regs names %u registers, but this vCPU has "
                               "%u", n, all->len);
    }
    for (guint k = 0; k < n; k++) {
        guint64 i;

        if (!all->len || !g_ascii_string_to_unsigned(words[k], 10, 0,
                                                     all->len - 1, &i,
                                                     NULL)) {
            return g_strdup_printf("regs wants indices below %u: %.40s",
                                   all->len, words[k]);
        }
        if (taken[i]) {
            return g_strdup_printf("regs names register %" G_GUINT64_FORMAT
                                   " twice", i);
        }
        taken[i] = true;
    }
    for (guint k = 0; k < n; k++) {
        guint64 i = g_ascii_strtoull(words[k], NULL, 10);

        registers.prev[registers.n] = g_byte_array_new();
        registers.sel[registers.n++] =
            g_array_index(all, CompatRegister, i).handle;
    }
    return NULL;
}

/*
 * At vCPU init: list the vCPU's registers (name, feature, size) to the
 * orchestrator and wait for its answer, "regs I J K..." (indices into this
 * side's list): the ones both sides have, less the masked ones, in one
 * order. An answer that does not fit the list is reported, and the next
 * one waited for.
 */
void regs_handshake(void)
{
    GArray *all = compat_registers();
    g_autofree int *sizes = g_new0(int, all->len + 1);
    char *why = NULL;

    registers.buf = g_byte_array_new();
    for (guint i = 0; i < all->len; i++) {
        g_byte_array_set_size(registers.buf, 0);
        sizes[i] = compat_read_register(
            g_array_index(all, CompatRegister, i).handle, registers.buf);
    }
    registers.sel = g_new0(struct qemu_plugin_register *, all->len + 1);
    registers.prev = g_new0(GByteArray *, all->len + 1);
    registers.changed = g_new0(bool, all->len + 1);
    /* Before the list: the answer may come as soon as it is read. */
    pthread_mutex_lock(&peer_news.lock);
    commands.want_regs = true;
    pthread_mutex_unlock(&peer_news.lock);
    report_registers(all, sizes);
    do {
        g_autofree char *choice = NULL;

        if (why) {
            report_error(why);
            g_free(why);
        }
        pthread_mutex_lock(&peer_news.lock);
        while (!commands.regs_choice) {
            pthread_cond_wait(&peer_news.cond, &peer_news.lock);
        }
        choice = commands.regs_choice;
        commands.regs_choice = NULL;
        pthread_mutex_unlock(&peer_news.lock);
        why = pick_registers(choice, all);
    } while (why);
    pthread_mutex_lock(&peer_news.lock);
    commands.want_regs = false;
    pthread_mutex_unlock(&peer_news.lock);
    g_array_free(all, true);
}

/* A hash of the picked registers' values; in an R_REGS callback only. */
uint64_t regs_hash(void)
{
    uint64_t h = 0;

    for (guint i = 0; i < registers.n; i++) {
        int len;

        g_byte_array_set_size(registers.buf, 0);
        len = compat_read_register(registers.sel[i], registers.buf);
        for (int k = 0; k < len; k += sizeof(uint64_t)) {
            uint64_t w = 0;
            memcpy(&w, registers.buf->data + k, MIN(sizeof(w), len - k));
            h = h * HASH_MUL + mix(w + i);
        }
    }
    return h;
}

/*
 * The callback data of tb's instructions for narrow=, with their
 * disassembly (qtb is a translation of tb). Made once per TbInfo, however
 * often QEMU translates the code again.
 */
NarrowInsn *narrow_insns_new(const TbInfo *tb, struct qemu_plugin_tb *qtb)
{
    NarrowInsn *steps = g_new(NarrowInsn, tb->n);

    for (uint32_t i = 0; i < tb->n; i++) {
        steps[i].tb = tb;
        steps[i].i = i;
        steps[i].disas = qemu_plugin_insn_disas(qemu_plugin_tb_get_insn(qtb,
                                                                        i));
    }
    return steps;
}

/*
 * Before each instruction of the range: its position, address, bytes and
 * disassembly, and the picked registers whose values changed since the last
 * step (all of them at the first).
 */
void vcpu_insn_narrow(unsigned int vcpu_index, void *udata)
{
    const NarrowInsn *ni = udata;
    uint64_t pos;
    bool first = narrowing.next == 0;

    if (!*narrowing.on) {
        return;     /* API 2 has no conditional callbacks */
    }
    pos = pending_base() + ni->i;
    if (pos < options.narrow.from || pos > options.narrow.to ||
        pos < narrowing.next) {
        return;
    }
    narrowing.next = pos + 1;
    for (guint i = 0; i < registers.n; i++) {
        GByteArray *prev = registers.prev[i];

        g_byte_array_set_size(registers.buf, 0);
        compat_read_register(registers.sel[i], registers.buf);
        registers.changed[i] = first || prev->len != registers.buf->len ||
                               memcmp(prev->data, registers.buf->data,
                                      prev->len) != 0;
        if (registers.changed[i]) {
            g_byte_array_set_size(prev, 0);
            g_byte_array_append(prev, registers.buf->data, registers.buf->len);
        }
    }
    report_step(pos, &ni->tb->insns[ni->i], ni->disas);
}

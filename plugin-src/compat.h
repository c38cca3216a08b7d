/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * compat.h - every difference between the plugin API versions lockstep
 * builds for (1: QEMU 5.0-8.2 ... 5: QEMU 10.1-10.2), as small wrappers,
 * and the choice of plugin header. No other file tests
 * QEMU_PLUGIN_VERSION with #if; the build defines it (-D) to the version
 * of the QEMU that will load the plugin.
 */
#ifndef LOCKSTEP_COMPAT_H
#define LOCKSTEP_COMPAT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

#ifdef LOCKSTEP_REAL_HEADER
#include <qemu-plugin.h>
#else
#include "plugin_api.h"
#endif

/* Register reading (API 2, QEMU 9.0): regs= and narrow= need it. */
#define COMPAT_HAS_REGS (QEMU_PLUGIN_VERSION >= 2)
/* The values loads and stores move (API 4, QEMU 9.2). */
#define COMPAT_HAS_MEM_VALUES (QEMU_PLUGIN_VERSION >= 4)
/* qemu_plugin_read_memory_vaddr (else guest_mem.c, in linux-user). */
#define COMPAT_HAS_READ_MEMORY (QEMU_PLUGIN_VERSION >= 4)
/* Writing registers (API 5, QEMU 10.1): counters=on needs it. */
#define COMPAT_HAS_WRITE_REGS (QEMU_PLUGIN_VERSION >= 5)
/*
 * Not an API change but QEMU's: linux-user runs the plugin's atexit
 * callback before it kills itself with a guest's fatal signal from 8.0
 * on, never up to 7.2. API 1 spans both (5.0-8.2): there death.c hooks
 * QEMU's kill of itself and does nothing when atexit came first.
 */
#define COMPAT_DEATH_MAY_SKIP_ATEXIT (QEMU_PLUGIN_VERSION < 2)

/*
 * A uint64_t of vCPU 0 that inline operations add to: a scoreboard from
 * API 2 on, a plain variable before.
 */
typedef struct {
#if QEMU_PLUGIN_VERSION >= 2
    struct qemu_plugin_scoreboard *score;
#else
    uint64_t value;
#endif
} CompatCounter;

/* At install time. */
static inline void compat_counter_init(CompatCounter *c)
{
#if QEMU_PLUGIN_VERSION >= 2
    c->score = qemu_plugin_scoreboard_new(sizeof(uint64_t));
#endif
}

/*
 * Where vCPU 0's value is: valid from vCPU init on, and a scoreboard may
 * move when it grows, so ask again after every translation that adds to it.
 */
static inline uint64_t *compat_counter_ptr(CompatCounter *c)
{
#if QEMU_PLUGIN_VERSION >= 2
    return qemu_plugin_scoreboard_find(c->score, 0);
#else
    return &c->value;
#endif
}

/* Add imm to the counter, inline, whenever insn starts. */
static inline void compat_insn_inline_add(struct qemu_plugin_insn *insn,
                                          CompatCounter *c, uint64_t imm)
{
#if QEMU_PLUGIN_VERSION >= 2
    qemu_plugin_u64 entry = { .score = c->score, .offset = 0 };

    qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
        insn, QEMU_PLUGIN_INLINE_ADD_U64, entry, imm);
#else
    qemu_plugin_register_vcpu_insn_exec_inline(
        insn, QEMU_PLUGIN_INLINE_ADD_U64, &c->value, imm);
#endif
}

/*
 * Call cb before insn while the counter is imm: from API 3 only then; API 1
 * and 2 have no conditional callbacks, so cb is called every time and must
 * check the counter itself.
 */
static inline void compat_insn_cb_if(struct qemu_plugin_insn *insn,
                                     qemu_plugin_vcpu_udata_cb_t cb,
                                     enum qemu_plugin_cb_flags flags,
                                     CompatCounter *c, uint64_t imm,
                                     void *udata)
{
#if QEMU_PLUGIN_VERSION >= 3
    qemu_plugin_u64 entry = { .score = c->score, .offset = 0 };

    qemu_plugin_register_vcpu_insn_exec_cond_cb(insn, cb, flags,
                                                QEMU_PLUGIN_COND_EQ, entry,
                                                imm, udata);
#else
    qemu_plugin_register_vcpu_insn_exec_cb(insn, cb, flags, udata);
#endif
}

/*
 * The fast pass's counting (fast.c): per-vCPU entries that blocks add to
 * inline (API 1: one plain variable, the plugin's only vCPU; from API 2 a
 * scoreboard), and from API 3 (QEMU 9.1) inline stores and callbacks made
 * only when an entry meets a condition. Before API 3 a "conditional"
 * callback is called at every block and must test the condition itself.
 */
#define COMPAT_HAS_COND_CB (QEMU_PLUGIN_VERSION >= 3)

#if QEMU_PLUGIN_VERSION >= 2
typedef struct qemu_plugin_scoreboard CompatScoreboard;
typedef qemu_plugin_u64 CompatEntry;
#else
typedef struct CompatScoreboard CompatScoreboard;
typedef struct {
    CompatScoreboard *score;
    size_t offset;
} CompatEntry;
#endif
#if QEMU_PLUGIN_VERSION >= 3
typedef enum qemu_plugin_cond CompatCond;
#define COMPAT_COND_EQ QEMU_PLUGIN_COND_EQ
#define COMPAT_COND_NE QEMU_PLUGIN_COND_NE
#define COMPAT_COND_LT QEMU_PLUGIN_COND_LT
#define COMPAT_COND_LE QEMU_PLUGIN_COND_LE
#else
typedef int CompatCond;
#define COMPAT_COND_EQ 0
#define COMPAT_COND_NE 0
#define COMPAT_COND_LT 0
#define COMPAT_COND_LE 0
#endif

/* A scoreboard of `size`-byte entries, one per vCPU (API 1: vCPU 0's). */
static inline CompatScoreboard *compat_scoreboard_new(size_t size)
{
#if QEMU_PLUGIN_VERSION >= 2
    return qemu_plugin_scoreboard_new(size);
#else
    return g_malloc0(size);
#endif
}

/* vCPU `vcpu`'s entry (valid from its init; it moves when the board grows). */
static inline void *compat_scoreboard_find(CompatScoreboard *sb,
                                           unsigned int vcpu)
{
#if QEMU_PLUGIN_VERSION >= 2
    return qemu_plugin_scoreboard_find(sb, vcpu);
#else
    return sb;
#endif
}

/*
 * At the start of tb, inline: entry += imm (add) or entry = imm (store,
 * API 3 on).
 */
static inline void compat_tb_inline(struct qemu_plugin_tb *tb, bool store,
                                    CompatEntry entry, uint64_t imm)
{
#if QEMU_PLUGIN_VERSION >= 3
    qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(
        tb, store ? QEMU_PLUGIN_INLINE_STORE_U64 : QEMU_PLUGIN_INLINE_ADD_U64,
        entry, imm);
#elif QEMU_PLUGIN_VERSION == 2
    g_assert(!store);
    qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(
        tb, QEMU_PLUGIN_INLINE_ADD_U64, entry, imm);
#else
    g_assert(!store);
    qemu_plugin_register_vcpu_tb_exec_inline(
        tb, QEMU_PLUGIN_INLINE_ADD_U64, (char *)entry.score + entry.offset,
        imm);
#endif
}

/*
 * Before insn, inline: entry += imm (add) or entry = imm (store, API 3
 * on).
 */
static inline void compat_insn_inline(struct qemu_plugin_insn *insn,
                                      bool store, CompatEntry entry,
                                      uint64_t imm)
{
#if QEMU_PLUGIN_VERSION >= 3
    qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
        insn, store ? QEMU_PLUGIN_INLINE_STORE_U64 : QEMU_PLUGIN_INLINE_ADD_U64,
        entry, imm);
#elif QEMU_PLUGIN_VERSION == 2
    g_assert(!store);
    qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
        insn, QEMU_PLUGIN_INLINE_ADD_U64, entry, imm);
#else
    g_assert(!store);
    qemu_plugin_register_vcpu_insn_exec_inline(
        insn, QEMU_PLUGIN_INLINE_ADD_U64, (char *)entry.score + entry.offset,
        imm);
#endif
}

/*
 * At the start of tb (before its inline operations), call cb only when
 * `entry cond imm`; before API 3 at every block (cb tests it).
 */
static inline void compat_tb_cb_if(struct qemu_plugin_tb *tb,
                                   qemu_plugin_vcpu_udata_cb_t cb,
                                   enum qemu_plugin_cb_flags flags,
                                   CompatCond cond, CompatEntry entry,
                                   uint64_t imm, void *udata)
{
#if QEMU_PLUGIN_VERSION >= 3
    qemu_plugin_register_vcpu_tb_exec_cond_cb(tb, cb, flags, cond, entry,
                                              imm, udata);
#else
    qemu_plugin_register_vcpu_tb_exec_cb(tb, cb, flags, udata);
#endif
}

/* Before insn, call cb only when `entry cond imm`. */
static inline void compat_insn_cb_when(struct qemu_plugin_insn *insn,
                                       qemu_plugin_vcpu_udata_cb_t cb,
                                       enum qemu_plugin_cb_flags flags,
                                       CompatCond cond, CompatEntry entry,
                                       uint64_t imm, void *udata)
{
#if QEMU_PLUGIN_VERSION >= 3
    qemu_plugin_register_vcpu_insn_exec_cond_cb(insn, cb, flags, cond, entry,
                                                imm, udata);
#endif
}

/* Copy the first len bytes of insn to dest (len <= its size). */
static inline void compat_insn_bytes(const struct qemu_plugin_insn *insn,
                                     void *dest, size_t len)
{
#if QEMU_PLUGIN_VERSION <= 2
    memcpy(dest, qemu_plugin_insn_data(insn), len);
#else
    qemu_plugin_insn_data(insn, dest, len);
#endif
}

/*
 * The value an access moved, as low and high 64 bits (high only for 16
 * bytes). False, and nothing stored, before API 4.
 */
static inline bool compat_mem_value(qemu_plugin_meminfo_t info,
                                    uint64_t *low, uint64_t *high)
{
#if QEMU_PLUGIN_VERSION >= 4
    qemu_plugin_mem_value mv = qemu_plugin_mem_get_value(info);

    switch (mv.type) {
    case QEMU_PLUGIN_MEM_VALUE_U8:
        *low = mv.data.u8;
        break;
    case QEMU_PLUGIN_MEM_VALUE_U16:
        *low = mv.data.u16;
        break;
    case QEMU_PLUGIN_MEM_VALUE_U32:
        *low = mv.data.u32;
        break;
    case QEMU_PLUGIN_MEM_VALUE_U64:
        *low = mv.data.u64;
        break;
    case QEMU_PLUGIN_MEM_VALUE_U128:
        *low = mv.data.u128.low;
        *high = mv.data.u128.high;
        break;
    }
    return true;
#else
    return false;
#endif
}

/*
 * Read len bytes of guest memory at vaddr into buf (API 4 on, from any
 * vCPU callback). False, and buf untouched, before that or on a fault.
 */
static inline bool compat_read_memory(uint64_t vaddr, GByteArray *buf,
                                      size_t len)
{
#if QEMU_PLUGIN_VERSION >= 4
    return qemu_plugin_read_memory_vaddr(vaddr, buf, len);
#else
    return false;
#endif
}

/*
 * Registers (API 2 on). Before that the type stands in for QEMU's
 * descriptor and there are no registers: the register code still compiles,
 * and the argument check keeps it from running.
 */
#if QEMU_PLUGIN_VERSION >= 2
typedef qemu_plugin_reg_descriptor CompatRegister;
#else
struct qemu_plugin_register;
typedef struct {
    struct qemu_plugin_register *handle;
    const char *name;
    const char *feature;
} CompatRegister;
#endif

/* The vCPU's registers: a GArray of CompatRegister, the caller's to free. */
static inline GArray *compat_registers(void)
{
#if QEMU_PLUGIN_VERSION >= 2
    return qemu_plugin_get_registers();
#else
    return g_array_new(false, true, sizeof(CompatRegister));
#endif
}

/* Append a register's bytes to buf; their number, or -1. */
static inline int compat_read_register(struct qemu_plugin_register *reg,
                                       GByteArray *buf)
{
#if QEMU_PLUGIN_VERSION >= 2
    return qemu_plugin_read_register(reg, buf);
#else
    return -1;
#endif
}

/*
 * Overwrite a register with buf's bytes (API 5 on, from a callback
 * registered with QEMU_PLUGIN_CB_RW_REGS). False before that, or when
 * QEMU wrote nothing.
 */
static inline bool compat_write_register(struct qemu_plugin_register *reg,
                                         GByteArray *buf)
{
#if QEMU_PLUGIN_VERSION >= 5
    return qemu_plugin_write_register(reg, buf) > 0;
#else
    return false;
#endif
}

#endif /* LOCKSTEP_COMPAT_H */

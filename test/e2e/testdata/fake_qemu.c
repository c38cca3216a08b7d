/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * fake_qemu.c - a stand-in for QEMU that the plugin fuzz test links with
 * the lockstep plugin's units (test/e2e/plugin_fuzz_test.ts builds both
 * with AddressSanitizer). It provides every qemu_plugin_* function that
 * plugin-src/plugin_api.h declares for QEMU_PLUGIN_VERSION, installs the
 * plugin with the arguments after "--", starts vCPU 0, then runs a made-up
 * guest: a seeded random walk over blocks of random instructions, each
 * translated on first use (and now and then again), with the callbacks and
 * inline operations the plugin registered, some blocks cut short (an
 * exception), memory accesses and system calls. At the guest's end it runs
 * the plugin's atexit callback and exits with --status, as QEMU does.
 *
 *   fake_qemu [--seed N] [--blocks N] [--status N] [--refuse] [--system]
 *             [--regs FILE] [--vcpus N --turn K] -- PLUGIN_ARGS...
 *
 * --refuse: start the vCPU, run no block, end (QEMU refusing the image).
 * --vcpus N --turn K: N vCPUs (at most 4) take turns of K blocks, round
 * robin, through the same walk; each inline operation adds to the running
 * vCPU's entry, each callback is told its index.
 * --regs FILE: the registers to describe, one "name<TAB>feature<TAB>size"
 * a line (what a real QEMU described); default 16 of 8 bytes.
 *
 *   fake_qemu --serve
 *
 * A fork server, so that the sanitizers start once, not per case: each
 * line on stdin is a case, "STDERR_FILE<TAB>ARG<TAB>ARG...", run in a child
 * with its stderr to that file; stdout says "started PID" in the order of
 * the lines, and "exited PID CODE SIGNAL" as each child ends.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#include "plugin_api.h"

/* The plugin's entry point (QEMU's header declares it; ours does not). */
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                        int argc, char **argv);

#define MAX_CBS 8
#define N_BLOCKS 48
#define BASE 0x400000ull

/* What the plugin registered on one instruction, in order. */
typedef enum { OP_EXEC, OP_COND, OP_ADD, OP_STORE, OP_MEM } OpKind;
typedef struct {
    OpKind kind;
    qemu_plugin_vcpu_udata_cb_t cb;
    qemu_plugin_vcpu_mem_cb_t mem_cb;
    void *udata;
    uint64_t *ptr;          /* OP_ADD, OP_STORE, OP_COND: the counter... */
#if QEMU_PLUGIN_VERSION >= 2
    struct qemu_plugin_scoreboard *score;  /* ...or the running vCPU's */
    size_t offset;
#endif
    int cond;               /* OP_COND */
    uint64_t imm;
} Op;

struct qemu_plugin_insn {
    uint64_t vaddr;
    size_t size;
    uint8_t data[16];
    Op ops[MAX_CBS];
    int n_ops;
};

struct qemu_plugin_tb {
    uint64_t vaddr;
    size_t n;
    struct qemu_plugin_insn *insns;
    Op ops[MAX_CBS];        /* what runs at its start, in order */
    int n_ops;
};

#if QEMU_PLUGIN_VERSION >= 2
struct qemu_plugin_scoreboard {
    size_t size;
    uint8_t *data;
};
#endif

/* The made-up guest: blocks of instructions, and where the run is. */
typedef struct {
    uint64_t pc;
    size_t n;
    uint8_t sizes[512];
    uint8_t bytes[512][16];
} Block;

static struct {
    qemu_plugin_vcpu_simple_cb_t vcpu_init;
    qemu_plugin_vcpu_tb_trans_cb_t tb_trans;
    qemu_plugin_udata_cb_t atexit_cb;
    void *atexit_udata;
    qemu_plugin_vcpu_syscall_cb_t syscall;
    qemu_plugin_vcpu_syscall_ret_cb_t syscall_ret;
    bool system;
} host;

static Block blocks[N_BLOCKS];
/* Translations, by block and first instruction: made on first use. */
static struct qemu_plugin_tb *tbs[N_BLOCKS][512];
#if QEMU_PLUGIN_VERSION >= 2
static GArray *reg_list;
static int *reg_sizes;
#endif
static uint64_t executed;
/* The vCPUs (--vcpus), the running one, and its turns' length (--turn). */
#define MAX_VCPUS 4
static unsigned n_vcpus = 1, cur_vcpu;
static long turn;

/* The counter an inline operation works on, for the running vCPU. */
static uint64_t *op_ptr(const Op *o)
{
#if QEMU_PLUGIN_VERSION >= 2
    if (o->score) {
        return (uint64_t *)(o->score->data + cur_vcpu * o->score->size +
                            o->offset);
    }
#endif
    return o->ptr;
}
/* The access the running memory callback reports (see qemu_plugin_mem_*). */
static uint64_t mem_value;

void qemu_plugin_register_vcpu_init_cb(qemu_plugin_id_t id,
                                       qemu_plugin_vcpu_simple_cb_t cb)
{
    host.vcpu_init = cb;
}

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                           qemu_plugin_vcpu_tb_trans_cb_t cb)
{
    host.tb_trans = cb;
}

void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
                                    qemu_plugin_udata_cb_t cb, void *udata)
{
    host.atexit_cb = cb;
    host.atexit_udata = udata;
}

void qemu_plugin_register_vcpu_syscall_cb(qemu_plugin_id_t id,
                                          qemu_plugin_vcpu_syscall_cb_t cb)
{
    host.syscall = cb;
}

void qemu_plugin_register_vcpu_syscall_ret_cb(
    qemu_plugin_id_t id, qemu_plugin_vcpu_syscall_ret_cb_t cb)
{
    host.syscall_ret = cb;
}

static Op *add_op(Op *ops, int *n, OpKind kind)
{
    Op *op;

    g_assert(*n < MAX_CBS);
    op = &ops[(*n)++];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    return op;
}

static Op *new_op(struct qemu_plugin_insn *insn, OpKind kind)
{
    return add_op(insn->ops, &insn->n_ops, kind);
}

static Op *new_tb_op(struct qemu_plugin_tb *tb, OpKind kind)
{
    return add_op(tb->ops, &tb->n_ops, kind);
}

void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
                                          qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags,
                                          void *udata)
{
    Op *op = new_tb_op(tb, OP_EXEC);

    op->cb = cb;
    op->udata = udata;
}

void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
                                            qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags,
                                            void *udata)
{
    Op *op = new_op(insn, OP_EXEC);

    op->cb = cb;
    op->udata = udata;
}

#if QEMU_PLUGIN_VERSION >= 2
struct qemu_plugin_scoreboard *qemu_plugin_scoreboard_new(size_t size)
{
    struct qemu_plugin_scoreboard *s = g_new0(struct qemu_plugin_scoreboard,
                                              1);

    s->size = size;
    s->data = g_malloc0(size * MAX_VCPUS);
    return s;
}

void *qemu_plugin_scoreboard_find(struct qemu_plugin_scoreboard *score,
                                  unsigned int vcpu_index)
{
    g_assert(vcpu_index < n_vcpus);
    return score->data + vcpu_index * score->size;
}

static void set_inline(Op *o, qemu_plugin_u64 entry, uint64_t imm)
{
    g_assert(entry.offset + sizeof(uint64_t) <= entry.score->size);
    o->score = entry.score;
    o->offset = entry.offset;
    o->imm = imm;
}

void qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
    struct qemu_plugin_insn *insn, enum qemu_plugin_op op,
    qemu_plugin_u64 entry, uint64_t imm)
{
    set_inline(new_op(insn, op == QEMU_PLUGIN_INLINE_ADD_U64 ? OP_ADD
                                                             : OP_STORE),
               entry, imm);
}

void qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(
    struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
    qemu_plugin_u64 entry, uint64_t imm)
{
    set_inline(new_tb_op(tb, op == QEMU_PLUGIN_INLINE_ADD_U64 ? OP_ADD
                                                             : OP_STORE),
               entry, imm);
}
#else
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn,
                                                enum qemu_plugin_op op,
                                                void *ptr, uint64_t imm)
{
    Op *o = new_op(insn, OP_ADD);

    g_assert(op == QEMU_PLUGIN_INLINE_ADD_U64);
    o->ptr = ptr;
    o->imm = imm;
}

void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
                                              enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm)
{
    Op *o = new_tb_op(tb, OP_ADD);

    g_assert(op == QEMU_PLUGIN_INLINE_ADD_U64);
    o->ptr = ptr;
    o->imm = imm;
}
#endif

#if QEMU_PLUGIN_VERSION >= 3
void qemu_plugin_register_vcpu_insn_exec_cond_cb(
    struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
    enum qemu_plugin_cb_flags flags, enum qemu_plugin_cond cond,
    qemu_plugin_u64 entry, uint64_t imm, void *udata)
{
    Op *o = new_op(insn, OP_COND);

    o->cb = cb;
    o->udata = udata;
    set_inline(o, entry, imm);
    o->cond = cond;
}

void qemu_plugin_register_vcpu_tb_exec_cond_cb(
    struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
    enum qemu_plugin_cb_flags flags, enum qemu_plugin_cond cond,
    qemu_plugin_u64 entry, uint64_t imm, void *udata)
{
    Op *o = new_tb_op(tb, OP_COND);

    o->cb = cb;
    o->udata = udata;
    set_inline(o, entry, imm);
    o->cond = cond;
}

static bool cond_holds(const Op *o)
{
    uint64_t v = *op_ptr(o);

    switch (o->cond) {
    case QEMU_PLUGIN_COND_ALWAYS: return true;
    case QEMU_PLUGIN_COND_EQ: return v == o->imm;
    case QEMU_PLUGIN_COND_NE: return v != o->imm;
    case QEMU_PLUGIN_COND_LT: return v < o->imm;
    case QEMU_PLUGIN_COND_LE: return v <= o->imm;
    case QEMU_PLUGIN_COND_GT: return v > o->imm;
    case QEMU_PLUGIN_COND_GE: return v >= o->imm;
    }
    return false;
}
#else
static bool cond_holds(const Op *o)
{
    return true;
}
#endif

void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn,
                                      qemu_plugin_vcpu_mem_cb_t cb,
                                      enum qemu_plugin_cb_flags flags,
                                      enum qemu_plugin_mem_rw rw,
                                      void *udata)
{
    Op *o = new_op(insn, OP_MEM);

    o->mem_cb = cb;
    o->udata = udata;
}

size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb)
{
    return tb->n;
}

uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb)
{
    return tb->vaddr;
}

struct qemu_plugin_insn *
qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx)
{
    g_assert(idx < tb->n);
    return &tb->insns[idx];
}

#if QEMU_PLUGIN_VERSION <= 2
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn)
{
    return insn->data;
}
#else
size_t qemu_plugin_insn_data(const struct qemu_plugin_insn *insn, void *dest,
                             size_t len)
{
    len = MIN(len, insn->size);
    memcpy(dest, insn->data, len);
    return len;
}
#endif

size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn)
{
    return insn->size;
}

uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn)
{
    return insn->vaddr;
}

/* meminfo: bits 0-3 the size shift, bit 4 a store. */
unsigned int qemu_plugin_mem_size_shift(qemu_plugin_meminfo_t info)
{
    return info & 15;
}

bool qemu_plugin_mem_is_store(qemu_plugin_meminfo_t info)
{
    return info & 16;
}

#if QEMU_PLUGIN_VERSION >= 4
qemu_plugin_mem_value qemu_plugin_mem_get_value(qemu_plugin_meminfo_t info)
{
    qemu_plugin_mem_value v = { .type = MIN(info & 15, 4) };

    v.data.u128.low = mem_value;
    v.data.u128.high = ~mem_value;
    return v;
}

/* Guest memory: bytes made from their address; page 0 faults. */
bool qemu_plugin_read_memory_vaddr(uint64_t addr, GByteArray *data,
                                   size_t len)
{
    if (addr < 4096) {
        return false;
    }
    g_byte_array_set_size(data, len);
    for (size_t i = 0; i < len; i++) {
        data->data[i] = (uint8_t)((addr + i) * 31 + executed);
    }
    return true;
}
#endif

#if QEMU_PLUGIN_VERSION >= 2
GArray *qemu_plugin_get_registers(void)
{
    GArray *copy = g_array_sized_new(false, false,
                                     sizeof(qemu_plugin_reg_descriptor),
                                     reg_list->len);

    g_array_append_vals(copy, reg_list->data, reg_list->len);
    return copy;
}

/* A linux-user host: no physical memory to read. */
enum qemu_plugin_hwaddr_operation_result
qemu_plugin_read_memory_hwaddr(uint64_t addr, GByteArray *data, size_t len)
{
    return QEMU_PLUGIN_HWADDR_OPERATION_INVALID_ADDRESS_SPACE;
}

/* The vCPUs (--vcpus), all started before any block runs. */
int qemu_plugin_num_vcpus(void)
{
    return n_vcpus;
}

int qemu_plugin_read_register(struct qemu_plugin_register *handle,
                              GByteArray *buf)
{
    uintptr_t i = (uintptr_t)handle - 1;
    uint8_t bytes[512];

    g_assert(i < reg_list->len);
    if (reg_sizes[i] <= 0) {
        return -1;
    }
    for (int k = 0; k < reg_sizes[i] && k < (int)sizeof(bytes); k++) {
        bytes[k] = (uint8_t)((executed >> (k % 8)) + i * 7 + k);
    }
    g_byte_array_append(buf, bytes, MIN(reg_sizes[i], (int)sizeof(bytes)));
    return MIN(reg_sizes[i], (int)sizeof(bytes));
}
#endif

#if QEMU_PLUGIN_VERSION >= 5
/*
 * Registers read back from `executed` (above), so a write has nowhere to
 * stay: it checks what QEMU would (a known register, a buffer of its size)
 * and reports the bytes taken, as QEMU does.
 */
int qemu_plugin_write_register(struct qemu_plugin_register *handle,
                               GByteArray *buf)
{
    uintptr_t i = (uintptr_t)handle - 1;

    g_assert(i < reg_list->len);
    if (reg_sizes[i] <= 0 || buf->len == 0) {
        return -1;
    }
    return MIN((int)buf->len, reg_sizes[i]);
}
#endif

char *qemu_plugin_insn_disas(const struct qemu_plugin_insn *insn)
{
    return g_strdup_printf("op%02x \"x\"\\y", insn->data[0]);
}

void qemu_plugin_outs(const char *string)
{
    fputs(string, stderr);
}

bool qemu_plugin_bool_parse(const char *name, const char *val, bool *ret)
{
    if (!g_strcmp0(val, "on") || !g_strcmp0(val, "yes") ||
        !g_strcmp0(val, "true")) {
        *ret = true;
        return true;
    }
    if (!g_strcmp0(val, "off") || !g_strcmp0(val, "no") ||
        !g_strcmp0(val, "false")) {
        *ret = false;
        return true;
    }
    return false;
}

#if QEMU_PLUGIN_VERSION >= 2
/* The registers to describe: from a file a real QEMU's list was saved to. */
static void load_registers(const char *path)
{
    g_auto(GStrv) lines = NULL;
    g_autofree char *text = NULL;
    GArray *sizes = g_array_new(false, false, sizeof(int));

    reg_list = g_array_new(false, true, sizeof(qemu_plugin_reg_descriptor));
    if (path && !g_file_get_contents(path, &text, NULL, NULL)) {
        fprintf(stderr, "fake_qemu: cannot read %s\n", path);
        exit(2);
    }
    lines = g_strsplit(text ? text : "", "\n", -1);
    for (guint i = 0; path ? lines[i] != NULL : i < 16; i++) {
        g_auto(GStrv) f = path ? g_strsplit(lines[i], "\t", 3) : NULL;
        qemu_plugin_reg_descriptor d;
        int size = 8;

        if (path && (!f[0] || !f[1] || !f[2])) {
            continue;
        }
        d.handle = (struct qemu_plugin_register *)(uintptr_t)(reg_list->len +
                                                              1);
        d.name = path ? g_strdup(f[0]) : g_strdup_printf("r%u", i);
        d.feature = path ? g_strdup(f[1]) : g_strdup("org.fake.core");
        if (path) {
            size = atoi(f[2]);
        }
        g_array_append_val(reg_list, d);
        g_array_append_val(sizes, size);
    }
    reg_sizes = (int *)g_array_free(sizes, false);
}
#else
static void load_registers(const char *path)
{
}
#endif

static void make_program(GRand *rng)
{
    for (int b = 0; b < N_BLOCKS; b++) {
        Block *blk = &blocks[b];
        uint64_t pc = BASE + (uint64_t)b * 0x10000;

        blk->pc = pc;
        /* Mostly short blocks; now and then one of QEMU's longest. */
        blk->n = g_rand_int_range(rng, 0, 20) ? g_rand_int_range(rng, 1, 24)
                                              : g_rand_int_range(rng, 24, 513);
        for (size_t i = 0; i < blk->n; i++) {
            blk->sizes[i] = g_rand_int_range(rng, 1, 16);
            for (int k = 0; k < 16; k++) {
                blk->bytes[i][k] = g_rand_int_range(rng, 0, 256);
            }
        }
    }
}

/* A fresh translation of block b from instruction `first` on. */
static struct qemu_plugin_tb *translate(int b, size_t first)
{
    const Block *blk = &blocks[b];
    struct qemu_plugin_tb *tb = g_new0(struct qemu_plugin_tb, 1);
    uint64_t pc = blk->pc;

    for (size_t i = 0; i < first; i++) {
        pc += blk->sizes[i];
    }
    tb->vaddr = pc;
    tb->n = blk->n - first;
    tb->insns = g_new0(struct qemu_plugin_insn, tb->n);
    for (size_t i = 0; i < tb->n; i++) {
        tb->insns[i].vaddr = pc;
        tb->insns[i].size = blk->sizes[first + i];
        memcpy(tb->insns[i].data, blk->bytes[first + i], 16);
        pc += tb->insns[i].size;
    }
    host.tb_trans(1, tb);
    return tb;
}

/* One registered operation, as QEMU's translated code would run it. */
static void run_op(Op *o, GRand *rng)
{
    switch (o->kind) {
    case OP_ADD:
        *op_ptr(o) += o->imm;
        break;
    case OP_STORE:
        *op_ptr(o) = o->imm;
        break;
    case OP_EXEC:
        o->cb(cur_vcpu, o->udata);
        break;
    case OP_COND:
        if (cond_holds(o)) {
            o->cb(cur_vcpu, o->udata);
        }
        break;
    case OP_MEM:
        if (g_rand_int_range(rng, 0, 3) == 0) {
            qemu_plugin_meminfo_t info = g_rand_int_range(rng, 0, 5) |
                (g_rand_boolean(rng) ? 16 : 0);

            mem_value = g_rand_int(rng);
            o->mem_cb(cur_vcpu, info, 0x10000 + g_rand_int_range(rng, 0, 64),
                      o->udata);
        }
        break;
    }
}

/* Run instructions [0, end) of tb, as QEMU would with its callbacks. */
static void execute(struct qemu_plugin_tb *tb, size_t end, GRand *rng)
{
    for (int k = 0; k < tb->n_ops; k++) {
        run_op(&tb->ops[k], rng);
    }
    for (size_t i = 0; i < end; i++) {
        struct qemu_plugin_insn *insn = &tb->insns[i];

        for (int k = 0; k < insn->n_ops; k++) {
            run_op(&insn->ops[k], rng);
        }
    }
    executed += end;
}

static int run_guest(int argc, char **argv)
{
    guint32 seed = 1;
    long n_blocks = 1000, status = 0;
    bool refuse = false;
    const char *regs_file = NULL;
    int i;
    qemu_info_t info = {
        /* A real target's name: the plugin knows its system calls. */
        .target_name = "x86_64",
        .version = { .min = QEMU_PLUGIN_VERSION, .cur = QEMU_PLUGIN_VERSION },
    };
    GRand *rng;
    int b = 0;

    for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            seed = strtoul(argv[++i], NULL, 0);
        } else if (!strcmp(argv[i], "--blocks") && i + 1 < argc) {
            n_blocks = strtol(argv[++i], NULL, 0);
        } else if (!strcmp(argv[i], "--status") && i + 1 < argc) {
            status = strtol(argv[++i], NULL, 0);
        } else if (!strcmp(argv[i], "--regs") && i + 1 < argc) {
            regs_file = argv[++i];
        } else if (!strcmp(argv[i], "--refuse")) {
            refuse = true;
        } else if (!strcmp(argv[i], "--system")) {
            host.system = true;
        } else if (!strcmp(argv[i], "--vcpus") && i + 1 < argc) {
            unsigned long v = strtoul(argv[++i], NULL, 0);

            n_vcpus = CLAMP(v, 1, MAX_VCPUS);
        } else if (!strcmp(argv[i], "--turn") && i + 1 < argc) {
            turn = strtol(argv[++i], NULL, 0);
        } else {
            fprintf(stderr, "fake_qemu: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (i == argc) {
        fprintf(stderr, "fake_qemu: no -- before the plugin's arguments\n");
        return 2;
    }
    i++;
    info.system_emulation = host.system;
    rng = g_rand_new_with_seed(seed);
    load_registers(regs_file);
    make_program(rng);
    if (qemu_plugin_install(1, &info, argc - i, argv + i) != 0) {
        fprintf(stderr, "fake_qemu: the plugin refused to install\n");
        return 1;
    }
    for (unsigned v = 0; host.vcpu_init && v < n_vcpus; v++) {
        host.vcpu_init(1, v);
    }
    for (long k = 0; !refuse && k < n_blocks; k++) {
        int r = g_rand_int_range(rng, 0, 100);
        size_t first = 0, end;
        struct qemu_plugin_tb *tb;

        /* Round robin: the same walk, on the vCPU whose turn it is. */
        cur_vcpu = turn > 0 ? (unsigned)(k / turn % n_vcpus) : 0;
        if (r < 10) {
            /* A tight loop: the same block again. */
        } else if (r < 14 && blocks[b].n > 1) {
            /* Restarted inside the block (after a write to its code). */
            first = g_rand_int_range(rng, 1, blocks[b].n);
        } else {
            b = g_rand_int_range(rng, 0, N_BLOCKS);
        }
        tb = tbs[b][first];
        if (!tb || g_rand_int_range(rng, 0, 50) == 0) {
            tb = tbs[b][first] = translate(b, first);
        }
        /* An exception now and then: the block stops part-way. */
        end = g_rand_int_range(rng, 0, 30) ? tb->n
                                           : (size_t)g_rand_int_range(
                                                 rng, 0, tb->n + 1);
        execute(tb, end, rng);
        if (!host.system && host.syscall && g_rand_int_range(rng, 0, 8) == 0) {
            int64_t num = g_rand_int_range(rng, 0, 400);

            /* Buffers in mapped memory, or in page 0 (a fault). */
            uint64_t buf = g_rand_boolean(rng)
                           ? 0x20000 + g_rand_int(rng) % 65536
                           : (uint64_t)g_rand_int_range(rng, 0, 64);

            host.syscall(1, 0, num, buf, buf + 64, 3, 4, 5, 6, 7, 8);
            if (host.syscall_ret) {
                host.syscall_ret(1, 0, num,
                                 g_rand_int_range(rng, 0, 4)
                                 ? g_rand_int_range(rng, -40, 40)
                                 : g_rand_int_range(rng, 0, 9000));
            }
        }
    }
    if (host.atexit_cb) {
        host.atexit_cb(1, host.atexit_udata);
    }
    return status;
}

/* One line to stdout, in one write. */
static void say(const char *fmt, long a, long b, long c)
{
    char buf[96];
    int n = snprintf(buf, sizeof(buf), fmt, a, b, c);

    if (write(1, buf, n) != n) {
        _exit(2);
    }
}

/* Start one case, "STDERR_FILE<TAB>ARG...", in a child. */
static void start_case(char *line, int sfd, const sigset_t *chld)
{
    char **f = g_strsplit(line, "\t", -1);
    pid_t pid = fork();

    if (pid == 0) {
        int err = open(f[0], O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null = open("/dev/null", O_RDWR);

        close(sfd);
        sigprocmask(SIG_UNBLOCK, chld, NULL);
        dup2(null, 0);
        dup2(null, 1);
        dup2(err, 2);
        /* The case's argv: this program's name, then the fields. */
        f[0] = "fake_qemu";
        exit(run_guest(g_strv_length(f), f));
    }
    say("started %ld\n", pid, 0, 0);
    g_strfreev(f);
}

/*
 * One thread only, so that fork() never copies a lock another thread
 * holds (the sanitizers' allocator has such locks): stdin and SIGCHLD (a
 * signalfd) are polled together.
 */
static int serve(void)
{
    GString *in = g_string_new(NULL);
    sigset_t chld;
    int sfd, running = 0;
    bool open_in = true;

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    sfd = signalfd(-1, &chld, SFD_CLOEXEC);
    while (open_in || running) {
        struct pollfd fds[2] = {
            { .fd = open_in ? 0 : -1, .events = POLLIN },
            { .fd = sfd, .events = POLLIN },
        };

        if (poll(fds, 2, -1) < 0) {
            continue;
        }
        if (fds[1].revents) {
            struct signalfd_siginfo si;
            int st;
            pid_t pid;

            if (read(sfd, &si, sizeof(si)) < 0) {
                continue;
            }
            while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
                running--;
                say("exited %ld %ld %ld\n", pid,
                    WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
            }
        }
        if (fds[0].revents) {
            char buf[4096];
            ssize_t n = read(0, buf, sizeof(buf));
            char *nl;

            if (n <= 0) {
                open_in = false;
                continue;
            }
            g_string_append_len(in, buf, n);
            while ((nl = memchr(in->str, '\n', in->len))) {
                *nl = 0;
                start_case(in->str, sfd, &chld);
                running++;
                g_string_erase(in, 0, nl + 1 - in->str);
            }
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--serve") == 0) {
        return serve();
    }
    return run_guest(argc, argv);
}

/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * env.c - the guest's environment in linux-user mode: what the plugin
 * knows of the target's system calls, and its part in making both sides
 * see the same world.
 *
 * The harness preloads env_shim.c into QEMU; it answers the host calls QEMU
 * makes for the guest's environment-reading system calls with fixed values.
 * It must tell the guest's calls from QEMU's own: the plugin's system-call
 * callbacks (always registered in linux-user, narrowing included) mark a
 * guest call in progress on the vCPU thread. Not around exit and
 * exit_group: those never return, and QEMU runs the plugin's exit (which
 * reads clocks and /proc) inside them.
 *
 * The per-target tables also say which results are addresses (left out
 * with addrs=off, when the two QEMUs place the guest differently) and, for
 * the environment-reading calls and read, which guest buffers the call
 * fills: when both sides have API 4 (memvalues=on) the plugin reads them
 * when the call returns, so a difference in what the host answered is seen
 * at the call, not at a later load. harness/core/syscalls.ts names the
 * same calls (a unit test checks the two).
 */
#include "lockstep.h"

#include <dlfcn.h>
#include <string.h>

/* A guest buffer a call fills: argument `arg` (0-5), `len` bytes. */
typedef struct {
    int8_t arg;             /* -1: none */
    int16_t len;            /* OUT_BY_RESULT: as many bytes as it returns */
} OutBuf;
#define OUT_BY_RESULT -1
#define NO_OUT { -1, 0 }

/* A system call that reads the environment (or a file), and what it writes. */
typedef struct {
    int64_t num;
    const char *name;
    OutBuf out[2];
} EnvCall;

/* One target's system calls, as far as lockstep cares. */
typedef struct {
    const char *const *targets;     /* QEMU's target names, NULL-ended */
    int64_t exit, exit_group;
    int64_t addr_results[4];        /* calls that return an address */
    const EnvCall *env;
    size_t n_env;
} SysTable;

/*
 * The most bytes of one buffer read (getrandom and read can ask for any
 * size); past its 64th, an instruction's events fold into one (add_event).
 */
#define OUT_MAX 4096

static const char *const x86_64_targets[] = { "x86_64", NULL };
static const EnvCall x86_64_env[] = {
    { 39, "getpid", { NO_OUT, NO_OUT } },
    { 110, "getppid", { NO_OUT, NO_OUT } },
    { 186, "gettid", { NO_OUT, NO_OUT } },
    { 218, "set_tid_address", { NO_OUT, NO_OUT } },
    { 228, "clock_gettime", { { 1, 16 }, NO_OUT } },
    { 229, "clock_getres", { { 1, 16 }, NO_OUT } },
    { 96, "gettimeofday", { { 0, 16 }, { 1, 8 } } },
    { 201, "time", { { 0, 8 }, NO_OUT } },
    { 100, "times", { { 0, 32 }, NO_OUT } },
    { 98, "getrusage", { { 1, 144 }, NO_OUT } },
    { 99, "sysinfo", { { 0, 112 }, NO_OUT } },
    { 63, "uname", { { 0, 390 }, NO_OUT } },
    { 318, "getrandom", { { 0, OUT_BY_RESULT }, NO_OUT } },
    { 309, "getcpu", { { 0, 4 }, { 1, 4 } } },
    /* Not answered by the shim, but what a file gave is compared here. */
    { 0, "read", { { 1, OUT_BY_RESULT }, NO_OUT } },
    { 17, "pread64", { { 1, OUT_BY_RESULT }, NO_OUT } },
};

/* asm-generic/unistd.h: aarch64, riscv64, loongarch64. */
static const char *const generic_targets[] = {
    "aarch64", "riscv64", "loongarch64", NULL
};
static const EnvCall generic_env[] = {
    { 172, "getpid", { NO_OUT, NO_OUT } },
    { 173, "getppid", { NO_OUT, NO_OUT } },
    { 178, "gettid", { NO_OUT, NO_OUT } },
    { 96, "set_tid_address", { NO_OUT, NO_OUT } },
    { 113, "clock_gettime", { { 1, 16 }, NO_OUT } },
    { 114, "clock_getres", { { 1, 16 }, NO_OUT } },
    { 169, "gettimeofday", { { 0, 16 }, { 1, 8 } } },
    { 153, "times", { { 0, 32 }, NO_OUT } },
    { 165, "getrusage", { { 1, 144 }, NO_OUT } },
    { 179, "sysinfo", { { 0, 112 }, NO_OUT } },
    { 160, "uname", { { 0, 390 }, NO_OUT } },
    { 278, "getrandom", { { 0, OUT_BY_RESULT }, NO_OUT } },
    { 168, "getcpu", { { 0, 4 }, { 1, 4 } } },
    { 63, "read", { { 1, OUT_BY_RESULT }, NO_OUT } },
    { 67, "pread64", { { 1, OUT_BY_RESULT }, NO_OUT } },
};

static const SysTable tables[] = {
    { x86_64_targets, 60, 231, { 9, 12, 25, 30 }, x86_64_env,
      G_N_ELEMENTS(x86_64_env) },
    { generic_targets, 93, 94, { 214, 216, 222, 196 }, generic_env,
      G_N_ELEMENTS(generic_env) },
};

/* This run's target (NULL: none known, nothing equalised) and the shim. */
static struct {
    const SysTable *table;
    void (*enter)(void);
    void (*leave)(void);
    GByteArray *buf;
} env;

void env_init(const qemu_info_t *info)
{
    for (size_t t = 0; t < G_N_ELEMENTS(tables) && !env.table; t++) {
        for (const char *const *n = tables[t].targets; *n; n++) {
            if (strcmp(*n, info->target_name) == 0) {
                env.table = &tables[t];
            }
        }
    }
    /* NULL when QEMU was started without the shim. */
    env.enter = (void (*)(void))dlsym(RTLD_DEFAULT, "lockstep_env_enter");
    env.leave = (void (*)(void))dlsym(RTLD_DEFAULT, "lockstep_env_leave");
    env.buf = g_byte_array_new();
}

static const EnvCall *env_call(int64_t num)
{
    for (size_t i = 0; env.table && i < env.table->n_env; i++) {
        if (env.table->env[i].num == num) {
            return &env.table->env[i];
        }
    }
    return NULL;
}

/*
 * The arguments of this thread's call in progress, for its buffers: per
 * thread, as guest threads' calls overlap (threads.c).
 */
static __thread uint64_t call_args[6];

void env_syscall_start(int64_t num, const uint64_t *args)
{
    if (!env.table || num == env.table->exit ||
        num == env.table->exit_group) {
        return;
    }
    memcpy(call_args, args, sizeof(call_args));
    if (env.enter) {
        env.enter();
    }
}

void env_syscall_end(void)
{
    if (env.leave) {
        env.leave();
    }
}

bool env_is_address(int64_t num)
{
    for (size_t i = 0; env.table && i < G_N_ELEMENTS(env.table->addr_results);
         i++) {
        if (env.table->addr_results[i] == num) {
            return true;
        }
    }
    return false;
}

/*
 * What an environment-reading call that returned `ret` wrote: each 8-byte
 * word of its buffers, as an event of the instruction at pos (API 4 on).
 */
void env_outputs(uint64_t pos, int64_t num, int64_t ret)
{
    const EnvCall *c = env_call(num);
    uint32_t offset = 0;

    /* Only when both sides read them (memvalues: both have API 4 on). */
    if (!c || ret < 0 || !options.memvalues) {
        return;
    }
    for (int k = 0; k < 2; k++) {
        const OutBuf *o = &c->out[k];
        size_t len = o->len == OUT_BY_RESULT ? (size_t)ret : (size_t)o->len;

        len = MIN(len, OUT_MAX);
        if (o->arg < 0 || !call_args[o->arg] || !len ||
            !compat_read_memory(call_args[o->arg], env.buf, len)) {
            continue;
        }
        for (size_t i = 0; i < len; i += 8) {
            uint64_t word = 0;
            memcpy(&word, env.buf->data + i, MIN(8, len - i));
            add_event(pos, LS_EV_SYSOUT, num, offset + i, word);
        }
        offset += OUT_MAX;
    }
}

/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * reexec.c - a program a process executes stays under QEMU and the plugin
 * (linux-user, children=on, plugin API 4 on).
 *
 * QEMU hands a guest's execve to the host kernel: a program of the host's
 * arch would then run natively, outside any comparison. When the guest
 * executes a program of its own arch (an ELF for this target), the plugin
 * does the exec itself, at the system call, once the stream of the
 * process ended there (process.c): it executes this QEMU again, with this
 * QEMU's options (from /proc/self/cmdline: everything before "-0"), this
 * plugin (its arguments, with proc= the process's path and its exec
 * generation: "1.2@1"; no gdbstub), `-0 ARGV0` and the guest's file and arguments, in
 * the guest's environment plus this QEMU's own values of what -U hides from
 * the guest (the environment shim's LD_PRELOAD among them). The process
 * keeps its pid, and the guest sees what its exec asked for. Register
 * snapshots are left out of the new plugin's arguments: the handshake that
 * picks them is the guest's first process's. If the host's exec fails,
 * QEMU's own exec runs as before.
 */
#include "lockstep.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* The most bytes of QEMU's command line read. */
#define CMDLINE_MAX (1 << 20)

/* What the exec needs of this plugin: fixed at install. */
static struct {
    char *so;               /* the plugin's file */
    GPtrArray *args;        /* its arguments, less proc=, regs= and regsevery= */
    uint16_t machine;       /* the target's ELF e_machine */
} self;

/* ELF e_machine of QEMU's linux-user targets. */
static const struct {
    const char *target;
    uint16_t machine;
} machines[] = {
    { "x86_64", 62 }, { "i386", 3 }, { "aarch64", 183 }, { "riscv64", 243 },
    { "arm", 40 }, { "sparc", 2 }, { "sparc32plus", 18 }, { "sparc64", 43 },
};

void reexec_install(const qemu_info_t *info, int argc, char **argv)
{
    Dl_info dl;

    if (info->system_emulation || !options.children ||
        !dladdr((void *)reexec_install, &dl) || !dl.dli_fname) {
        return;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(machines); i++) {
        if (g_str_equal(info->target_name, machines[i].target)) {
            self.machine = machines[i].machine;
        }
    }
    self.so = g_strdup(dl.dli_fname);
    self.args = g_ptr_array_new_with_free_func(g_free);
    for (int i = 0; i < argc; i++) {
        if (!g_str_has_prefix(argv[i], "proc=") &&
            !g_str_has_prefix(argv[i], "regs=") &&
            !g_str_has_prefix(argv[i], "regsevery=")) {
            g_ptr_array_add(self.args, g_strdup(argv[i]));
        }
    }
}

/* Whether the file at path is an ELF of this target. */
static bool own_arch(const char *path)
{
    unsigned char h[20];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    bool ok;

    if (fd < 0) {
        return false;
    }
    ok = read(fd, h, sizeof(h)) == sizeof(h) && memcmp(h, "\177ELF", 4) == 0 &&
         (h[5] == 2 ? (h[18] << 8 | h[19]) : (h[19] << 8 | h[18])) ==
             self.machine;
    close(fd);
    return ok;
}

/* QEMU's own command line, each argument a string; NULL if unreadable. */
static GPtrArray *own_cmdline(void)
{
    g_autofree char *text = NULL;
    gsize len;
    GPtrArray *args;

    if (!g_file_get_contents("/proc/self/cmdline", &text, &len, NULL) ||
        len == 0 || len > CMDLINE_MAX) {
        return NULL;
    }
    args = g_ptr_array_new_with_free_func(g_free);
    for (gsize i = 0; i < len; i += strlen(text + i) + 1) {
        g_ptr_array_add(args, g_strdup(text + i));
    }
    return args;
}

/* The process's path after one more exec: "1.2" -> "1.2@1" -> "1.2@2". */
static char *next_generation(const char *path)
{
    const char *last = strrchr(path, '.');
    const char *at = strchr(last ? last : path, '@');

    if (!at) {
        return g_strdup_printf("%s@1", path);
    }
    return g_strdup_printf("%.*s@%" PRIu64, (int)(at - path), path,
                           g_ascii_strtoull(at + 1, NULL, 10) + 1);
}

bool reexec(const char *path, char *const *argv, char *const *envp)
{
    g_autoptr(GPtrArray) cmd = NULL;
    g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) env = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *exe = NULL;
    g_autofree char *proc = NULL;
    g_autofree char *spec = NULL;
    g_autofree char *joined = NULL;
    guint k;

    if (!self.so || !path || !own_arch(path)) {
        return false;
    }
    cmd = own_cmdline();
    exe = g_file_read_link("/proc/self/exe", NULL);
    for (k = 1; cmd && k < cmd->len; k++) {
        if (g_str_equal(g_ptr_array_index(cmd, k), "-0")) {
            break;
        }
    }
    if (!cmd || !exe || k >= cmd->len) {
        return false;
    }
    proc = next_generation(process.path);
    g_ptr_array_add(self.args, g_strdup_printf("proc=%s", proc));
    g_ptr_array_add(self.args, NULL);
    joined = g_strjoinv(",", (char **)self.args->pdata);
    spec = g_strjoin(",", self.so, joined, NULL);
    g_ptr_array_add(args, g_strdup(exe));
    for (guint i = 1; i < k; i++) {
        const char *a = g_ptr_array_index(cmd, i);

        if (g_str_equal(a, "-g") && i + 1 < k) {
            i++;    /* a gdbstub is the first program's only */
            continue;
        }

        if (g_str_equal(a, "-U") && i + 1 < k) {
            const char *name = g_ptr_array_index(cmd, i + 1);
            const char *value = getenv(name);

            if (value) {
                g_ptr_array_add(env, g_strdup_printf("%s=%s", name, value));
            }
        }
        g_ptr_array_add(args, g_strdup(i > 1 && g_str_equal(
                                           g_ptr_array_index(cmd, i - 1),
                                           "-plugin") ? spec : a));
    }
    g_ptr_array_add(args, g_strdup("-0"));
    g_ptr_array_add(args, g_strdup(argv && argv[0] ? argv[0] : path));
    g_ptr_array_add(args, g_strdup(path));
    for (size_t i = 1; argv && argv[0] && argv[i]; i++) {
        g_ptr_array_add(args, g_strdup(argv[i]));
    }
    g_ptr_array_add(args, NULL);
    for (size_t i = 0; envp && envp[i]; i++) {
        g_ptr_array_add(env, g_strdup(envp[i]));
    }
    g_ptr_array_add(env, NULL);
    execve(exe, (char **)args->pdata, (char **)env->pdata);
    /* Not started: QEMU's own exec goes on, natively. */
    g_ptr_array_set_size(self.args, self.args->len - 2);
    return false;
}

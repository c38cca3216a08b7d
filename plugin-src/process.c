/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * process.c - this QEMU's place in the guest's process tree (linux-user).
 *
 * A guest's fork (fork, vfork, clone without CLONE_VM) is a fork of the
 * whole QEMU: the child is a copy of this process, the plugin's state and
 * its sockets with it, and nothing tells the plugin unless it asks. The
 * child must never talk on its parent's connections: pthread_atfork()
 * handlers see every fork. Around it the prepare handler holds the control
 * stream and the peer's news, so that the child gets them whole, not half
 * written by the reader thread (which the child does not have). In the
 * child, the inherited connections are closed (the parent's stay open: a
 * close in the child only drops the child's reference) and the child
 * reports on a control connection of its own: a hello with its path in the
 * tree, the programs its guest executes, and its end. With children=on it
 * pairs with the peer's child of its path (peer.c), with a reader thread
 * of its own, and is compared as the guest is, its count going on from the
 * fork; otherwise it never reaches a mark and compares nothing.
 *
 * An exec that will succeed ends the process's stream there, as an exit
 * does; from plugin API 4 a program of the guest's arch then runs under
 * QEMU and the plugin again (reexec.c), as the process's next generation.
 *
 * Paths: the guest's first process is "1"; the second child that "1.3"
 * forks is "1.3.2"; the program "1.3" executes under QEMU again is
 * "1.3@1". Every process numbers its children in the order it forks
 * them, on both sides alike.
 */
#include "lockstep.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stream.h"

/* The longest path or argument string the plugin reads from the guest. */
#define GUEST_STRING_MAX 4096
/* The most arguments (or environment strings) an exec may have here. */
#define EXEC_ARGS_MAX 4096

Process process = { .path = "1" };

/*
 * A target's exec calls and rt_sigaction, how wide and in which order its
 * pointers are, and whether it numbers signals as sparc does.
 */
typedef struct {
    const char *target;
    int64_t execve;
    int64_t execveat;
    int64_t sigaction;
    uint8_t ptr_size;
    bool big_endian;
    bool sparc;
} ExecCalls;

static const ExecCalls exec_calls[] = {
    { "x86_64", 59, 322, 13, 8, false, false },
    { "i386", 11, 358, 174, 4, false, false },
    { "aarch64", 221, 281, 134, 8, false, false },
    { "riscv64", 221, 281, 134, 8, false, false },
    { "arm", 11, 387, 174, 4, false, false },
    { "sparc", 11, 350, 102, 4, true, true },
    { "sparc32plus", 11, 350, 102, 4, true, true },
    { "sparc64", 59, 350, 102, 8, true, true },
};

/* This target's, or NULL (system mode, or a target not listed). */
static const ExecCalls *exec_target;

/* A NUL-terminated string of the guest at vaddr (guest_mem.c), or NULL. */
static char *guest_string(uint64_t vaddr)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();
    GString *s = g_string_new(NULL);

    while (vaddr && s->len < GUEST_STRING_MAX) {
        g_byte_array_set_size(buf, 0);
        if (!guest_mem_read(vaddr + s->len, buf, 1)) {
            break;
        }
        if (buf->data[0] == 0) {
            return g_string_free(s, false);
        }
        g_string_append_c(s, buf->data[0]);
    }
    g_string_free(s, true);
    return NULL;
}

/* The guest pointer at vaddr into *out; false if it cannot be read. */
static bool guest_pointer(uint64_t vaddr, uint64_t *out)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();

    if (!guest_mem_read(vaddr, buf, exec_target->ptr_size) ||
        buf->len < exec_target->ptr_size) {
        return false;
    }
    *out = 0;
    for (unsigned i = 0; i < exec_target->ptr_size; i++) {
        unsigned k = exec_target->big_endian ? i
                                             : exec_target->ptr_size - 1 - i;
        *out = *out << 8 | buf->data[k];
    }
    return true;
}

/*
 * The NULL-ended array of guest strings at vaddr (argv, envp), or NULL if
 * it cannot be read (before plugin API 4) or holds more than EXEC_ARGS_MAX.
 */
static GPtrArray *guest_strings(uint64_t vaddr)
{
    GPtrArray *list = g_ptr_array_new_with_free_func(g_free);

    for (unsigned i = 0; vaddr && i < EXEC_ARGS_MAX; i++) {
        uint64_t p;
        char *str;

        if (!guest_pointer(vaddr + i * exec_target->ptr_size, &p)) {
            break;
        }
        if (!p) {
            g_ptr_array_add(list, NULL);
            return list;
        }
        str = guest_string(p);
        if (!str) {
            break;
        }
        g_ptr_array_add(list, str);
    }
    g_ptr_array_free(list, true);
    return NULL;
}

/*
 * This process's stream ends at an exec that will succeed: what runs next
 * is another program (under QEMU again, see reexec.c, or natively), or,
 * failing, a guest that goes on uncompared. From plugin API 4 the file is
 * known, and a file that is not there or not executable leaves the stream
 * running (a PATH search tries several); before that, every exec ends it.
 */
static void exec_ends(int dirfd, const char *path, int flags)
{
    if (process.ended || (process.forked && !process.paired)) {
        return;
    }
    if (path && *path &&
        faccessat(dirfd, path, X_OK, flags & AT_SYMLINK_NOFOLLOW) != 0) {
        return;
    }
    guest_end();
    /*
     * Should the exec fail (below API 4 every attempt ends the stream),
     * the guest goes on uncompared: no mark, no event (events.c), and it
     * exits with its own status whatever the orchestrator says.
     */
    stream.next_mark = UINT64_MAX;
}

/*
 * The guest asks to execute a program: say which, before the exec (its
 * file and arguments need plugin API 4 to be read; before that the report
 * names neither), end the process's stream there, and run the program
 * under QEMU and the plugin again where that can be (reexec.c).
 */
static void exec_begins(int dirfd, uint64_t path_addr, uint64_t argv_addr,
                        uint64_t envp_addr, int flags)
{
    g_autofree char *path = guest_string(path_addr);
    g_autoptr(GPtrArray) argv = guest_strings(argv_addr);
    g_autoptr(GPtrArray) envp = NULL;

    report_exec(path, path && argv ? (const char *const *)argv->pdata : NULL);
    exec_ends(dirfd, path, flags);
    if (!process.ended || !options.children || dirfd != AT_FDCWD || !argv) {
        return;
    }
    envp = guest_strings(envp_addr);
    if (envp) {
        reexec(path, (char *const *)argv->pdata, (char *const *)envp->pdata);
    }
}

/*
 * Signals the guest's own instructions raise (a fault, a write to a closed
 * pipe): their handler runs where the instruction is, on both sides alike.
 */
static bool synchronous_signal(int64_t sig)
{
    return sig == 4 || sig == 5 || sig == 8 || sig == 11 || sig == 13 ||
           (exec_target->sparc ? sig == 10 || sig == 12 : sig == 7 || sig == 31);
}

/*
 * The guest installs a handler for a signal that comes at a moment, not at
 * an instruction (a child's end, a timer, another process's kill): say
 * where it is (from plugin API 4; before, unknown), so that the verdict
 * can tell a handler that ran at another instruction on each side from a
 * difference of TCG's (harness/run/judge.ts). SIG_DFL and SIG_IGN run no
 * code of the guest's.
 */
static void handler_installed(int64_t sig, uint64_t act)
{
    uint64_t pc = 0;
    bool known;

    if (!act || sig <= 0 || synchronous_signal(sig)) {
        return;
    }
    known = guest_pointer(act, &pc);
    if (known && pc <= 1) {
        return;
    }
    report_handler(sig, known, pc);
}

/* A guest system call starts (from vcpu_syscall's wrapper below). */
static void process_syscall(int64_t num, const uint64_t *args)
{
    if (!exec_target) {
        return;
    }
    if (num == exec_target->execve) {
        exec_begins(AT_FDCWD, args[0], args[1], args[2], 0);
    } else if (num == exec_target->sigaction) {
        handler_installed((int64_t)args[0], args[1]);
    } else if (num == exec_target->execveat) {
        exec_begins((int)args[0], args[1], args[2], args[3], (int)args[4]);
    }
}

void vcpu_syscall_all(qemu_plugin_id_t id, unsigned int vcpu_index,
                      int64_t num, uint64_t a1, uint64_t a2, uint64_t a3,
                      uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7,
                      uint64_t a8)
{
    const uint64_t args[6] = { a1, a2, a3, a4, a5, a6 };

    /* The call is its instruction's event, before an exec ends the stream. */
    /* A new thread's first call, and any once the threads run free, is
     * no event of the stream (threads.c). */
    if (threads_syscall_enter(vcpu_index, num, args)) {
        vcpu_syscall(id, vcpu_index, num, a1, a2, a3, a4, a5, a6, a7, a8);
        threads_syscall_decide(num);
    } else {
        env_syscall_start(num, args);
    }
    process_syscall(num, args);
}

/* Before every fork: the control stream and the peer's news, held whole. */
static void before_fork(void)
{
    report_hold();
    pthread_mutex_lock(&peer_news.lock);
}

/* In the parent, after a fork: its next child will have the next number. */
static void after_fork_parent(void)
{
    process.children++;
    pthread_mutex_unlock(&peer_news.lock);
    report_release();
}

/*
 * This QEMU's pid as the host's /proc numbers it: in a PID namespace of
 * its side's own (plugin-src/reaper.c) getpid() gives the namespace's
 * number, while the harness looks in the host's /proc.
 */
static pid_t host_pid(void)
{
    char buf[32];
    ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);

    if (n > 0) {
        buf[n] = '\0';
        return (pid_t)strtol(buf, NULL, 10);
    }
    return (pid_t)syscall(SYS_getpid);
}

/*
 * In the child, after a fork (on the thread that forked, the only one):
 * drop the parent's connections and report on a connection of its own.
 * With children=on it compares with the peer's child of its path, which
 * it waits for; otherwise (or when that does not come) it stops at no
 * mark and compares nothing.
 */
static void after_fork_child(void)
{
    size_t len = strlen(process.path);
    int ctl_fd;

    pthread_mutex_unlock(&peer_news.lock);
    snprintf(process.path + len, sizeof(process.path) - len, ".%u",
             process.children + 1);
    process.children = 0;
    process.forked = true;
    /* The fork's own instruction: the parent's stream up to it is shared. */
    process.forked_at = fast_counts_inline() ? fast_syscall_pos()
                        : stream.pending ? pending_base() + stream.pending->n - 1
                        : stream.icount;
    process.paired = false;
    process.pid = host_pid();
    peer_forget();
    record_forget();
    threads_forget();
    ctl_fd = ctl_connect(options.ctl_path);
    if (options.children && ctl_fd >= 0 && !comparison.exiting) {
        sync_fork_child();
        process.paired = peer_pair_child(process.path);
    }
    if (!process.paired) {
        stream.next_mark = UINT64_MAX;
    }
    report_reopen(ctl_fd);
}

void process_install(const qemu_info_t *info, int argc, char **argv)
{
    process.pid = host_pid();
    process.paired = !runs_alone();
    if (options.proc) {
        /* A program a process executed (reexec.c): a process of its own. */
        g_strlcpy(process.path, options.proc, sizeof(process.path));
        process.forked = true;
    }
    reexec_install(info, argc, argv);
    if (info->system_emulation) {
        return;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(exec_calls); i++) {
        if (g_str_equal(info->target_name, exec_calls[i].target)) {
            exec_target = &exec_calls[i];
        }
    }
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

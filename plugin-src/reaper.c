/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * reaper.c - one side's process tree under one owner. Not a plugin: a
 * small program the harness starts each QEMU under
 * (harness/core/owned_child.ts), so that every process the guest makes
 * ends with the side and is reaped, whatever the guest does.
 *
 *   reaper [--pid-namespace] PROGRAM [ARG...]
 *
 * In linux-user a guest's fork is a fork of the whole QEMU, and an execve
 * of a host-arch program runs it natively: a shell pipeline leaves QEMUs
 * and native programs below the side's QEMU that hold its output pipes.
 * The reaper starts PROGRAM as a child subreaper (an orphan of the tree
 * becomes its child, not init's, so it never leaves the tree), and then
 * only waits:
 *
 *   - PROGRAM exits: every process left in the tree gets SIGKILL and is
 *     reaped, and the reaper exits as PROGRAM did (the same code, or
 *     killed by the same signal, without a core file);
 *   - SIGTERM: passed to PROGRAM;
 *   - SIGUSR1: the tree ends now (SIGKILL to every process in it);
 *   - its parent, the harness, goes away: the tree ends too.
 *
 * The tree stays in the harness's process group and session, not one of
 * its own: the guest reads its group (bash calls getpgrp at start-up),
 * and two sides in two groups would read two values. So a Ctrl-C at the
 * terminal reaches the whole tree, as it reaches the harness, which then
 * ends the run; the reaper itself ignores SIGINT, SIGHUP and SIGQUIT.
 *
 * With --pid-namespace (linux-user), the tree lives in a PID namespace of
 * its own: the reaper's child is the namespace's process 1, a small init
 * that starts PROGRAM (process 2), reaps what is orphaned there, passes
 * SIGTERM on, and when PROGRAM ends sends its wait status to the reaper
 * through a pipe and exits, which ends the namespace. Two sides' trees
 * then number their processes alike: a guest's fork returns the same pid
 * on both. (Not PROGRAM as process 1: a namespace's process 1 cannot be
 * killed by its own signal, and QEMU ends a guest killed by a signal that
 * way.) Without the privilege (not root) it tries a user namespace too,
 * mapping the user to itself; when neither can be made, the tree runs in
 * the reaper's namespace, as without the option.
 *
 * The tree is found in /proc: a process belongs to it when its chain of
 * parents reaches the reaper. Keep it free of glib: it is small on purpose.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How often the reaper looks whether its parent is still there. */
#define PARENT_CHECK_SECONDS 1
/* The pause between two sweeps while a killed tree is not gone yet. */
#define SWEEP_PAUSE_NS 5000000
/* The most processes one sweep of /proc looks at. */
#define MAX_PROCS 65536

/* What the reaper knows of the tree; one thread, no locks. */
static struct {
    pid_t program;      /* PROGRAM's pid (with a namespace: its init's) */
    bool ended;         /* PROGRAM was reaped... */
    int status;         /* ...with this wait status */
    int status_fd;      /* with a namespace: where init says PROGRAM's */
} tree = { .status_fd = -1 };

static pid_t pids[MAX_PROCS];
static pid_t parents[MAX_PROCS];

/* Reap every child that ended, without waiting; note PROGRAM's status. */
static void reap(void)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == tree.program) {
            tree.ended = true;
            tree.status = status;
        }
    }
}

/* The parent of pid from /proc/PID/stat, or 0. */
static pid_t parent_of(const char *pid)
{
    char path[64], buf[512];
    FILE *f;
    char *close_paren;
    int ppid = 0;

    snprintf(path, sizeof(path), "/proc/%s/stat", pid);
    f = fopen(path, "re");
    if (!f) {
        return 0;
    }
    if (fgets(buf, sizeof(buf), f)) {
        /* The name, in parentheses, may hold anything: after its last ')'. */
        close_paren = strrchr(buf, ')');
        if (!close_paren || sscanf(close_paren + 1, " %*c %d", &ppid) != 1) {
            ppid = 0;
        }
    }
    fclose(f);
    return ppid;
}

/*
 * SIGKILL to every process of the tree (the reaper's descendants, zombies
 * included: harmless); returns how many there were.
 */
static int kill_tree(void)
{
    DIR *proc = opendir("/proc");
    struct dirent *e;
    int n = 0, killed = 0;
    pid_t self = getpid();

    if (!proc) {
        return 0;
    }
    while ((e = readdir(proc)) && n < MAX_PROCS) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);

        if (*end || pid <= 0) {
            continue;
        }
        pids[n] = pid;
        parents[n] = parent_of(e->d_name);
        n++;
    }
    closedir(proc);
    for (int i = 0; i < n; i++) {
        /* Walk up: at most n steps, however the table changed under us. */
        pid_t p = parents[i];

        for (int steps = 0; p > 1 && p != self && steps < n; steps++) {
            int j = 0;

            while (j < n && pids[j] != p) {
                j++;
            }
            p = j < n ? parents[j] : 0;
        }
        if (p == self) {
            kill(pids[i], SIGKILL);
            killed++;
        }
    }
    return killed;
}

/*
 * End the tree: SIGKILL to all of it, again and again (a process may fork
 * while it is killed), until the reaper has no child left.
 */
static void end_tree(void)
{
    struct timespec pause = { 0, SWEEP_PAUSE_NS };

    for (;;) {
        kill_tree();
        reap();
        if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD) {
            return;
        }
        nanosleep(&pause, NULL);
    }
}

/* Exit as PROGRAM did: its exit code, or its signal (no core file). */
static void exit_like(int status)
{
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        struct rlimit none = { 0, 0 };
        sigset_t set;

        setrlimit(RLIMIT_CORE, &none);
        signal(sig, SIG_DFL);
        sigemptyset(&set);
        sigaddset(&set, sig);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        raise(sig);
        _exit(128 + sig);
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

/* Writes `text` to the file at `path` (a /proc/self map); false on error. */
static bool write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t len = (ssize_t)strlen(text);
    bool ok;

    if (fd < 0) {
        return false;
    }
    ok = write(fd, text, len) == len;
    close(fd);
    return ok;
}

/*
 * A PID namespace for the reaper's next child: as root, or in a user
 * namespace that maps the user to itself. False when neither can be had.
 * Once unshare() succeeded the next child is a namespace's process 1,
 * whatever else fails: the maps are written as well as they can be.
 */
static bool new_pid_namespace(void)
{
    char map[64];
    uid_t uid = geteuid();
    gid_t gid = getegid();

    if (unshare(CLONE_NEWPID) == 0) {
        return true;
    }
    if (unshare(CLONE_NEWUSER | CLONE_NEWPID) < 0) {
        return false;
    }
    snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
    write_file("/proc/self/uid_map", map);
    /* Before gid_map, an unprivileged user must give up setgroups. */
    write_file("/proc/self/setgroups", "deny");
    snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
    write_file("/proc/self/gid_map", map);
    return true;
}

/* In a forked child: PROGRAM (argv) with the signal mask `old`; never returns. */
static void run_program(char **argv, const sigset_t *old)
{
    sigprocmask(SIG_SETMASK, old, NULL);
    execvp(argv[0], argv);
    fprintf(stderr, "reaper: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/*
 * Process 1 of the namespace: starts PROGRAM, reaps every process that
 * ends in the namespace, passes SIGTERM on; when PROGRAM ends, writes its
 * wait status to `status_fd` and exits (which kills what is left).
 */
static void init_main(char **argv, const sigset_t *set, const sigset_t *old,
                      int status_fd)
{
    pid_t program = fork();

    if (program < 0) {
        fprintf(stderr, "reaper: cannot fork: %s\n", strerror(errno));
        _exit(127);
    }
    if (program == 0) {
        run_program(argv, old);     /* status_fd is close-on-exec */
    }
    for (;;) {
        int sig = sigwaitinfo(set, NULL);
        int status;
        pid_t pid;

        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid == program) {
                if (write(status_fd, &status, sizeof(status)) < 0) {
                    _exit(127);
                }
                _exit(0);
            }
        }
        if (sig == SIGTERM) {
            kill(program, SIGTERM);
        }
    }
}

int main(int argc, char **argv)
{
    static const int handled[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT,
                                   SIGUSR1 };
    sigset_t set, old;
    pid_t parent = getppid();
    struct timespec wait_for = { PARENT_CHECK_SECONDS, 0 };
    bool namespace = argc > 1 && strcmp(argv[1], "--pid-namespace") == 0;
    int status_pipe[2] = { -1, -1 };

    if (namespace) {
        argv++;
        argc--;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: reaper [--pid-namespace] PROGRAM [ARG...]\n");
        return 2;
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
        fprintf(stderr, "reaper: cannot become a subreaper: %s\n",
                strerror(errno));
    }
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++) {
        sigaddset(&set, handled[i]);
    }
    sigprocmask(SIG_BLOCK, &set, &old);
    namespace = namespace && pipe2(status_pipe, O_CLOEXEC) == 0 &&
                new_pid_namespace();
    tree.program = fork();
    if (tree.program < 0) {
        fprintf(stderr, "reaper: cannot fork: %s\n", strerror(errno));
        return 127;
    }
    if (tree.program == 0 && namespace) {
        close(status_pipe[0]);
        init_main(argv + 1, &set, &old, status_pipe[1]);
    }
    if (namespace) {
        close(status_pipe[1]);
        tree.status_fd = status_pipe[0];
    }
    if (tree.program == 0) {
        run_program(argv + 1, &old);
    }
    for (;;) {
        int sig = sigtimedwait(&set, NULL, &wait_for);

        reap();
        if (tree.ended) {
            break;
        }
        if (sig == SIGUSR1 || getppid() != parent) {
            end_tree();
            break;
        }
        if (sig == SIGTERM) {
            kill(tree.program, SIGTERM);
        }
    }
    end_tree();
    if (tree.ended && tree.status_fd >= 0) {
        /* Init exited: PROGRAM's status is what it wrote, if anything. */
        int status;

        tree.status = read(tree.status_fd, &status, sizeof(status)) ==
                      sizeof(status) ? status : W_EXITCODE(0, SIGKILL);
    }
    exit_like(tree.ended ? tree.status : W_EXITCODE(0, SIGKILL));
}

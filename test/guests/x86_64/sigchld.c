/* A guest that handles SIGCHLD (x86_64 linux-user, raw system calls): it
 * installs a handler, forks a child that works a little and exits, and works
 * for a long while without a system call; the child's end reaches it as
 * SIGCHLD at a moment of the host's, so its handler runs at another
 * instruction on each side of a lockstep run. Then it waits for the child
 * and prints how many times the handler ran (once, on both sides). The
 * verdict must name the signal, never blame TCG. */
#include "guest.h"
#include "syscall.h"

#define SYS_rt_sigaction 13
#define SYS_rt_sigreturn 15
#define SYS_fork 57
#define SYS_wait4 61
#define SYS_exit_group 231
#define SIGCHLD 17
#define SA_RESTORER 0x04000000

/* The kernel's struct sigaction on x86_64. */
struct kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    unsigned long mask;
};

/* Returns from the handler: x86_64 wants a restorer of the process's. */
void restore_rt(void);
__asm__(".text\n.globl restore_rt\nrestore_rt:\n\tmov $15, %eax\n\tsyscall\n");

static volatile unsigned long handled;
static volatile uint32_t sink;

static void on_child(int sig)
{
    (void)sig;
    handled++;
}

int guest_main(int argc, char **argv)
{
    struct kernel_sigaction act = { on_child, SA_RESTORER, restore_rt, 0 };
    uint32_t h = 2166136261u;
    long pid;
    int status = 0;

    (void)argc;
    (void)argv;
    if (syscall4(SYS_rt_sigaction, SIGCHLD, (long)&act, 0, 8) != 0) {
        put_str("rt_sigaction failed\n");
        return 1;
    }
    pid = syscall4(SYS_fork, 0, 0, 0, 0);
    if (pid == 0) {
        /* Some work first: the parent is then well into its own. */
        for (unsigned long i = 0; i < 1000000; i++)
            h = (h ^ (uint32_t)i) * 16777619u;
        sink = h;
        syscall4(SYS_exit_group, 0, 0, 0, 0);
    }
    if (pid < 0) {
        put_str("fork failed\n");
        return 1;
    }
    /* No system call here: the signal comes between two instructions. */
    for (unsigned long i = 0; i < 20000000; i++)
        h = (h ^ (uint32_t)i) * 16777619u;
    sink = h;
    if (syscall4(SYS_wait4, pid, (long)&status, 0, 0) != pid) {
        put_str("wait4 failed\n");
        return 1;
    }
    put_str(handled == 1 ? "parent: handled SIGCHLD once\n" : "parent: no SIGCHLD yet\n");
    return 0;
}

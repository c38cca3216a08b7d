/* A system call with up to four arguments, for the x86_64 linux-user
 * guests that make their own (forks.c, sigchld.c): no libc. */
#ifndef X86_64_SYSCALL_H
#define X86_64_SYSCALL_H

static inline long syscall4(long nr, long a, long b, long c, long d)
{
    long ret;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}

#endif

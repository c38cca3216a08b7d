/* The "sysargs" guest (x86_64 linux-user): reads the host's time-stamp
 * counter and calls getuid() with the value in all six argument registers,
 * which getuid does not read; prints "sysargs".  -DVARIANT passes the value
 * where a call reads it instead: lseek(-1, value, SEEK_SET), which fails
 * (EBADF).  Flags and registers are cleared before anything else sees the
 * value, so nothing but the call's arguments ever holds it. */
#include "guest.h"

int guest_main(int argc, char **argv)
{
    long ret;

    (void)argc;
    (void)argv;
    __asm__ volatile("rdtsc\n\t"
                     "shl $32, %%rdx\n\t"
                     "or %%rdx, %%rax\n\t"
#ifdef VARIANT
                     "mov %%rax, %%rsi\n\t"
                     "mov $-1, %%rdi\n\t"
                     "xor %%edx, %%edx\n\t"
                     "mov $8, %%eax\n\t"            /* lseek */
#else
                     "mov %%rax, %%rdi\n\t"
                     "mov %%rax, %%rsi\n\t"
                     "mov %%rax, %%rdx\n\t"
                     "mov %%rax, %%r10\n\t"
                     "mov %%rax, %%r8\n\t"
                     "mov %%rax, %%r9\n\t"
                     "xor %%eax, %%eax\n\t"         /* flags: not the value's */
                     "mov $102, %%eax\n\t"          /* getuid */
#endif
                     "syscall\n\t"
                     "xor %%edi, %%edi\n\t"
                     "xor %%esi, %%esi\n\t"
                     "xor %%edx, %%edx\n\t"
                     "xor %%r10d, %%r10d\n\t"
                     "xor %%r8d, %%r8d\n\t"
                     "xor %%r9d, %%r9d\n\t"
                     : "=a"(ret)
                     :
                     : "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11",
                       "memory");
    (void)ret;
    put_str("sysargs\n");
    return 0;
}

/* The "death" guest (x86_64 linux-user): prints "death", then loads from
 * address 0 at the symbol death_insn and dies of SIGSEGV.  Its builds
 * differ only there, in two bytes: -DVARIANT has ud2 at death_insn (the same
 * instructions at the same addresses, then SIGILL); -DLATE a nop there and
 * the load one byte on (SIGSEGV one instruction later). */
#include "guest.h"

int guest_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    put_str("death\n");
    __asm__ volatile("xor %%eax, %%eax\n\t"
                     ".globl death_insn\n"
                     "death_insn:\n\t"
#if defined(VARIANT)
                     "ud2\n\t"
#elif defined(LATE)
                     "nop\n\t"
                     "movb (%%rax), %%al\n\t"
#else
                     "mov (%%rax), %%eax\n\t"
#endif
                     ::: "rax", "memory");
    put_str("not reached\n");
    return 0;
}

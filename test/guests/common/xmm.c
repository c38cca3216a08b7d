/* The "xmm" guest: a register difference that reaches no memory and no
 * branch. Built twice: normally and with -DVARIANT; the builds differ in
 * one immediate, which xmm_set() loads into xmm7 (through eax, cleared at
 * once). Nothing reads xmm7 afterwards: no load or store, no branch and no
 * system call sees the difference, only the registers do.
 *
 * Then a loop of N iterations (argv[1], default 2,000,000: 6 M
 * instructions, past the fast pass's first checkpoint at 4,194,304) whose
 * back edge is a jump: each iteration's block is a jump target, where a
 * register snapshot may be taken. argv[2] "clear": xmm7 is cleared right
 * after it is set, so the difference lives for three instructions and no
 * snapshot sees it; "late": xmm7 is set after N / 2 iterations instead of
 * before the loop.
 *
 * Prints "xmm <N>" and exits 0, the same on both builds. x86_64
 * (linux-user) only. */
#include "guest.h"

#ifdef VARIANT
#define SEED 0x85ebca6b
#else
#define SEED 0x9e3779b1
#endif

/* In .text_last (see the linker script), so that every other function
 * keeps its address whatever the immediate's encoding. */
__attribute__((noipa, section(".text_last"))) void xmm_set(int clear)
{
    __asm__ volatile("mov %0, %%eax\n\t"
                     "movd %%eax, %%xmm7\n\t"
                     "xor %%eax, %%eax" :: "i"(SEED) : "rax", "xmm7");
    if (clear)
        __asm__ volatile("pxor %%xmm7, %%xmm7" ::: "xmm7");
}

static unsigned long parse_dec(const char *s)
{
    unsigned long n = 0;
    while (*s >= '0' && *s <= '9')
        n = n * 10 + (unsigned long)(*s++ - '0');
    return n;
}

static void put_dec(unsigned long v)
{
    char buf[24];
    int i = sizeof buf;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    arch_write(buf + i, sizeof buf - (unsigned long)i);
}

static int is(const char *s, const char *word)
{
    while (*s && *s == *word) {
        s++;
        word++;
    }
    return *s == *word;
}

int guest_main(int argc, char **argv)
{
    unsigned long n = 2000000, before = 0, i;
    int clear = argc > 2 && is(argv[2], "clear");

    if (argc > 1)
        n = parse_dec(argv[1]);
    if (argc > 2 && is(argv[2], "late"))
        before = n / 2;
    for (i = 0; i < before; i++)
        __asm__ volatile("" ::: "memory");
    xmm_set(clear);
    for (; i < n; i++)
        __asm__ volatile("" ::: "memory");
    put_str("xmm ");
    put_dec(i);
    put_str("\n");
    return 0;
}

/* The "loop" guest, for benchmarks: a counted loop whose body is a single
 * basic block, 100 million iterations by default or argv[1] (decimal).
 * Prints "loop <count>" and exits 0.  Built for x86_64 (linux-user) and
 * aarch64 (bare metal: no arguments, so always the default count). */
#include "guest.h"

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

int guest_main(int argc, char **argv)
{
    unsigned long n = 100000000;
    if (argc > 1)
        n = parse_dec(argv[1]);
    unsigned long i;
    /* The empty asm with a memory clobber keeps GCC from computing the
     * result without looping; the body stays one increment, compare and
     * branch, i.e. one translation block per iteration. */
    for (i = 0; i < n; i++)
        __asm__ volatile("" ::: "memory");
    put_str("loop ");
    put_dec(i);
    put_str("\n");
    return 0;
}

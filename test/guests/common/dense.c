/* The "dense" guest, for benchmarks: like loop.c a counted loop whose
 * body is a single basic block, but of ten instructions (two shifts and
 * xors and a sum, all in registers) where loop.c has three. 100 million
 * iterations by default or argv[1] (decimal). Prints "dense <count>
 * <hex>" and exits 0. x86_64 (linux-user) only. */
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
    uint64_t x = 0x9e3779b97f4a7c15ull, sum = 0;
    unsigned long i;

    if (argc > 1)
        n = parse_dec(argv[1]);
    /* No call, load or store in the body: one block an iteration. */
    for (i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        sum += x;
    }
    put_str("dense ");
    put_dec(i);
    put_str(" ");
    put_hex32((uint32_t)(sum ^ sum >> 32));
    put_str("\n");
    return 0;
}

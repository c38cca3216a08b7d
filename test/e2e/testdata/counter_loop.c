/*
 * A guest whose path hangs on the time-stamp counter: it reads it (x86_64
 * rdtsc), runs its loop 100,000 plus (the value mod 4,096) times, then
 * calls a function when `variant` is 2, as -DVARIANT sets it (one byte of
 * .data: code and layout stay the same). Two runs of one build go the same
 * way only when both read the same value: on QEMU 10.2 with counters=on,
 * 10^12 plus the read's position.
 *
 * test/e2e/gdb_test.ts builds it at test time (_counter_reader.ts).
 */
#include <stdint.h>
#include <stdio.h>

/* Never 0: both builds keep it in .data, at the same address. */
#ifdef VARIANT
volatile int variant = 2;
#else
volatile int variant = 1;
#endif

static uint64_t counter(void)
{
    uint32_t lo, hi;

    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

/* A call, not a flag: the variant's stream goes elsewhere. */
static __attribute__((noinline)) uint64_t twist(uint64_t h)
{
    __asm__ volatile("" : "+r"(h));
    return ~h;
}

int main(void)
{
    uint32_t runs = 100000 + (uint32_t)(counter() % 4096);
    uint64_t h = 1;

    for (uint32_t i = 0; i < runs; i++) {
        h = h * 6364136223846793005ull + i;
    }
    if (variant == 2) {
        h = twist(h);
    }
    printf("runs %u\nresult %016llx\n", runs, (unsigned long long)h);
    return 0;
}

/*
 * A guest that reads the time-stamp counter (x86_64 rdtsc, aarch64
 * cntvct_el0) at its start and keeps the value, computes for about twelve
 * million instructions, then calls a function when `variant` is 2, as
 * -DVARIANT sets it (one byte of .data: code and layout stay the same). It
 * prints the counter value, what it computed and the first bytes of
 * /dev/urandom.
 *
 * test/e2e/counters_test.ts and reconcile_test.ts build it at test time.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

/* Never 0: both builds keep it in .data, at the same address. */
#ifdef VARIANT
volatile int variant = 2;
#else
volatile int variant = 1;
#endif

volatile uint64_t stamp;

static uint64_t counter(void)
{
#if defined(__x86_64__)
    uint32_t lo, hi;

    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
#else
    uint64_t v;

    __asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
    return v;
#endif
}

/* A call, not a flag: the variant's stream goes elsewhere. */
static __attribute__((noinline)) uint64_t twist(uint64_t h)
{
    __asm__ volatile("" : "+r"(h));
    return ~h;
}

int main(void)
{
    uint64_t h = 1;
    unsigned char bytes[4] = { 0 };
    int fd;

    stamp = counter();
    for (uint32_t i = 0; i < 3000000; i++) {
        h = h * 6364136223846793005ull + i;
    }
    if (variant == 2) {
        h = twist(h);
    }
    fd = open("/dev/urandom", O_RDONLY);
    if (fd >= 0 && read(fd, bytes, sizeof(bytes)) < 0) {
        bytes[0] = 0;
    }
    printf("counter %llu\nresult %016llx\nurandom %02x%02x%02x%02x\n",
           (unsigned long long)stamp, (unsigned long long)h, bytes[0],
           bytes[1], bytes[2], bytes[3]);
    return 0;
}

/* The "tick" guest (riscv64 virt, M-mode): a computation that a machine
 * timer interrupt breaks into every TICK_PERIOD timer ticks.  The handler
 * only re-arms the timer and returns, restoring every register it used, so
 * the computation neither sees nor depends on the interrupts (its stores
 * make every round's memory accesses differ from the last's, so rounds
 * cannot be mistaken for each other): two runs whose
 * timers tick at different instruction counts (-icount shift=0 on one side,
 * shift=1 on the other) execute the same program with handler runs
 * ("excursions") at different points.  With -DVARIANT the final value is
 * changed once at the end, after all the excursions: a real divergence.
 *
 * Output: "tick 0x........" and exit 0 through the sifive_test device. */
#include "guest.h"

#define CLINT_MTIMECMP (*(volatile uint64_t *)0x2004000ul)
#define CLINT_MTIME (*(volatile uint64_t *)0x200bff8ul)
#define TICK_PERIOD 10000 /* 10 MHz timebase: 1 ms, 1,000,000 insns at shift=0 */
#define ROUNDS 250000

static volatile uint64_t ticks; /* written by the handler, never read */
static uint32_t trail[64];      /* the loop's stores: one slot a round */

__attribute__((interrupt("machine"), aligned(4))) static void tick_handler(void)
{
    uint64_t cause;
    __asm__ volatile("csrr %0, mcause" : "=r"(cause));
    if (cause != ((1ul << 63) | 7)) {
        put_str("\n!unexpected trap\n");
        arch_exit(1);
    }
    CLINT_MTIMECMP = CLINT_MTIME + TICK_PERIOD;
    ticks = ticks + 1;
}

__attribute__((noipa)) static uint32_t step(uint32_t h, uint32_t i)
{
    h ^= i;
    h *= 0x9e3779b1u;
    return h ^ (h >> 15);
}

int guest_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    uint32_t h = 0x12345678u;

    __asm__ volatile("csrw mtvec, %0" ::"r"(tick_handler));
    CLINT_MTIMECMP = CLINT_MTIME + TICK_PERIOD;
    __asm__ volatile("csrs mie, %0" ::"r"(1ul << 7));   /* MTIE */
    __asm__ volatile("csrs mstatus, %0" ::"r"(1ul << 3)); /* MIE */
    for (uint32_t i = 0; i < ROUNDS; i++) {
        h = step(h, i);
        trail[i % 64] = h;
    }
    __asm__ volatile("csrc mstatus, %0" ::"r"(1ul << 3));
#ifdef VARIANT
    h ^= 1;
#endif
    put_str("tick 0x");
    put_hex32(h);
    put_str("\n");
    return 0;
}

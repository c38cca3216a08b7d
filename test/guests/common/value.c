/* The "value" guest: base and variant run the same instructions for a long
 * time while computing different values, so only a lockstep comparison of
 * data (load/store addresses, syscall arguments) sees the difference early.
 *
 * Built twice per arch: normally and with -DVARIANT.  The builds differ in
 * one constant, SEED, inside value_step(): the same instructions with a
 * different immediate, so every function keeps its address and size.
 * value_step lives in .text_last anyway (see the linker scripts), so that
 * even a compiler that encoded the two constants differently would move
 * nothing else.
 *
 * What runs:
 *  1. ITERATIONS rounds of h = value_step(h, i), each followed by a load
 *     from table[] and a load and store in counts[] at indexes taken from h.
 *     From the first round on, the variant loads and stores at different
 *     addresses; the loop has no branch that depends on h (masks only, and
 *     value_step is straight-line code), so the executed instruction
 *     addresses stay the same for about 300,000 instructions.
 *  2. arch_write() of 1 + ((h >> 4) & 7) bytes of a fixed buffer: on x86_64
 *     the length of a write system call depends on h, while control flow
 *     still does not (the write is complete in one call); on aarch64 the
 *     PL011 loop runs once per byte, so control flow can differ from here.
 *  3. " value 0x" and h in hex, converted with a branch per digit (unlike
 *     put_hex32, which uses a table), so control flow differs at the latest
 *     here.  Then exit 0.
 *
 * Output: "## value 0x5434da99" (base), "######## value 0x865eb5f9"
 * (variant), the same on every arch. */
#include "guest.h"

#ifdef VARIANT
#define SEED 0x85ebca6bu
#else
#define SEED 0x9e3779b1u
#endif

#define TABLE_SIZE 256
#define ITERATIONS 16000

static uint32_t table[TABLE_SIZE];
static uint32_t counts[TABLE_SIZE];

uint32_t value_step(uint32_t h, uint32_t i);

/* Fills table[] before the loop: a linear congruential generator, the same
 * in both builds (it does not use SEED). */
__attribute__((noipa)) static void fill_table(void)
{
    uint32_t x = 0x12345678u;
    for (unsigned i = 0; i < TABLE_SIZE; i++) {
        x = x * 1103515245u + 12345u;
        table[i] = x ^ (x >> 16);
    }
}

/* Hex output with a conditional branch per digit: the empty volatile asm
 * keeps GCC from turning the if into a conditional move/select. */
__attribute__((noipa)) static void put_hex32_branchy(uint32_t v)
{
    char buf[8];
    for (int i = 7; i >= 0; i--) {
        uint32_t d = v & 15;
        if (d < 10) {
            buf[i] = (char)('0' + d);
        } else {
            __asm__ volatile("");
            buf[i] = (char)('a' - 10 + d);
        }
        v >>= 4;
    }
    arch_write(buf, sizeof buf);
}

int guest_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    static const char marks[8] = "########";

    fill_table();
    uint32_t h = 0x811c9dc5u;
    for (uint32_t i = 0; i < ITERATIONS; i++) {
        h = value_step(h, i);
        uint32_t t = table[h & (TABLE_SIZE - 1)];
        counts[(h >> 8) & (TABLE_SIZE - 1)] += t | 1;
        h ^= t;
    }
    h ^= counts[h & (TABLE_SIZE - 1)];

    arch_write(marks, 1 + ((h >> 4) & 7));
    put_str(" value 0x");
    put_hex32_branchy(h);
    put_str("\n");
    return 0;
}

/* The only function that differs in the variant, in one immediate.  No
 * branches.  Keep this function last. */
__attribute__((noipa, section(".text_last")))
uint32_t value_step(uint32_t h, uint32_t i)
{
    h = (h ^ i) * SEED;
    h ^= h >> 15;
    return h;
}

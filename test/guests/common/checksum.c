/* The "hello" guest: a small deterministic computation (a few hundred
 * thousand instructions) that prints "checksum 0x........" and exits 0.
 *
 * Built twice per arch: normally and with -DVARIANT.  The two builds differ
 * in exactly one function, mix_step(), whose control flow changes from its
 * first call on, so a lockstep run of the pair must report the first
 * difference inside mix_step.  To keep every other function at the same
 * address in both builds, mix_step lives in its own section ".text_last",
 * which every linker script here places after all other code, and data
 * starts on the next 4 KiB boundary.
 *
 * The helpers are noipa (= noinline plus no inter-procedural optimisation):
 * with plain noinline, GCC may still let a caller's code depend on what it
 * learned about the callee (e.g. which registers it clobbers), and then the
 * variant would change the callers too. */
#include "guest.h"

#define HELPER __attribute__((noipa))

#define TABLE_SIZE 256
#define ROUNDS 64

static uint32_t table[TABLE_SIZE];

uint32_t mix_step(uint32_t h, uint32_t v);

/* A linear congruential generator: fills the table without any input. */
HELPER static uint32_t next_random(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state ^ (*state >> 16);
}

HELPER static void fill_table(uint32_t seed)
{
    for (unsigned i = 0; i < TABLE_SIZE; i++)
        table[i] = next_random(&seed);
}

/* r is never 0 here, so the shift by 32 - r is defined. */
HELPER static uint32_t rotl32(uint32_t x, unsigned r)
{
    return (x << r) | (x >> (32 - r));
}

HELPER static uint32_t fold(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    return h;
}

int guest_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fill_table(0x12345678u);
    uint32_t h = 0x811c9dc5u;
    for (unsigned round = 0; round < ROUNDS; round++) {
        for (unsigned i = 0; i < TABLE_SIZE; i++)
            h = mix_step(h, table[i] + round);
        h = fold(h);
    }
#ifdef LABEL_VARIANT
    /* The label variant: the same code and lengths, one byte of text other. */
    put_str("checksun 0x");
#else
    put_str("checksum 0x");
#endif
    put_hex32(h);
    put_str("\n");
    return 0;
}

/* The only function that differs in the variant.  Its extra conditional
 * branch ends the first block of mix_step early, so execution differs on the
 * first call whichever way the branch goes.  The branch guards a call so
 * that GCC cannot turn it into a branch-free conditional move/select.  Keep
 * this function last. */
__attribute__((noipa, section(".text_last")))
uint32_t mix_step(uint32_t h, uint32_t v)
{
    h ^= v;
    h *= 0x01000193u;
#ifdef VARIANT
    if (h & 1)
        h = fold(h);
#endif
    return rotl32(h, 5);
}

/* The "rep" guest: one x86 rep string instruction of 40 million
 * iterations (rep stosb over a 40 MB buffer), then a checksum of the
 * buffer. QEMU enters the instruction again and again (qemu-x86_64 10.2
 * some 640 times here; the kernel's rep strings under icount millions of
 * times between two checkpoints); the stream counts it once
 * (plugin-src/exec.c, retire()), and such an entry is no block. Prints "rep <hex>" and exits 0. x86_64 (linux-user) only. */
#include "guest.h"

#define SIZE (40u << 20)

static unsigned char buf[SIZE];

int guest_main(int argc, char **argv)
{
    void *dst = buf;
    unsigned long n = SIZE;
    uint32_t sum = 0;

    (void)argc;
    (void)argv;
    __asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(0x5a) : "memory");
    for (unsigned long i = 0; i < SIZE; i += 4096)
        sum = sum * 31 + buf[i];
    put_str("rep ");
    put_hex32(sum);
    put_str("\n");
    return 0;
}

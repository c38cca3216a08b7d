/* The "cpuid" guest (x86_64 linux-user): asks the CPU for its structured
 * extended features (CPUID leaf 7, subleaf 0) and runs one loop iteration
 * for every feature bit set in EBX, then prints "cpuid" and the count.
 * Two QEMUs whose CPUs differ in that leaf run different streams from the
 * loop on; with the same CPU model (-cpu) on both, the same stream.  No
 * system call before the end. */
#include "guest.h"

int guest_main(int argc, char **argv)
{
    uint32_t a = 7, b, c = 0, d;
    uint32_t n = 0;

    (void)argc;
    (void)argv;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    for (; b != 0; b &= b - 1) {
        n++;
    }
    put_str("cpuid ");
    put_hex32(n);
    put_str("\n");
    return 0;
}

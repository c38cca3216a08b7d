/* Minimal output helpers on top of arch_write().  Kept free of division so
 * 32-bit targets need no libgcc (none is packaged for sparc -m32). */
#include "guest.h"

void put_str(const char *s)
{
    unsigned long n = 0;
    while (s[n])
        n++;
    arch_write(s, n);
}

void put_hex32(uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    char buf[8];
    for (int i = 7; i >= 0; i--) {
        buf[i] = digits[v & 15];
        v >>= 4;
    }
    arch_write(buf, sizeof buf);
}

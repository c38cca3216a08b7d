/* Serial output and reset for the sparc32 SPARCstation 20 guests.
 * All device accesses use ASI 0x2f (MMU bypass, physical address bits 35:32
 * = 0xf), so they work the same with the MMU on (OpenBIOS) or off (-bios).
 * They are invisible to QEMU plugin memory callbacks. */
#include "guest.h"

#define ESCC_A_CTRL 0xf1100004u /* ESCC (Z8530) channel A: phys 0xff1100004 */
#define ESCC_A_DATA 0xf1100006u
#define SYSCTRL     0xf1f00000u /* system control: phys 0xff1f00000 */

#define RR0_TX_EMPTY 0x04

static uint8_t bypass_load8(uint32_t addr)
{
    uint32_t v;
    __asm__ volatile("lduba [%1] 0x2f, %0" : "=r"(v) : "r"(addr) : "memory");
    return (uint8_t)v;
}

static void bypass_store8(uint32_t addr, uint8_t v)
{
    __asm__ volatile("stba %0, [%1] 0x2f" : : "r"(v), "r"(addr) : "memory");
}

static void bypass_store32(uint32_t addr, uint32_t v)
{
    __asm__ volatile("sta %0, [%1] 0x2f" : : "r"(v), "r"(addr) : "memory");
}

static int tx_enabled;

void arch_write(const char *s, unsigned long n)
{
    if (!tx_enabled) {
        /* Without firmware nobody has enabled the transmitter: write
         * register 5 = 0x68 (Tx enable, 8 bits/char).  Harmless after
         * OpenBIOS, which set the same value. */
        bypass_store8(ESCC_A_CTRL, 5);
        bypass_store8(ESCC_A_CTRL, 0x68);
        tx_enabled = 1;
    }
    for (unsigned long i = 0; i < n; i++) {
        while (!(bypass_load8(ESCC_A_CTRL) & RR0_TX_EMPTY))
            ;
        bypass_store8(ESCC_A_DATA, (uint8_t)s[i]);
    }
}

void arch_exit(int code)
{
    (void)code; /* no way to report it: the reset ends QEMU (-no-reboot) */
    bypass_store32(SYSCTRL, 1);
    for (;;)
        ;
}

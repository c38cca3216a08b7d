/* Serial output and power-off for the aarch64 "virt" machine guests. */
#include "guest.h"

#define PL011_BASE 0x09000000ul
#define PL011_DR (*(volatile uint32_t *)(PL011_BASE + 0x00))
#define PL011_FR (*(volatile uint32_t *)(PL011_BASE + 0x18))
#define FR_TXFF 0x20 /* transmit FIFO full */

#define PSCI_SYSTEM_OFF 0x84000008ul

void arch_write(const char *s, unsigned long n)
{
    for (unsigned long i = 0; i < n; i++) {
        while (PL011_FR & FR_TXFF)
            ;
        PL011_DR = (uint8_t)s[i];
    }
}

/* QEMU's built-in PSCI firmware (conduit "hvc" on virt without EL2/EL3)
 * ends QEMU on SYSTEM_OFF, so no semihosting option is needed.  The exit
 * code cannot be passed on: QEMU exits 0. */
void arch_exit(int code)
{
    (void)code;
    register unsigned long x0 __asm__("x0") = PSCI_SYSTEM_OFF;
    __asm__ volatile("hvc #0" : "+r"(x0) : : "memory");
    for (;;)
        __asm__ volatile("wfi");
}

/* Called from the vector table in start.S. */
void arch_exception(uint64_t esr, uint64_t elr);
void arch_exception(uint64_t esr, uint64_t elr)
{
    put_str("\n!exception esr 0x");
    put_hex32((uint32_t)esr);
    put_str(" elr 0x");
    put_hex32((uint32_t)elr);
    put_str("\n");
    arch_exit(1);
}

/* Serial output and exit for the riscv64 "virt" machine guests. */
#include "guest.h"

#define UART_BASE 0x10000000ul /* ns16550 */
#define UART_THR (*(volatile uint8_t *)(UART_BASE + 0))
#define UART_LSR (*(volatile uint8_t *)(UART_BASE + 5))
#define LSR_THRE 0x20 /* transmit holding register empty */

/* sifive_test device: 0x5555 = pass (QEMU exits 0), (code << 16) | 0x3333 =
 * fail (QEMU exits with code). */
#define TEST_DEV (*(volatile uint32_t *)0x100000ul)

void arch_write(const char *s, unsigned long n)
{
    for (unsigned long i = 0; i < n; i++) {
        while (!(UART_LSR & LSR_THRE))
            ;
        UART_THR = (uint8_t)s[i];
    }
}

void arch_exit(int code)
{
    TEST_DEV = code ? ((uint32_t)code << 16) | 0x3333 : 0x5555;
    for (;;)
        __asm__ volatile("wfi");
}

/* Called from trap_entry in start.S. */
void arch_exception(uint64_t mcause, uint64_t mepc);
void arch_exception(uint64_t mcause, uint64_t mepc)
{
    put_str("\n!exception mcause 0x");
    put_hex32((uint32_t)mcause);
    put_str(" mepc 0x");
    put_hex32((uint32_t)mepc);
    put_str("\n");
    arch_exit(1);
}

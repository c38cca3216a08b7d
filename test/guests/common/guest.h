/* Interface between the arch-independent guest programs (common/) and the
 * per-arch start code and output/exit routines (<arch>/).  Everything is
 * freestanding: no libc, so the executed instruction stream depends only on
 * this source, the compiler and the emulator. */
#ifndef GUEST_H
#define GUEST_H

#include <stdint.h>

/* Provided by each program (common/checksum.c, common/loop.c).  Bare-metal
 * start code passes argc = 0, argv = 0. */
int guest_main(int argc, char **argv);

/* Provided by <arch>/platform.c. */
void arch_write(const char *s, unsigned long n);   /* stdout or serial port */
void arch_exit(int code) __attribute__((noreturn)); /* exit / power off / reset */

/* common/print.c */
void put_str(const char *s);
void put_hex32(uint32_t v);

#endif

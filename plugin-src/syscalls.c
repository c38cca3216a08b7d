/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * syscalls.c - how many arguments the target's system calls take
 * (syscall_args.h), so that a call's event hashes the arguments it has and
 * never a register it does not read: a leftover value there (a counter
 * read, a pointer from an earlier call) is not the guest asking anything
 * else. A target without a table, and a number without a count, keep all
 * six.
 */
#include "lockstep.h"

#include <string.h>

#include "syscall_args.h"

#define LS_MAX_ARGS 6

/* Each call's argument count plus one, by number; 0: no count known. */
#define LS_COUNT(num, name, n) [num] = (n) + 1,
static const uint8_t args_X86_64[] = { LS_SYSCALLS_X86_64(LS_COUNT) };
static const uint8_t args_GENERIC[] = { LS_SYSCALLS_GENERIC(LS_COUNT) };

/* This run's table: NULL when the target has none. */
static struct {
    const uint8_t *counts;
    size_t n;
} syscall_args;

void syscalls_init(const qemu_info_t *info)
{
#define LS_PICK(list, target) \
    if (!syscall_args.counts && strcmp(info->target_name, target) == 0) { \
        syscall_args.counts = args_##list; \
        syscall_args.n = G_N_ELEMENTS(args_##list); \
    }
    LS_SYSCALL_TARGETS(LS_PICK)
#undef LS_PICK
}

/* The arguments call `num` takes: all six where no count is known. */
unsigned syscall_arg_count(int64_t num)
{
    if (!syscall_args.counts || num < 0 || (uint64_t)num >= syscall_args.n ||
        !syscall_args.counts[num]) {
        return LS_MAX_ARGS;
    }
    return syscall_args.counts[num] - 1;
}

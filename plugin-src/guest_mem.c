/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * guest_mem.c - reading the guest's memory before plugin API 4 (which has
 * qemu_plugin_read_memory_vaddr), in linux-user.
 *
 * There QEMU maps guest address A at host address A + guest_base, in its
 * own process. When guest_base is 0 (QEMU 7.2's x86_64 and aarch64 guests
 * on an x86_64 host: `qemu-x86_64 -d page` says "guest_base (nil)"), the
 * guest's A is the plugin's own A: it reads it through /proc/self/mem,
 * where an address the guest has not mapped is an error, not a fault.
 * That guest_base is 0 is checked, never assumed: the bytes of the first
 * blocks QEMU translates, as it gives them to the plugin, must be at their
 * addresses (the first before any read); one that is not turns this off
 * for good. The file is opened for each read: a forked child's /proc/self
 * is its own.
 */
#include "lockstep.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/*
 * Blocks whose bytes are checked at their addresses: the first one before
 * any read (a guest reads its first signal handler's place early), and
 * the next ones too, which turn reading off should one not be there.
 */
#define BLOCKS_TO_CHECK 4

static struct {
    bool user;          /* linux-user: guest memory is in this process */
    int checked;        /* blocks found where they run */
    bool wrong;         /* one was not: guest_base is not 0 */
} guest_mem;

void guest_mem_install(const qemu_info_t *info)
{
    guest_mem.user = !info->system_emulation;
}

/* Read len bytes at host (and guest) address vaddr into dest. */
static bool read_self(uint64_t vaddr, void *dest, size_t len)
{
    int fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0) {
        return false;
    }
    do {
        n = pread(fd, dest, len, (off_t)vaddr);
    } while (n < 0 && errno == EINTR);
    close(fd);
    return n == (ssize_t)len;
}

void guest_mem_check(const TbInfo *tb)
{
    uint8_t bytes[sizeof(tb->insns[0].bytes)];

    if (COMPAT_HAS_READ_MEMORY || !guest_mem.user || guest_mem.wrong ||
        guest_mem.checked >= BLOCKS_TO_CHECK || tb->n == 0) {
        return;
    }
    for (size_t i = 0; i < tb->n; i++) {
        const Insn *d = &tb->insns[i];
        size_t len = MIN(d->size, sizeof(bytes));

        if (!read_self(d->vaddr, bytes, len) ||
            memcmp(bytes, d->bytes, len) != 0) {
            guest_mem.wrong = true;
            return;
        }
    }
    guest_mem.checked++;
}

bool guest_mem_read(uint64_t vaddr, GByteArray *buf, size_t len)
{
    if (compat_read_memory(vaddr, buf, len)) {
        return true;
    }
    if (COMPAT_HAS_READ_MEMORY || !guest_mem.user || guest_mem.wrong ||
        guest_mem.checked == 0) {
        return false;
    }
    g_byte_array_set_size(buf, len);
    if (!read_self(vaddr, buf->data, len)) {
        g_byte_array_set_size(buf, 0);
        return false;
    }
    return true;
}

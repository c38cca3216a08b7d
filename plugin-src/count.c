/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * count.c - the benchmark's baseline: count executed blocks and nothing
 * else, so "lockstep / single" measures what lockstep adds.
 *
 * Arguments: out=PATH [maxinsns=N]
 * At exit (or after N instructions) writes "blocks insns peak_rss_kb\n" to
 * PATH.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "compat.h"
#include "peak_rss.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

/* Counters, touched by the single vCPU thread. */
static struct {
    uint64_t blocks;
    uint64_t insns;
    uint64_t maxinsns;
    const char *out;
} count;

static void report(void)
{
    FILE *f = fopen(count.out, "w");

    if (f) {
        fprintf(f, "%" PRIu64 " %" PRIu64 " %ld\n", count.blocks, count.insns,
                peak_rss_kb());
        fclose(f);
    }
}

static void vcpu_tb_exec(unsigned int vcpu_index, void *udata)
{
    count.blocks++;
    count.insns += (uintptr_t)udata;
    if (G_UNLIKELY(count.maxinsns && count.insns >= count.maxinsns)) {
        report();
        _exit(0);
    }
}

static void vcpu_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    uintptr_t n = qemu_plugin_tb_n_insns(tb);

    qemu_plugin_register_vcpu_tb_exec_cb(tb, vcpu_tb_exec,
                                         QEMU_PLUGIN_CB_NO_REGS, (void *)n);
}

static void plugin_exit(qemu_plugin_id_t id, void *p)
{
    report();
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                           const qemu_info_t *info,
                                           int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        g_auto(GStrv) kv = g_strsplit(argv[i], "=", 2);

        if (g_strcmp0(kv[0], "out") == 0 && kv[1]) {
            count.out = g_strdup(kv[1]);
        } else if (g_strcmp0(kv[0], "maxinsns") == 0 && kv[1]) {
            count.maxinsns = g_ascii_strtoull(kv[1], NULL, 0);
        } else {
            fprintf(stderr, "count: unknown option %s (known: out, "
                    "maxinsns)\n", argv[i]);
            return -1;
        }
    }
    if (!count.out) {
        fprintf(stderr, "count: out=PATH is required\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, vcpu_tb_trans);
    qemu_plugin_register_atexit_cb(id, plugin_exit, NULL);
    return 0;
}

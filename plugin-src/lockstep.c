/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * lockstep.c - compare the executed instruction stream of two QEMUs
 * (docs/how-it-works.md says how; lockstep.h lists the units). This unit
 * installs the plugin (arguments, sockets, rings, the reader thread, the
 * callbacks), instruments each translated block and shares its TbInfo
 * between identical translations (`tb_table`), starts the vCPU, and
 * reports the end when the guest exits.
 */
#include "lockstep.h"

#include <string.h>

#include "stream.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

TbTable tb_table = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
};

/* The inline counter on every block's last instruction (stream.last_insns). */
static CompatCounter last_insns;

/*
 * vCPU 0 sets the stream up. More vCPUs run as one stream with it in
 * system mode, when vcpus= says so (vcpus.c); any other would interleave
 * streams the plugin cannot tell apart: refuse it.
 */
static void vcpu_init(qemu_plugin_id_t id, unsigned int vcpu_index)
{
    static bool setup_done;
    g_autofree char *msg = NULL;

    if (process.forked && !process.paired) {
        return;     /* a child that compares nothing (process.c) */
    }
    if (threads.on && setup_done) {
        threads_vcpu_init(vcpu_index);  /* a guest thread (threads.c) */
        return;
    }
    if (!vcpus_started(vcpu_index)) {
        /* below: refused */
    } else if (vcpu_index > 0) {
        return;
    } else {
        setup_done = true;
        if (fast_counts_inline()) {
            fast_vcpu_init();
        }
        stream.last_insns = compat_counter_ptr(&last_insns);
        narrowing.on = compat_counter_ptr(&narrowing.on_counter);
        if (!counters_vcpu_init()) {
            report_error("counters=on: QEMU names no rax and rdx (x86_64) "
                         "or x0-x30 (aarch64) to plugins");
        }
        death_vcpu_init();
        if (options.regs) {
            regs_handshake();
        }
        threads_vcpu_init(vcpu_index);
        return;
    }
    msg = vcpus.n > 1
          ? g_strdup_printf("vCPU %u started: the run was planned for %u",
                            vcpu_index, vcpus.n)
          : g_strdup_printf("vCPU %u started: lockstep follows guest threads "
                            "only with plugin API 2 or later (QEMU 9.0) and "
                            "an x86_64 or aarch64 guest, not in the gdb "
                            "hand-off",
                            vcpu_index);
    report_error(msg);
    wait_for_quit();
}

static guint tb_info_hash(gconstpointer p)
{
    const TbInfo *tb = p;
    return (guint)(tb->hash ^ (tb->hash >> 32) ^ tb->n);
}

static gboolean tb_info_equal(gconstpointer x, gconstpointer y)
{
    const TbInfo *a = x, *b = y;
    return a->n == b->n && a->pc == b->pc &&
           memcmp(a->insns, b->insns, a->n * sizeof(Insn)) == 0;
}

/* What the plugin keeps of a translated block. */
static TbInfo *tb_info_new(struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    TbInfo *info = g_malloc0(sizeof(TbInfo) + n * sizeof(Insn));

    info->pc = qemu_plugin_tb_vaddr(tb);
    info->n = n;
    info->hash = 0;
    info->pow = 1;
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        Insn *d = &info->insns[i];
        size_t size = qemu_plugin_insn_size(insn);

        d->vaddr = qemu_plugin_insn_vaddr(insn);
        d->size = size;
        compat_insn_bytes(insn, d->bytes, MIN(size, sizeof(d->bytes)));
        info->hash = info->hash * stream_mul() + mix(d->vaddr);
        info->sum += mix(d->vaddr);
        info->pow *= stream_mul();
    }
    info->last = n ? info->insns[n - 1].vaddr : info->pc;
    if (options.x86 && n) {
        bool is64 = options.x86 == 2;

        info->rep_first = x86_rep_string(&info->insns[0], is64);
        info->rep_last = x86_rep_string(&info->insns[n - 1], is64);
    }
    info->end = n ? info->last + info->insns[n - 1].size : info->pc;
    guest_mem_check(info);
    return info;
}

/*
 * Re-translations of the same code share one TbInfo (and, for narrow=, one
 * set of NarrowInsn): memory follows the code translated, not how often it
 * is translated. Takes info; returns the shared one.
 */
static const TbInfo *tb_info_share(TbInfo *info, struct qemu_plugin_tb *tb)
{
    TbInfo *shared;

    pthread_mutex_lock(&tb_table.lock);
    shared = g_hash_table_lookup(tb_table.set, info);
    if (shared) {
        g_free(info);
    } else {
        info->id = tb_table.by_id->len;
        g_assert(info->id <= RING_ID_MAX);
        info->key = RING_MAKE_KEY(info->id, 0, info->n);
        g_ptr_array_add(tb_table.by_id, info);
        g_hash_table_add(tb_table.set, info);
        shared = info;
    }
    if (options.narrow.on && !shared->steps) {
        shared->steps = narrow_insns_new(shared, tb);
    }
    if (options.record && !shared->slot) {
        shared->slot = record_slot(shared->pc);
    }
    pthread_mutex_unlock(&tb_table.lock);
    return shared;
}

static void vcpu_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    const TbInfo *shared = tb_info_share(tb_info_new(tb), tb);
    size_t n = shared->n;

    /* First: its callback writes registers the others count on or read. */
    counters_tb_trans(tb, shared);

    if (fast_counts_inline()) {
        fast_tb_trans(tb, shared);
        return;
    }
    if (options.narrow.on) {
        qemu_plugin_register_vcpu_tb_exec_cb(tb, vcpu_tb_exec_narrow,
                                             QEMU_PLUGIN_CB_NO_REGS,
                                             (void *)shared);
        for (size_t i = 0; i < n; i++) {
            compat_insn_cb_if(qemu_plugin_tb_get_insn(tb, i),
                              vcpu_insn_narrow, QEMU_PLUGIN_CB_R_REGS,
                              &narrowing.on_counter, 1, &shared->steps[i]);
        }
        narrowing.on = compat_counter_ptr(&narrowing.on_counter);
    } else if (options.record) {
        /*
         * Reading registers makes QEMU sync them before every block: only
         * when some were agreed on (the handshake ran at vCPU init; sparc32
         * describes none).
         */
        qemu_plugin_register_vcpu_tb_exec_cb(tb, vcpu_tb_exec_record,
                                             regs_snapshots()
                                                 ? QEMU_PLUGIN_CB_R_REGS
                                                 : QEMU_PLUGIN_CB_NO_REGS,
                                             (void *)shared);
    } else if (options.regs) {
        qemu_plugin_register_vcpu_tb_exec_cb(tb, vcpu_tb_exec_regs,
                                             QEMU_PLUGIN_CB_R_REGS,
                                             (void *)shared);
    } else {
        qemu_plugin_register_vcpu_tb_exec_cb(tb, vcpu_tb_exec,
                                             QEMU_PLUGIN_CB_NO_REGS,
                                             (void *)shared);
    }
    if (options.locating) {
        locate_tb_trans(tb, shared);
    }
    if (options.mem) {
        for (size_t i = 0; i < n; i++) {
            qemu_plugin_register_vcpu_mem_cb(qemu_plugin_tb_get_insn(tb, i),
                                             vcpu_mem, QEMU_PLUGIN_CB_NO_REGS,
                                             QEMU_PLUGIN_MEM_RW,
                                             (void *)&shared->insns[i]);
        }
    }
    /* An inline add, not a call: cheap enough for every block. */
    if (n > 1) {
        compat_insn_inline_add(qemu_plugin_tb_get_insn(tb, n - 1),
                               &last_insns, 1);
        stream.last_insns = compat_counter_ptr(&last_insns);
    }
    death_tb_trans(tb, n);
}

/*
 * The guest ended (QEMU's exit, or death.c: a fatal signal). If it ended
 * inside its last block (a store that powers the machine off, a faulting
 * load), how much of that block ran is unknown: it is claimed whole and
 * reported as the stream's uncertain "tail". Whatever the plugin waits for
 * here, "quit" lets it return, and QEMU exits with its own status.
 */
void guest_end(void)
{
    uint64_t tail;
    bool quit;

    if (process.ended) {
        return;     /* at an exec (process.c): the end was said there */
    }
    process.ended = true;
    peer_exiting();
    comparison.exiting = true;
    vcpus_fold();
    tail = fast_counts_inline() ? fast_exit() : retire_last();
    if (process.forked && !process.paired) {
        report_end(tail);   /* on its own connection: see process.c */
        return;
    }
    pthread_mutex_lock(&peer_news.lock);
    quit = quit_here();
    pthread_mutex_unlock(&peer_news.lock);
    if (quit) {
        return;     /* it came while the last block reached a mark */
    }
    if (runs_alone()) {
        report_end(0);
        return;
    }
    if (options.record) {
        record_flush();
    }
    sync_end(tail);
}

/* A system call's return: its events, then the threads' turn (threads.c). */
static void syscall_ret_all(qemu_plugin_id_t id, unsigned int vcpu_index,
                            int64_t num, int64_t ret)
{
    bool tracked;

    if (!threads.on) {
        vcpu_syscall_ret(id, vcpu_index, num, ret);
        return;
    }
    /* Guest threads (threads.c): the call is back; its result is an event
     * once this thread's turn comes, in the order the turns go. */
    threads_call_back();
    env_syscall_end();
    tracked = threads_call_tracked();
    threads_syscall_ret(num, ret);
    if (tracked && threads_counted()) {
        vcpu_syscall_ret(id, vcpu_index, num, ret);
    }
}

static void plugin_exit(qemu_plugin_id_t id, void *p)
{
    guest_end();
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                           const qemu_info_t *info,
                                           int argc, char **argv)
{
    int ctl_fd;

    if (!parse_args(argc, argv)) {
        return -1;
    }
    counters_install(info);
    ctl_fd = ctl_connect(options.ctl_path);
    if (ctl_fd < 0) {
        return -1;
    }
    report_open(ctl_fd);
    guest_mem_install(info);
    process_install(info, argc, argv);
    report_hello(info);
    /* 2: x86-64 (REX prefixes), 1: i386. */
    options.x86 = g_str_equal(info->target_name, "x86_64") ? 2
                  : g_str_equal(info->target_name, "i386") ? 1 : 0;
    if (!vcpus_install(info) || !threads_install(info)) {
        return -1;
    }
    if (!runs_alone() && peer_connect() < 0) {
        return -1;
    }
    if (options.record && !record_install()) {
        return -1;
    }

    stream_alloc();
    events_alloc();
    /* Their vCPU 0 entries exist from vcpu_init on (see there). */
    compat_counter_init(&last_insns);
    compat_counter_init(&narrowing.on_counter);
#if QEMU_PLUGIN_VERSION >= 2
    vcpus_fold_add(last_insns.score, 0);
#endif
    if (fast_counts_inline()) {
        fast_install();
    }
    sync_start();
    if (options.locating) {
        locate_start();
    }
    tb_table.set = g_hash_table_new(tb_info_hash, tb_info_equal);
    tb_table.by_id = g_ptr_array_new();
    if (!peer_start_reader()) {
        return -1;
    }

    /* Always in linux-user: env.c marks the guest's calls for the shim. */
    if (!info->system_emulation) {
        env_init(info);
        syscalls_init(info);
        death_init(true);
        qemu_plugin_register_vcpu_syscall_cb(id, vcpu_syscall_all);
        qemu_plugin_register_vcpu_syscall_ret_cb(id, syscall_ret_all);
    }
    qemu_plugin_register_vcpu_init_cb(id, vcpu_init);
    qemu_plugin_register_vcpu_tb_trans_cb(id, vcpu_tb_trans);
    qemu_plugin_register_atexit_cb(id, plugin_exit, NULL);
    return 0;
}

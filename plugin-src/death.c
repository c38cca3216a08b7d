/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * death.c - a linux-user guest killed by a signal is the guest's end, as
 * an exit is. QEMU 8.0 and later run the plugin's atexit callback first
 * (plugin_exit(), the end reported as for an exit), then kill themselves
 * with the signal. QEMU 7.2 and earlier kill themselves at once: the
 * signal's action set back to the default, then kill(getpid(), sig). The
 * environment shim (env_shim.c), preloaded into QEMU, calls the hook
 * registered here before it passes that kill on, and the plugin ends the
 * stream there (guest_end()). Either way the harness reads the signal
 * from QEMU's exit status, and a QEMU that dies without the plugin's end
 * crashed or was killed.
 *
 * Where it died: a fault stops a block part-way, and the block callback
 * only says that the block, so its first instruction, started. In the
 * detail pass (and narrowing's re-runs) in linux-user the other
 * instructions of a block add to `started` inline: 1 each, and the last
 * one 2 - n, so that a block that ran whole leaves it as it found it, at 0
 * (a block of two needs no add at all). After a block cut short, retire()
 * sets it back to 0 (death_block_cut()) before the next block runs. So
 * when the guest dies inside a block, 1 + `started` of its instructions
 * started, the last of them the one that faulted: the stream
 * ends exactly there, with no uncertain tail. The fast pass and recording
 * claim such a block whole, as its inline flavour (API 3 on) cannot do
 * otherwise, so that every flavour, and a trace recorded with one and
 * compared with another, ends at the same place; where that makes the
 * ends differ, the detail pass says exactly.
 */
#include "lockstep.h"

#include <dlfcn.h>
#include <signal.h>

/* Linux-user, and not the fast pass or recording: `started` counts. */
static bool counting;
/* Instructions started in the running block, when it is cut short. */
static CompatCounter started;
static uint64_t *started_now;   /* vCPU 0's; NULL before it starts */
/* The thread QEMU runs the guest's vCPU on (linux-user: its main thread). */
static pthread_t vcpu_thread;

/*
 * QEMU is about to kill itself with `sig`. Only QEMU ending the guest
 * counts: on the vCPU thread, the action back to the default (QEMU has
 * its own for every signal it passes to the guest), the end not reported
 * yet.
 */
static void guest_killed(int sig)
{
    struct sigaction now;

    if (!pthread_equal(pthread_self(), vcpu_thread) || comparison.exiting ||
        sigaction(sig, NULL, &now) != 0 || now.sa_handler != SIG_DFL) {
        return;
    }
    guest_end();
}

/*
 * At install (on the vCPU thread; `user`: linux-user): the counter, and on
 * QEMUs that may skip atexit the hook, registered with the shim.
 */
void death_init(bool user)
{
    void (*on_death)(void (*)(int));

    counting = user && !options.fast && !options.record;
    if (counting) {
        compat_counter_init(&started);
    }
    if (!user || !COMPAT_DEATH_MAY_SKIP_ATEXIT) {
        return;
    }
    vcpu_thread = pthread_self();
    /* NULL when QEMU was started without the shim. */
    on_death = (void (*)(void (*)(int)))dlsym(RTLD_DEFAULT,
                                              "lockstep_env_on_death");
    if (on_death) {
        on_death(guest_killed);
    }
}

/* vCPU 0 starts: its counter exists from now on. */
void death_vcpu_init(void)
{
    if (counting) {
        started_now = compat_counter_ptr(&started);
    }
}

/* The inline adds of a translated block of n instructions. */
void death_tb_trans(struct qemu_plugin_tb *qtb, size_t n)
{
    if (!counting || n < 3) {
        return;
    }
    for (size_t i = 1; i + 1 < n; i++) {
        compat_insn_inline_add(qemu_plugin_tb_get_insn(qtb, i), &started, 1);
    }
    compat_insn_inline_add(qemu_plugin_tb_get_insn(qtb, n - 1), &started,
                           (uint64_t)2 - n);
    /* A scoreboard may move when it grows (see compat_counter_ptr()). */
    started_now = compat_counter_ptr(&started);
}

/* The pending block was cut short: the next one starts from 0. */
void death_block_cut(void)
{
    if (started_now) {
        *started_now = 0;
    }
}

/*
 * How many instructions of the block the guest ended in started, when it
 * did not run whole; 0 when unknown.
 */
uint32_t death_started(void)
{
    return started_now ? (uint32_t)*started_now + 1 : 0;
}

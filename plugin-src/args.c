/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * args.c - the plugin's arguments, key=value as QEMU passes them: one
 * table of every key (protocol.h's LS_ARGS), its kind, where it goes and
 * its bound, then the checks across keys. It owns `options`, which nothing
 * changes once the plugin is installed. An unknown key or a bad value
 * prints why and fails the install, so QEMU refuses to start.
 */
#include "lockstep.h"

#include <errno.h>
#include <stdlib.h>

/*
 * The most instructions the block ring may have to cover (window, two
 * intervals, reconverge and history; see stream_alloc()): 8 GB of ring,
 * above the harness's own limits (harness/core/defaults.ts LIMITS).
 */
#define RING_COVER_MAX (1ull << 30)

Options options = {
    .interval = DEFAULT_INTERVAL,
    .window = DEFAULT_WINDOW,
    .history = DEFAULT_HISTORY,
    .regs_every = DEFAULT_REGS_EVERY,
    .chunk = DEFAULT_CHUNK,
    .addrs = true,
    .vcpus = 1,
    .vcpuid = "none",
    .quantum = 1u << 16,
};

typedef enum {
    ARG_BOOL,
    ARG_U64,
    ARG_STRING,
    ARG_ROLE,
    ARG_RANGE,
} ArgKind;

/* What each kind takes, for the message about a bad value. */
static const char *const arg_kind_wants[] = {
    [ARG_BOOL] = "on or off (yes/no, true/false)",
    [ARG_U64] = "a number (decimal, 0x hex or 0 octal)",
    [ARG_STRING] = "a path",
    [ARG_ROLE] = "a or b",
    [ARG_RANGE] = "FROM:TO, decimal, FROM <= TO",
};

typedef struct {
    const char *key;
    ArgKind kind;
    void *dest;         /* bool, uint64_t, const char *, char or Range */
    uint64_t min;       /* ARG_U64: the smallest value allowed */
    bool *given;        /* if set: made true when the key is given */
} ArgSpec;

static const ArgSpec args[] = {
    /* Which side this is; side a listens on peer, side b connects. */
    { LS_ARG_ROLE, ARG_ROLE, &options.role },
    { LS_ARG_PEER, ARG_STRING, &options.peer_path },
    /* The orchestrator's socket (report.c, and commands to peer.c). */
    { LS_ARG_CTL, ARG_STRING, &options.ctl_path },
    { LS_ARG_LISTEN, ARG_BOOL, &options.listen },
    /* Stop at this many instructions (0: run to the guest's end). */
    { LS_ARG_MAXINSNS, ARG_U64, &options.maxinsns },
    /* Instructions between checkpoints, and how far a side may run ahead. */
    { LS_ARG_INTERVAL, ARG_U64, &options.interval, 1 },
    { LS_ARG_WINDOW, ARG_U64, &options.window },
    /* Blocks a dump sends before the last agreeing position. */
    { LS_ARG_HISTORY, ARG_U64, &options.history },
    /* Instructions to run on after a disagreement (transients). */
    { LS_ARG_RECONVERGE, ARG_U64, &options.reconverge },
    /* Events: memory accesses (with values), system calls (linux-user). */
    { LS_ARG_MEM, ARG_BOOL, &options.mem },
    { LS_ARG_MEMVALUES, ARG_BOOL, &options.memvalues },
    { LS_ARG_SYS, ARG_BOOL, &options.sys },
    /* Register snapshots (API 2), at most one per regsevery instructions. */
    { LS_ARG_REGS, ARG_BOOL, &options.regs },
    { LS_ARG_REGSEVERY, ARG_U64, &options.regs_every, 1 },
    /* Run alone and report every step of FROM:TO (implies regs=on). */
    { LS_ARG_NARROW, ARG_RANGE, &options.narrow },
    /*
     * Run alone and count the executions of the instruction at locatepc=
     * (locate.c); with locate=N, stop at the first from position N on.
     */
    { LS_ARG_LOCATE, ARG_U64, &options.locate, 1 },
    { LS_ARG_LOCATEPC, ARG_U64, &options.locate_pc, 0, &options.locating },
    /* The fast pass: no block ring, no dump; say where the streams part. */
    { LS_ARG_FAST, ARG_BOOL, &options.fast },
    /* Record a trace to this socket (record.c): chunks, snapshots. */
    { LS_ARG_RECORD, ARG_STRING, &options.record },
    { LS_ARG_CHUNK, ARG_U64, &options.chunk, 1 },
    { LS_ARG_DETAIL, ARG_U64, &options.detail },
    /*
     * Count an instruction run again right after itself each time, but an
     * x86 rep string instruction's entries once, as the fast pass (and so a
     * trace) does: the detail pass, naming a position a trace gave.
     */
    { LS_ARG_FASTCOUNT, ARG_BOOL, &options.fastcount },
    /* Compare addresses (off: the two QEMUs place the guest differently). */
    { LS_ARG_ADDRS, ARG_BOOL, &options.addrs },
    /* Write the same value after every read of the time-stamp counter. */
    { LS_ARG_COUNTERS, ARG_BOOL, &options.counters },
    /*
     * The peer runs the same guest live: a forked child pairs with the
     * peer's child of the same path (process.c). Not against a trace.
     */
    { LS_ARG_CHILDREN, ARG_BOOL, &options.children },
    /*
     * System calls not compared (sys=off): their results are still noted
     * as events outside the hash, so that a divergence that follows a
     * call that returned something else on each side is named as that
     * (the verdict's environment), not as TCG's. Live lockstep only.
     */
    { LS_ARG_SYSNOTE, ARG_BOOL, &options.sysnote },
    /*
     * This QEMU's process in the guest's tree when not the guest's first:
     * the plugin itself starts a QEMU for a program a child executes
     * (process.c), and says so.
     */
    { LS_ARG_PROC, ARG_STRING, &options.proc },
    /*
     * System mode: the vCPUs that run, in turn, as one stream, and how to
     * tell which one runs a block: apic, index or none (vcpus.c).
     */
    { LS_ARG_VCPUS, ARG_U64, &options.vcpus, 1 },
    { LS_ARG_VCPUID, ARG_STRING, &options.vcpuid },
    /*
     * linux-user: guest threads run one at a time, side b in side a's
     * order (threads.c), switching after `quantum` instructions.
     */
    { LS_ARG_THREADS, ARG_BOOL, &options.threads },
    { LS_ARG_QUANTUM, ARG_U64, &options.quantum, 1 },
    /*
     * The threads' order: decisions to follow first (schedin=, a file of
     * position and thread pairs, read at start-up), and whether the peer
     * is a live QEMU that shares them (schedpeer=on: side a sends its own,
     * side b follows them). Every side reports the decisions it makes
     * itself to the orchestrator ("sched").
     */
    { LS_ARG_SCHEDIN, ARG_STRING, &options.schedin },
    { LS_ARG_SCHEDPEER, ARG_BOOL, &options.schedpeer },
};
G_STATIC_ASSERT(G_N_ELEMENTS(args) == LS_N_ARGS);

static bool parse_u64(const char *val, uint64_t *out)
{
    char *end;

    errno = 0;
    *out = strtoull(val, &end, 0);
    return !errno && end != val && !*end;
}

static bool parse_range(const char *val, Range *out)
{
    char *end;

    out->from = g_ascii_strtoull(val, &end, 10);
    if (end == val || *end != ':') {
        return false;
    }
    val = end + 1;
    out->to = g_ascii_strtoull(val, &end, 10);
    out->on = true;
    return end != val && !*end && out->to >= out->from &&
           out->to < UINT64_MAX;
}

/* Store val as spec says; false if it is not a valid value. */
static bool parse_value(const ArgSpec *spec, const char *val)
{
    switch (spec->kind) {
    case ARG_BOOL:
        return qemu_plugin_bool_parse(spec->key, val, spec->dest);
    case ARG_U64:
        return parse_u64(val, spec->dest) &&
               *(uint64_t *)spec->dest >= spec->min;
    case ARG_STRING:
        *(const char **)spec->dest = g_strdup(val);
        return true;
    case ARG_ROLE:
        if (g_strcmp0(val, "a") && g_strcmp0(val, "b")) {
            return false;
        }
        *(char *)spec->dest = val[0];
        return true;
    case ARG_RANGE:
        return parse_range(val, spec->dest);
    }
    return false;
}

static const ArgSpec *find_arg(const char *key)
{
    for (size_t i = 0; i < G_N_ELEMENTS(args); i++) {
        if (g_strcmp0(key, args[i].key) == 0) {
            return &args[i];
        }
    }
    return NULL;
}

static void unknown_arg(const char *key)
{
    fprintf(stderr, "lockstep: unknown option %s (known:", key);
    for (size_t i = 0; i < G_N_ELEMENTS(args); i++) {
        fprintf(stderr, "%s %s", i ? "," : "", args[i].key);
    }
    fputs(")\n", stderr);
}

bool parse_args(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        g_auto(GStrv) kv = g_strsplit(argv[i], "=", 2);
        const ArgSpec *spec;

        if (!kv[0] || !kv[1]) {
            fprintf(stderr, "lockstep: option %s needs a value (key=value)\n",
                    argv[i]);
            return false;
        }
        spec = find_arg(kv[0]);
        if (!spec) {
            unknown_arg(kv[0]);
            return false;
        }
        if (!parse_value(spec, kv[1])) {
            fprintf(stderr, "lockstep: bad value in %s: %s wants %s",
                    argv[i], spec->key, arg_kind_wants[spec->kind]);
            if (spec->min) {
                fprintf(stderr, ", at least %" PRIu64, spec->min);
            }
            fputc('\n', stderr);
            return false;
        }
        if (spec->given) {
            *spec->given = true;
        }
    }
    if (options.narrow.on) {
        options.regs = true;
        options.mem = options.sys = false;
    }
    if (options.locating) {
        options.regs = options.mem = options.sys = false;
    }
    options.fastcount |= options.fast;
    /* Narrowing and recording run one QEMU, alone: no peer's children. */
    options.children &= !runs_alone() && !options.record;
    options.sysnote &= !options.sys && !options.fast && !runs_alone() &&
                       !options.record;
    /* Alone there is no live peer to share the order with. */
    options.schedpeer &= !runs_alone() && !options.record;
    if (!options.role || !options.ctl_path ||
        (!options.peer_path && !runs_alone())) {
        fprintf(stderr, "lockstep: role=, peer= and ctl= are required\n");
        return false;
    }
    if (options.regs && !COMPAT_HAS_REGS) {
        fprintf(stderr, "lockstep: regs= and narrow= need plugin API 2 "
                "(QEMU 9.0 or later)\n");
        return false;
    }
    if (options.counters && !COMPAT_HAS_WRITE_REGS) {
        fprintf(stderr, "lockstep: counters= needs plugin API 5 "
                "(QEMU 10.1 or later)\n");
        return false;
    }
    if ((options.locate && !options.locating) ||
        (options.locating &&
         (options.narrow.on || options.fast || options.record))) {
        fprintf(stderr, "lockstep: locate= needs locatepc=, which neither "
                "narrows nor takes part in a pass (narrow=, fast=, "
                "record=)\n");
        return false;
    }
    if (options.fast &&
        (options.narrow.on || options.mem || options.reconverge)) {
        fprintf(stderr, "lockstep: fast=on compares no memory accesses and "
                "neither narrows nor runs on (mem=, narrow=, reconverge=)\n");
        return false;
    }
    if (options.window > RING_COVER_MAX ||
        options.interval > RING_COVER_MAX ||
        options.reconverge > RING_COVER_MAX ||
        options.history > RING_COVER_MAX ||
        options.window + 2 * options.interval + options.reconverge +
        options.history > RING_COVER_MAX) {
        fprintf(stderr, "lockstep: window + 2 * interval + reconverge + "
                "history must stay within %llu instructions (the block "
                "ring covers them)\n", RING_COVER_MAX);
        return false;
    }
    if (options.record &&
        (!options.fast ||
         (options.detail && options.interval % options.detail))) {
        fprintf(stderr, "lockstep: record= needs fast=on, and detail= must "
                "divide interval=\n");
        return false;
    }
    if (options.window / options.interval + 2 >= CKPT_RING) {
        fprintf(stderr, "lockstep: window too large for interval (at most "
                "%d intervals)\n", CKPT_RING - 2);
        return false;
    }
    return true;
}

/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * protocol.h - the C mirror of the plugin<->harness protocol.
 *
 * The lists below are the contract with the harness (its TypeScript side
 * mirrors them): message kinds, commands, event kinds and argument keys.
 * Each string is written here once; the plugin uses only the names derived
 * from the lists further down (LS_MSG_*, LS_CMD_*, LS_EV_*, LS_ARG_*).
 * Messages between the two plugins are not part of it (see lockstep.h).
 */
#ifndef LOCKSTEP_PROTOCOL_H
#define LOCKSTEP_PROTOCOL_H

/*
 * Messages the plugin writes to the control socket: one JSON object a
 * line, "t" is the kind.
 */
#define LS_MESSAGES(X) \
    X(HELLO, "hello") \
    X(REGS, "regs") \
    X(PROGRESS, "progress") \
    X(END, "end") \
    X(LIMIT, "limit") \
    X(PEER_LOST, "peer-lost") \
    X(DIVERGED, "diverged") \
    X(BLOCK, "blk") \
    X(EVENT, "ev") \
    X(DUMPED, "dumped") \
    X(STEP, "step") \
    X(NARROWED, "narrowed") \
    X(LOCATED, "located") \
    X(AT, "at") \
    X(APART, "apart") \
    X(EXEC, "exec") \
    X(HANDLER, "handler") \
    X(THREAD, "thread") \
    X(UNFOLLOWED, "unfollowed") \
    X(SCHED, "sched") \
    X(ERROR, "error")

/* Commands the harness writes to the plugin: one text line, words split by
 * spaces. */
#define LS_COMMANDS(X) \
    X(REGS, "regs") \
    X(RESYNC, "resync") \
    X(WHERE, "where") \
    X(QUIT, "quit")

/* Event kinds: the "k" of an "ev" message. */
#define LS_EVENT_KINDS(X) \
    X(NONE, 0) \
    X(LOAD, 1) \
    X(STORE, 2) \
    X(SYSCALL, 3) \
    X(SYSRET, 4) \
    X(REGS, 5) \
    X(SYSOUT, 6) \
    X(SYSNOTE, 7) \
    X(SYSNOTE_CALL, 8)

/* Plugin arguments, key=value (keys as the harness writes them). */
#define LS_ARGS(X) \
    X(ROLE, "role") \
    X(PEER, "peer") \
    X(CTL, "ctl") \
    X(LISTEN, "listen") \
    X(MAXINSNS, "maxinsns") \
    X(INTERVAL, "interval") \
    X(WINDOW, "window") \
    X(HISTORY, "history") \
    X(RECONVERGE, "reconverge") \
    X(MEM, "mem") \
    X(MEMVALUES, "memvalues") \
    X(SYS, "sys") \
    X(REGS, "regs") \
    X(REGSEVERY, "regsevery") \
    X(NARROW, "narrow") \
    X(LOCATE, "locate") \
    X(LOCATEPC, "locatepc") \
    X(FAST, "fast") \
    X(RECORD, "record") \
    X(CHUNK, "chunk") \
    X(DETAIL, "detail") \
    X(FASTCOUNT, "fastcount") \
    X(ADDRS, "addrs") \
    X(COUNTERS, "counters") \
    X(CHILDREN, "children") \
    X(SYSNOTE, "sysnote") \
    X(PROC, "proc") \
    X(VCPUS, "vcpus") \
    X(VCPUID, "vcpuid") \
    X(THREADS, "threads") \
    X(QUANTUM, "quantum") \
    X(SCHEDIN, "schedin") \
    X(SCHEDPEER, "schedpeer")

/*
 * The record stream (record=PATH, record.c): frames of a one-byte kind,
 * three zero bytes, a u32 payload length and the payload, little-endian.
 * CHUNK begins chunk `index` (u64 index, u64 position and u64 target of
 * the jump before it); JUMPS carries the chunk's encoded jumps (u64 jumps
 * so far in the chunk, then bytes); DETAIL its encoded detail records.
 * docs/trace-format.md describes the encodings.
 */
#define LS_REC_FRAMES(X) \
    X(CHUNK, 1) \
    X(JUMPS, 2) \
    X(DETAIL, 3)

/*
 * The kinds of detail records: what an instruction did that the trace
 * keeps at its exact position (a system call, its result, what it wrote,
 * a register snapshot): the event kinds.
 */
#define LS_DETAIL_KINDS(X) \
    X(SYSCALL, 3) \
    X(SYSRET, 4) \
    X(REGS, 5) \
    X(SYSOUT, 6)

/*
 * What C makes of them: a string constant per message kind (LS_MSG_HELLO),
 * command word (LS_CMD_QUIT) and argument key (LS_ARG_ROLE), an enum of
 * event kinds (LS_EV_LOAD), and how many arguments there are.
 */
#define LS_STRING_MSG(name, str) static const char LS_MSG_##name[] = str;
#define LS_STRING_CMD(name, str) static const char LS_CMD_##name[] = str;
#define LS_STRING_ARG(name, str) static const char LS_ARG_##name[] = str;
#define LS_ENUM_EV(name, value) LS_EV_##name = value,
#define LS_PLUS_ONE(name, str) +1

LS_MESSAGES(LS_STRING_MSG)
LS_COMMANDS(LS_STRING_CMD)
LS_ARGS(LS_STRING_ARG)

#define LS_ENUM_REC(name, value) LS_REC_##name = value,
#define LS_ENUM_DETAIL(name, value) LS_DETAIL_##name = value,

typedef enum {
    LS_EVENT_KINDS(LS_ENUM_EV)
} LsEventKind;

typedef enum {
    LS_REC_FRAMES(LS_ENUM_REC)
} LsRecFrame;

typedef enum {
    LS_DETAIL_KINDS(LS_ENUM_DETAIL)
} LsDetailKind;

enum { LS_N_ARGS = 0 LS_ARGS(LS_PLUS_ONE) };

#endif /* LOCKSTEP_PROTOCOL_H */

/**
 * The plugin's arguments (`-plugin PATH,key=value,…`): every key, and how a
 * plan becomes the list for one side. plugin-src/protocol.h mirrors the
 * keys (LS_ARGS); test/unit/protocol_test.ts checks that they agree.
 */
import type { RunPlan, SidePlan } from "./plan.ts";
import { TRANSIENT_RUN } from "../verdict/transient.ts";
import { join } from "../../deps/path.ts";

/** Every argument key the plugin knows, by the name protocol.h gives it. */
export const PLUGIN_ARGS = {
  ROLE: "role",
  PEER: "peer",
  CTL: "ctl",
  LISTEN: "listen",
  MAXINSNS: "maxinsns",
  INTERVAL: "interval",
  WINDOW: "window",
  HISTORY: "history",
  RECONVERGE: "reconverge",
  MEM: "mem",
  MEMVALUES: "memvalues",
  SYS: "sys",
  REGS: "regs",
  REGSEVERY: "regsevery",
  NARROW: "narrow",
  LOCATE: "locate",
  LOCATEPC: "locatepc",
  FAST: "fast",
  RECORD: "record",
  CHUNK: "chunk",
  DETAIL: "detail",
  FASTCOUNT: "fastcount",
  ADDRS: "addrs",
  COUNTERS: "counters",
  CHILDREN: "children",
  SYSNOTE: "sysnote",
  /** Set by the plugin itself, when it runs a program a child executes (plugin-src/process.c). */
  PROC: "proc",
  VCPUS: "vcpus",
  VCPUID: "vcpuid",
  THREADS: "threads",
  QUANTUM: "quantum",
  SCHEDIN: "schedin",
  SCHEDPEER: "schedpeer",
} as const;

const K = PLUGIN_ARGS;

/** The run directory's sockets: the control channel, the peers' own, the record stream. */
export const CTL_SOCKET = "ctl.sock";
export const PEER_SOCKET = "peer.sock";
export const REC_SOCKET = "rec.sock";

/** How a trace is recorded (the plugin's record= arguments). */
export interface RecordParams {
  /** Instructions between checkpoints, per chunk, between register snapshots (0: none). */
  readonly interval: number;
  readonly chunk: number;
  readonly detail: number;
}

/** The arguments of one side of a lockstep run in `runDir`. */
export function lockstepPluginArgs(
  plan: RunPlan,
  side: SidePlan,
  runDir: string,
  fastCount = false,
): string[] {
  const mem = plan.compare.includes("mem");
  const sys = plan.compare.includes("syscalls");
  return [
    // Positions a trace gave: counted as the fast pass counts.
    ...(fastCount ? [`${K.FASTCOUNT}=on`] : []),
    `${K.ROLE}=${side.role}`,
    `${K.PEER}=${join(runDir, PEER_SOCKET)}`,
    `${K.CTL}=${join(runDir, CTL_SOCKET)}`,
    // Side A listens for its peer, side B connects.
    `${K.LISTEN}=${side.role === "a" ? "on" : "off"}`,
    `${K.HISTORY}=${plan.history}`,
    `${K.INTERVAL}=${plan.interval}`,
    `${K.WINDOW}=${plan.window}`,
    ...(plan.transientWindow > 0
      ? [`${K.RECONVERGE}=${plan.transientWindow + TRANSIENT_RUN}`]
      : []),
    ...(plan.maxInsns ? [`${K.MAXINSNS}=${plan.maxInsns}`] : []),
    ...(mem ? [`${K.MEM}=on`] : []),
    // Values (what loads and stores moved, what system calls wrote) only
    // when both sides can read them (plugin API 4, QEMU 9.2).
    ...((mem || sys) && plan.a.qemu.pluginApi >= 4 && plan.b.qemu.pluginApi >= 4
      ? [`${K.MEMVALUES}=on`]
      : []),
    ...(sys ? [`${K.SYS}=on`] : []),
    ...(plan.compare.includes("regs") ? [`${K.REGS}=on`, `${K.REGSEVERY}=${plan.regsEvery}`] : []),
    // The two QEMUs place the guest differently: addresses mean nothing.
    ...(plan.sameLayout ? [] : [`${K.ADDRS}=off`]),
    ...(plan.counters ? [`${K.COUNTERS}=on`] : []),
  ];
}

/**
 * The arguments of one side of the fast pass: no memory accesses, no dump,
 * checkpoints further apart (see docs/performance.md); register snapshots
 * at most once a checkpoint.
 */
export function fastPluginArgs(plan: RunPlan, side: SidePlan, runDir: string): string[] {
  const sys = plan.compare.includes("syscalls");
  return [
    `${K.ROLE}=${side.role}`,
    `${K.PEER}=${join(runDir, PEER_SOCKET)}`,
    `${K.CTL}=${join(runDir, CTL_SOCKET)}`,
    // Side A listens, side B connects (to the harness, against a trace).
    `${K.LISTEN}=${side.role === "a" ? "on" : "off"}`,
    `${K.FAST}=on`,
    `${K.INTERVAL}=${plan.fast.interval}`,
    `${K.WINDOW}=${plan.fast.window}`,
    ...(plan.maxInsns ? [`${K.MAXINSNS}=${plan.maxInsns}`] : []),
    ...(sys ? [`${K.SYS}=on`] : []),
    // What system calls wrote, as in the detail pass: both sides at API 4.
    ...(sys && plan.a.qemu.pluginApi >= 4 && plan.b.qemu.pluginApi >= 4
      ? [`${K.MEMVALUES}=on`]
      : []),
    ...(plan.compare.includes("regs")
      ? [`${K.REGS}=on`, `${K.REGSEVERY}=${plan.fast.interval}`]
      : []),
    ...(plan.sameLayout ? [] : [`${K.ADDRS}=off`]),
    // Every pass writes the same counter values: each retraces the others.
    ...(plan.counters ? [`${K.COUNTERS}=on`] : []),
  ];
}

/**
 * The arguments of a side that records a trace: the fast pass's (the
 * trace's interval; the harness, listening, is its peer), the record
 * stream's socket, and the detail asked for. Register snapshots only when
 * there are registers to read (`regs`: the plan compares them).
 */
export function recordPluginArgs(
  plan: RunPlan,
  side: SidePlan,
  runDir: string,
  rec: RecordParams,
): string[] {
  const regs = plan.compare.includes("regs");
  const sys = plan.compare.includes("syscalls");
  return [
    `${K.ROLE}=${side.role}`,
    `${K.PEER}=${join(runDir, PEER_SOCKET)}`,
    `${K.CTL}=${join(runDir, CTL_SOCKET)}`,
    `${K.LISTEN}=off`,
    `${K.FAST}=on`,
    `${K.INTERVAL}=${rec.interval}`,
    `${K.WINDOW}=${plan.fast.window}`,
    `${K.RECORD}=${join(runDir, REC_SOCKET)}`,
    `${K.CHUNK}=${rec.chunk}`,
    `${K.DETAIL}=${regs ? rec.detail : 0}`,
    ...(plan.maxInsns ? [`${K.MAXINSNS}=${plan.maxInsns}`] : []),
    ...(sys ? [`${K.SYS}=on`] : []),
    // What system calls wrote, where this QEMU can read it (API 4): the
    // trace says so (TraceHeader.outputs).
    ...(sys && side.qemu.pluginApi >= 4 ? [`${K.MEMVALUES}=on`] : []),
    ...(regs ? [`${K.REGS}=on`, `${K.REGSEVERY}=${rec.interval}`] : []),
  ];
}

/** The arguments of one side run alone to report every step of [from, to] (narrowing). */
export function narrowPluginArgs(
  plan: RunPlan,
  side: SidePlan,
  runDir: string,
  from: number,
  to: number,
  fastCount = false,
): string[] {
  return [
    `${K.ROLE}=${side.role}`,
    `${K.CTL}=${join(runDir, CTL_SOCKET)}`,
    `${K.NARROW}=${from}:${to}`,
    // Positions a trace gave: counted as the fast pass counts.
    ...(fastCount ? [`${K.FASTCOUNT}=on`] : []),
    ...(plan.counters ? [`${K.COUNTERS}=on`] : []),
  ];
}

/**
 * The arguments of one side run alone to count the executions of the
 * instruction at `pc` (a run under gdb asks where it is with "where"); with
 * `at`, it stops at the first from position `at` on and says how many ran
 * before it (the locate pass, harness/debug/). The counters are written as
 * the run wrote them (plan.counters): a guest whose path hangs on a value
 * read takes the run's path only so.
 */
export function locatePluginArgs(
  plan: RunPlan,
  side: SidePlan,
  runDir: string,
  pc: bigint,
  at?: number,
): string[] {
  return [
    `${K.ROLE}=${side.role}`,
    `${K.CTL}=${join(runDir, CTL_SOCKET)}`,
    `${K.LOCATEPC}=0x${pc.toString(16)}`,
    ...(at ? [`${K.LOCATE}=${at}`] : []),
    ...(plan.counters ? [`${K.COUNTERS}=on`] : []),
  ];
}

/**
 * The `-plugin` value: the plugin's path and its arguments. QEMU splits it
 * at commas and reads ",," as one comma, so a path that has one (a TMPDIR
 * or cache directory) survives.
 */
export function pluginSpec(path: string, args: readonly string[]): string {
  return [path, ...args].map((x) => x.replaceAll(",", ",,")).join(",");
}

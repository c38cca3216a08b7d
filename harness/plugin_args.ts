/**
 * The plugin's arguments (`-plugin PATH,key=value,…`): every key, and how a
 * plan becomes the list for one side. plugin-src/protocol.h mirrors the
 * keys (LS_ARGS); test/unit/protocol_test.ts checks that they agree.
 */
import type { RunPlan, SidePlan } from "./plan.ts";
import { TRANSIENT_RUN } from "./transient.ts";
import { join } from "../deps/path.ts";

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
  ADDRS: "addrs",
} as const;

const K = PLUGIN_ARGS;

/** The run directory's sockets: the control channel and the peers' own. */
export const CTL_SOCKET = "ctl.sock";
export const PEER_SOCKET = "peer.sock";

/** The arguments of one side of a lockstep run in `runDir`. */
export function lockstepPluginArgs(plan: RunPlan, side: SidePlan, runDir: string): string[] {
  const mem = plan.compare.includes("mem");
  const sys = plan.compare.includes("syscalls");
  return [
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
  ];
}

/** The arguments of one side run alone to report every step of [from, to] (narrowing). */
export function narrowPluginArgs(
  side: SidePlan,
  runDir: string,
  from: number,
  to: number,
): string[] {
  return [
    `${K.ROLE}=${side.role}`,
    `${K.CTL}=${join(runDir, CTL_SOCKET)}`,
    `${K.NARROW}=${from}:${to}`,
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

/**
 * The QEMU command line of one side: the plan's arguments around the
 * `-plugin` option, and in linux-user mode the same guest path on both
 * sides (each side's own copy of its guest, reached through file
 * descriptor 3).
 */
import type { RunPlan, SidePlan } from "./plan.ts";
import {
  fastPluginArgs,
  locatePluginArgs,
  lockstepPluginArgs,
  narrowPluginArgs,
  PLUGIN_ARGS,
  pluginSpec,
  type RecordParams,
  recordPluginArgs,
} from "./plugin_args.ts";
import { SetupError } from "../core/errors.ts";
import { DEVICE_ROOT, placeDevices } from "../verdict/environment.ts";
import { join } from "../../deps/path.ts";

/**
 * Where a linux-user side's copy of its guest program goes: …/a/NAME and
 * …/b/NAME, NAME being the plan's guest name (side A's image's name) on
 * both sides.
 */
export function guestCopy(runDir: string, plan: RunPlan, side: SidePlan): string {
  return join(runDir, side.role, plan.guestName);
}

/**
 * Puts each side's guest program where guestCopy() says (linux-user), and
 * the fixed /dev/urandom and /dev/random both see (plan.fixedDevices).
 */
export async function placeGuests(
  runDir: string,
  plan: RunPlan,
  sides: readonly SidePlan[],
): Promise<void> {
  for (const side of sides) {
    await Deno.mkdir(join(runDir, side.role));
    await placeFile(side.image, guestCopy(runDir, plan, side));
  }
  if (plan.fixedDevices) await placeDevices(runDir, plan.ldPrefix);
}

/**
 * Puts `src` at `dst` without reading it into memory: a hard link where the
 * file system allows one (instant, whatever the size), else a copy that
 * keeps holes (a sparse 2 GB image stays small). Not a symbolic link:
 * /proc/self/exe resolves those, and the two images' own paths may differ
 * in length.
 */
async function placeFile(src: string, dst: string): Promise<void> {
  try {
    await Deno.link(src, dst);
    return;
  } catch {
    // Another file system, or a file this user may not link: copy.
  }
  const out = await new Deno.Command("cp", {
    args: ["--sparse=always", "--reflink=auto", "--", src, dst],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new SetupError(
      `Cannot copy the guest ${src} into the run directory: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
      "check the space left in TMPDIR, or set TMPDIR to a directory with room",
    );
  }
}

/*
 * A linux-user side starts as `sh -c SCRIPT qemu-lockstep DIR setarch … qemu
 * … /proc/self/fd/3/NAME`: the shell opens the side's own directory as file
 * descriptor 3 and execs, so both QEMUs are given the same path string, each
 * reaching its own copy. The guest sees the same AT_EXECFN and argv[0] on both
 * sides (and an open descriptor 3 on both).
 */
const OPEN_SIDE_DIR = 'exec 3<"$1" && shift && exec "$@"';
/**
 * The same, with the environment shim (plugin-src/env_shim.c) preloaded
 * into what follows (setarch, then QEMU; QEMU's -U keeps it from the
 * guest), told where the run's root is (empty: none).
 */
const OPEN_SIDE_DIR_PRELOAD = 'exec 3<"$1" && LD_PRELOAD="$2" && LOCKSTEP_DEVICE_ROOT="$3" && ' +
  'export LD_PRELOAD LOCKSTEP_DEVICE_ROOT && shift 3 && exec "$@"';

/** What the plugin of one side is started to do. */
export type PluginPass =
  /**
   * The detail pass (block rings, events, dumps); `fastCount` counts as the
   * fast pass does; `children`: see below.
   */
  | { readonly kind: "lockstep"; readonly fastCount?: boolean; readonly children?: boolean }
  /**
   * The fast pass: inline counts and checkpoints only. `children`: the peer
   * is the other side's QEMU (not a trace): forked children pair up too.
   */
  | { readonly kind: "fast"; readonly children?: boolean }
  /** Recording a golden trace. */
  | { readonly kind: "record"; readonly rec: RecordParams }
  /** Alone, reporting every step of [from, to] (narrowing). */
  | {
    readonly kind: "narrow";
    readonly from: number;
    readonly to: number;
    readonly fastCount?: boolean;
  }
  /**
   * Alone, counting the executions of the instruction at `pc`; with `at`,
   * stopping at the first from position `at` on (harness/debug/).
   */
  | { readonly kind: "locate"; readonly pc: bigint; readonly at?: number };

/** Everything one side's command line is made from. */
export interface SideArgvRequest {
  readonly plan: RunPlan;
  readonly side: SidePlan;
  /** The run's private directory. */
  readonly runDir: string;
  /** The plugin built for this side, and in linux-user the environment shim to preload. */
  readonly plugin: { readonly path: string; readonly shim?: string | undefined };
  readonly pass: PluginPass;
  /**
   * A Unix socket path for QEMU's gdbstub: the QEMU waits there for a
   * debugger before its first instruction (system mode: -gdb … -S;
   * linux-user: -g).
   */
  readonly gdbStub?: string;
  /** QEMU's own log (-d) of the blocks in an address range, into the side's log file. */
  readonly qemuLog?: QemuLog;
  /**
   * linux-user guest threads (plugin-src/threads.c): a file of decisions
   * to follow first (`replay`).
   */
  readonly schedule?: ScheduleFiles | undefined;
}

/** A side's files of the guest threads' order (SideArgvRequest's `schedule`). */
export interface ScheduleFiles {
  readonly replay?: string;
}

/** The run directory's file of the threads' order the sides are given to follow. */
export const SCHEDULE_IN = "schedule-in";

/** What QEMU logs (`-d ITEMS -dfilter FROM..TO`) and of which blocks. */
export interface QemuLog {
  /** QEMU's -d items, comma-separated ("op,out_asm"). */
  readonly items: string;
  /** The first and last address of the blocks logged (a block is logged by its start). */
  readonly from: bigint;
  readonly to: bigint;
}

/** The side's log file: the plugin's `-D`, where QEMU's -d output goes too. */
export function sideLogPath(runDir: string, side: SidePlan): string {
  return join(runDir, `qemu-${side.role}.log`);
}

/**
 * `-d` with the items QEMU already logs on this side (the plan's
 * `plugin,nochain`, the user's own) and `log`'s, and its -dfilter: last
 * among QEMU's options, as QEMU takes the last -d.
 */
function qemuLogArgs(side: SidePlan, log: QemuLog): string[] {
  const all = [...side.head, ...side.tail];
  const items = new Set<string>();
  all.forEach((x, i) => {
    if (x === "-d" && all[i + 1] !== undefined) all[i + 1]!.split(",").forEach((d) => items.add(d));
  });
  log.items.split(",").forEach((d) => items.add(d));
  return [
    "-d",
    [...items].filter((d) => d !== "").join(","),
    "-dfilter",
    `0x${log.from.toString(16)}..0x${log.to.toString(16)}`,
  ];
}

/** The full argv of one side, its plugin started for `pass`. */
export function sideArgv(r: SideArgvRequest): string[] {
  const { plan, side, runDir, pass } = r;
  const args = pass.kind === "lockstep"
    ? lockstepPluginArgs(plan, side, runDir, pass.fastCount ?? false)
    : pass.kind === "fast"
    ? fastPluginArgs(plan, side, runDir)
    : pass.kind === "record"
    ? recordPluginArgs(plan, side, runDir, pass.rec)
    : pass.kind === "locate"
    ? locatePluginArgs(plan, side, runDir, pass.pc, pass.at)
    : narrowPluginArgs(plan, side, runDir, pass.from, pass.to, pass.fastCount ?? false);
  const children = (pass.kind === "lockstep" || pass.kind === "fast") && pass.children &&
    plan.mode === "user";
  // A live lockstep run that does not compare system calls notes their
  // results, to name a divergence that follows one (plugin-src/args.c).
  const notes = pass.kind === "lockstep" && pass.children && plan.mode === "user" &&
    !plan.compare.includes("syscalls");
  const threads = plan.mode === "user" && pass.kind !== "locate";
  // The peer is the other side's QEMU: side a sends its threads' order to side b.
  const livePeer = (pass.kind === "lockstep" || pass.kind === "fast") && pass.children === true;
  const all = [
    ...args,
    ...(side.vcpus
      ? [`${PLUGIN_ARGS.VCPUS}=${side.vcpus.count}`, `${PLUGIN_ARGS.VCPUID}=${side.vcpus.id}`]
      : []),
    // Guest threads one at a time, side b in side a's order (plugin-src/threads.c).
    ...(threads ? [`${PLUGIN_ARGS.THREADS}=on`] : []),
    ...(threads && livePeer ? [`${PLUGIN_ARGS.SCHEDPEER}=on`] : []),
    ...(threads && r.schedule?.replay ? [`${PLUGIN_ARGS.SCHEDIN}=${r.schedule.replay}`] : []),
    ...(children ? [`${PLUGIN_ARGS.CHILDREN}=on`] : []),
    ...(notes ? [`${PLUGIN_ARGS.SYSNOTE}=on`] : []),
  ];
  return withQemuArgs(
    plan,
    side,
    runDir,
    [
      ...pluginArgv(side, runDir, pluginSpec(r.plugin.path, all)),
      ...(r.gdbStub === undefined ? [] : gdbStubArgs(plan.mode, r.gdbStub)),
    ],
    r.plugin.shim,
    r.qemuLog ? qemuLogArgs(side, r.qemuLog) : [],
  );
}

/**
 * QEMU's options for a gdbstub on the Unix socket `path`, waiting for a
 * debugger before the first instruction.
 */
export function gdbStubArgs(mode: "system" | "user", path: string): string[] {
  return mode === "user" ? ["-g", path] : ["-gdb", `unix:${path},server=on,wait=off`, "-S"];
}

/** `-plugin` and its log file, or nothing for no plugin (`spec` null). */
function pluginArgv(side: SidePlan, runDir: string, spec: string | null): string[] {
  return spec === null ? [] : ["-plugin", spec, "-D", sideLogPath(runDir, side)];
}

/**
 * One side's argv with any plugin (`-plugin` value `spec`), or none (null):
 * the benchmark runs the same command line with its counting plugin and
 * with no plugin at all. In linux-user, `shim` is the environment shim to
 * preload, if any.
 */
export function argvWithPlugin(
  plan: RunPlan,
  side: SidePlan,
  runDir: string,
  spec: string | null,
  shim?: string,
): string[] {
  return withQemuArgs(plan, side, runDir, pluginArgv(side, runDir, spec), shim);
}

/**
 * One side's command as a person would type it to run the same QEMU on the
 * same guest without the plugin and the environment shim (linux-user: the
 * image where the user named it, not the run directory's copy).
 */
export function commandWithoutPlugin(plan: RunPlan, side: SidePlan): string[] {
  if (plan.mode === "user") return [...side.head, ...side.tail, side.image, ...plan.guestArgs];
  return [side.command, ...side.head, ...side.tail];
}

/**
 * One side's argv with `plugin` (QEMU options) between the plan's head and
 * tail, and `last` after the tail (still before a linux-user guest).
 */
function withQemuArgs(
  plan: RunPlan,
  side: SidePlan,
  runDir: string,
  plugin: readonly string[],
  shim: string | undefined,
  last: readonly string[] = [],
): string[] {
  if (plan.mode === "user") {
    return [
      "-c",
      shim ? OPEN_SIDE_DIR_PRELOAD : OPEN_SIDE_DIR,
      "qemu-lockstep",
      join(runDir, side.role),
      ...(shim ? [shim, plan.fixedDevices ? join(runDir, DEVICE_ROOT) : ""] : []),
      ...side.head,
      ...plugin,
      ...side.tail,
      ...last,
      // After the user's own -L: QEMU takes the last (the root links to it).
      ...(plan.fixedDevices ? ["-L", join(runDir, DEVICE_ROOT)] : []),
      `/proc/self/fd/3/${plan.guestName}`,
      ...plan.guestArgs,
    ];
  }
  return [...side.head, ...plugin, ...side.tail, ...last];
}

/**
 * The QEMU command line of one side: the plan's arguments around the
 * `-plugin` option, and in linux-user mode the same guest path on both
 * sides (each side's own copy of its guest, reached through file
 * descriptor 3).
 */
import type { RunPlan, SidePlan } from "./plan.ts";
import {
  fastPluginArgs,
  lockstepPluginArgs,
  narrowPluginArgs,
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
  if (plan.fixedDevices) await placeDevices(runDir);
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
 * into what follows (setarch, then QEMU; QEMU's -U keeps it from the guest).
 */
const OPEN_SIDE_DIR_PRELOAD = 'exec 3<"$1" && LD_PRELOAD="$2" && export LD_PRELOAD && shift 2 && ' +
  'exec "$@"';

/** The full argv for one side, given the run's private directory. */
export function lockstepArgv(
  plan: RunPlan,
  side: SidePlan,
  runDir: string,
  pluginPath: string,
  shim?: string,
  fastCount = false,
): string[] {
  const spec = pluginSpec(pluginPath, lockstepPluginArgs(plan, side, runDir, fastCount));
  return argvWithPlugin(plan, side, runDir, spec, shim);
}

/** The full argv for one side of the fast pass. */
export function fastArgv(
  plan: RunPlan,
  side: SidePlan,
  runDir: string,
  pluginPath: string,
  shim?: string,
): string[] {
  const spec = pluginSpec(pluginPath, fastPluginArgs(plan, side, runDir));
  return argvWithPlugin(plan, side, runDir, spec, shim);
}

/** The full argv of a side that records a trace. */
export function recordArgv(
  plan: RunPlan,
  side: SidePlan,
  runDir: string,
  pluginPath: string,
  rec: RecordParams,
  shim?: string,
): string[] {
  const spec = pluginSpec(pluginPath, recordPluginArgs(plan, side, runDir, rec));
  return argvWithPlugin(plan, side, runDir, spec, shim);
}

/** The argv of one side run alone to report every step of [from, to] (narrowing). */
export function narrowArgv(
  plan: RunPlan,
  side: SidePlan,
  runDir: string,
  pluginPath: string,
  from: number,
  to: number,
  shim?: string,
  fastCount = false,
): string[] {
  const spec = pluginSpec(pluginPath, narrowPluginArgs(side, runDir, from, to, fastCount));
  return argvWithPlugin(plan, side, runDir, spec, shim);
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
  const plugin = spec === null
    ? []
    : ["-plugin", spec, "-D", join(runDir, `qemu-${side.role}.log`)];
  if (plan.mode === "user") {
    return [
      "-c",
      shim ? OPEN_SIDE_DIR_PRELOAD : OPEN_SIDE_DIR,
      "qemu-lockstep",
      join(runDir, side.role),
      ...(shim ? [shim] : []),
      ...side.head,
      ...plugin,
      ...(plan.fixedDevices ? ["-L", join(runDir, DEVICE_ROOT)] : []),
      ...side.tail,
      `/proc/self/fd/3/${plan.guestName}`,
      ...plan.guestArgs,
    ];
  }
  return [...side.head, ...plugin, ...side.tail];
}

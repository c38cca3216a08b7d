/**
 * The plan of a run, rebuilt from its verdict: the options are read back
 * from both sides' command lines (sides.a.argv, sides.b.argv, as spawned),
 * planned again, and the new command lines checked against the old ones,
 * less what belongs to a run (its directory, its plugin): the same QEMU
 * arguments, the same guest, the same environment shim and, in system
 * mode, the same icount.
 */
import { PRESETS } from "../core/arch_presets.ts";
import { SetupError } from "../core/errors.ts";
import type { ArchPreset } from "../core/arch_presets.ts";
import type { Role } from "../core/protocol.ts";
import { type LockstepOptions, planRun, type RunPlan } from "../plan/plan.ts";
import { argvWithPlugin } from "../plan/command_line.ts";
import { fileSource, parseElf } from "../guest/elf.ts";
import type { Verdict } from "../verdict/verdict.ts";
import { basename, dirname } from "../../deps/path.ts";

/** One side's command line taken apart: what a run adds is left out. */
export interface SideArgv {
  /** The QEMU binary. */
  readonly qemu: string;
  /** QEMU's arguments before `-plugin` (the plan's, none of the user's). */
  readonly head: readonly string[];
  /** The user's QEMU arguments (--extra, --extra-a/-b). */
  readonly extra: readonly string[];
  /** System mode: the image option (-kernel or -bios). */
  readonly imageOption?: "-kernel" | "-bios";
  /** linux-user: the guest's name (-0) and its arguments. */
  readonly guestName?: string;
  readonly guestArgs: readonly string[];
}

/** A command line that is not one qemu-lockstep spawns. */
function unlike(role: Role, why: string): SetupError {
  return new SetupError(
    `Side ${role}'s command line in the verdict is not one qemu-lockstep runs: ${why}`,
    "pass a verdict written by qemu-lockstep (--json or --report), unedited",
  );
}

/** Takes one side's argv apart (see SideArgv); mode from the verdict. */
export function parseSideArgv(
  role: Role,
  mode: "system" | "user",
  argv: readonly string[],
): SideArgv {
  const plugin = argv.indexOf("-plugin");
  if (plugin < 0 || argv[plugin + 2] !== "-D") throw unlike(role, "no -plugin … -D …");
  const rest = argv.slice(plugin + 4);
  if (mode === "system") {
    const opt = rest.at(-2);
    if (opt !== "-kernel" && opt !== "-bios") throw unlike(role, "no -kernel or -bios last");
    return {
      qemu: argv[0]!,
      head: argv.slice(1, plugin),
      extra: rest.slice(0, -2),
      imageOption: opt,
      guestArgs: [],
    };
  }
  // sh -c SCRIPT qemu-lockstep DIR/ROLE [SHIM] setarch ARCH -R QEMU …
  const runDir = argv[4] === undefined ? undefined : dirname(argv[4]);
  const setarch = argv.indexOf("-R");
  if (argv[1] !== "-c" || runDir === undefined || setarch < 0 || setarch > plugin) {
    throw unlike(role, "no sh -c … setarch … -R QEMU");
  }
  const guest = rest.findIndex((x) => x.startsWith("/proc/self/fd/3/"));
  if (guest < 0) throw unlike(role, "no /proc/self/fd/3/NAME");
  // Left out: the guest's name (-0, the plan's) and the run's prefix for
  // the fixed devices (-L into the run directory, see command_line.ts).
  const extra: string[] = [];
  let guestName: string | undefined;
  const before = rest.slice(0, guest);
  for (let i = 0; i < before.length; i++) {
    if (before[i] === "-0" && i + 1 < before.length) guestName = before[++i];
    else if (before[i] === "-L" && before[i + 1]?.startsWith(`${runDir}/`)) i++;
    else extra.push(before[i]!);
  }
  if (guestName === undefined) throw unlike(role, "no -0 NAME");
  return {
    qemu: argv[setarch + 1]!,
    head: argv.slice(setarch + 2, plugin),
    extra,
    guestName,
    guestArgs: rest.slice(guest + 1),
  };
}

/** The preset a run used: by its machine arguments (system), else by the image's ELF. */
async function presetOf(
  mode: "system" | "user",
  a: SideArgv,
  image: string,
): Promise<ArchPreset> {
  if (mode === "system") {
    const p = Object.values(PRESETS).find((p) => p.machine.every((x, i) => a.head[i] === x));
    if (p) return p;
  } else {
    const elf = await readElf(image);
    const p = elf && Object.values(PRESETS).find((p) => p.elfMachines.includes(elf.machine));
    if (p) return p;
  }
  const byName = Object.values(PRESETS).find((p) => [p.system, p.user].includes(basename(a.qemu)));
  if (byName) return byName;
  throw new SetupError(
    `Cannot tell the verdict's architecture from side a's QEMU ${a.qemu}`,
    "pass the verdict of a run of one of the presets",
  );
}

async function readElf(path: string) {
  try {
    using file = await Deno.open(path);
    return parseElf(fileSource(file, (await file.stat()).size));
  } catch {
    return undefined;
  }
}

/** The options a verdict's run was given, read back from its command lines. */
export async function optionsFromVerdict(v: Verdict): Promise<LockstepOptions> {
  const mode = v.sides.a.mode;
  const a = parseSideArgv("a", mode, v.sides.a.argv);
  const b = parseSideArgv("b", mode, v.sides.b.argv);
  const preset = await presetOf(mode, a, v.sides.a.image);
  const dropDefault = (s: SideArgv) => s.head.includes("plugin") && !s.head.includes("nochain");
  return {
    arch: preset.name,
    image: v.sides.a.image,
    imageB: v.sides.b.image,
    guestArgs: a.guestArgs,
    guestName: a.guestName,
    mode,
    qemuA: a.qemu,
    qemuB: b.qemu,
    extraA: a.extra,
    extraB: b.extra,
    chain: dropDefault(a),
    bios: a.imageOption === "-bios",
  };
}

/**
 * Whether side `role`'s plugin wrote the counters (counters=on in its
 * `-plugin` value): what the guest read, which the re-runs must give again.
 */
function ranWithCounters(v: Verdict, role: Role): boolean {
  const argv = v.sides[role].argv;
  const spec = argv[argv.indexOf("-plugin") + 1] ?? "";
  return spec.split(",").includes("counters=on");
}

/**
 * The verdict's run planned again (see the module comment); a SetupError
 * when the command lines planned now are not the ones the verdict ran.
 * The counters are written as that run wrote them.
 */
export async function planFromVerdict(v: Verdict): Promise<RunPlan> {
  const plan = await planRun(await optionsFromVerdict(v));
  for (const role of ["a", "b"] as const) {
    const was = parseSideArgv(role, plan.mode, v.sides[role].argv);
    // A stand-in directory and plugin: only what they leave out is compared.
    const now = parseSideArgv(
      role,
      plan.mode,
      [plan[role].command, ...argvWithPlugin(plan, plan[role], "/run-dir", "plugin.so")],
    );
    if (JSON.stringify(was) !== JSON.stringify(now)) {
      throw new SetupError(
        `Side ${role}'s command line cannot be rebuilt from the verdict: it ran ` +
          `${JSON.stringify(was)}, planned again it is ${JSON.stringify(now)}`,
        "re-run the comparison with --gdb instead",
      );
    }
  }
  const counters = ranWithCounters(v, "a");
  if (counters !== ranWithCounters(v, "b")) {
    throw unlike(
      "b",
      `its plugin ${counters ? "did not write" : "wrote"} the counters, side a's did`,
    );
  }
  return { ...plan, counters };
}

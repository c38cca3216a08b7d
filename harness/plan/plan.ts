/**
 * From options to a plan: the two QEMU command lines (minus the per-run
 * plugin argument), the binaries and the mode. Nothing runs here except
 * `qemu --version`.
 */
import { comparisons, sameLayout } from "./comparisons.ts";
import { fromOsError, SetupError } from "../core/errors.ts";
import {
  type ElfInfo,
  elfMachineName,
  fileSource,
  isLinuxUserImage,
  parseElf,
} from "../guest/elf.ts";
import { type ArchPreset, findPreset, PRESETS } from "../core/arch_presets.ts";
import { probeQemu, type QemuBinary, whichBinary } from "../qemu/binary.ts";
import { compareFirmware } from "../qemu/firmware.ts";
import type { WorldDifference } from "../verdict/verdict.ts";
import { DEFAULTS, LIMITS } from "../core/defaults.ts";
import { type Bound, BOUNDS, checkBound, describeBound } from "../core/bounds.ts";
import { basename, resolve } from "../../deps/path.ts";

/** Everything a lockstep run can be asked to do. */
export interface LockstepOptions {
  readonly arch: string;
  readonly image: string;
  /** Side B runs this image instead (a modified guest). */
  readonly imageB?: string | undefined;
  /** Guest program arguments (linux-user only). */
  readonly guestArgs?: readonly string[];
  /**
   * linux-user: the name the guest sees as its own (argv[0], its path's
   * last part); default the image's file name. A trace says what it was.
   */
  readonly guestName?: string | undefined;
  /** Force a mode; default: detected from the image. */
  readonly mode?: "system" | "user" | undefined;
  readonly qemu?: string | undefined;
  readonly qemuA?: string | undefined;
  readonly qemuB?: string | undefined;
  /**
   * Side A's QEMU as already known, neither run nor asked its version (a
   * trace's: side A is the recording).
   */
  readonly knownQemuA?: QemuBinary | undefined;
  /** Extra QEMU arguments, one argv element each. */
  readonly extra?: readonly string[];
  readonly extraA?: readonly string[];
  readonly extraB?: readonly string[];
  /** Stop after this many instructions (both sides, exactly). */
  readonly maxInsns?: number | undefined;
  /** Blocks of context in the verdict (DEFAULTS.history). */
  readonly history?: number | undefined;
  /** Keep TB chaining (default: -d nochain). */
  readonly chain?: boolean | undefined;
  /** System mode: load the image with -bios instead of -kernel. */
  readonly bios?: boolean | undefined;
  /** A qemu-plugin.h (or its directory) to build against. */
  readonly pluginHeader?: string | undefined;
  /**
   * What to compare: "pc" (always), "regs", "mem", "syscalls", or "all"
   * (the default): everything both QEMUs support.
   */
  readonly compare?: readonly string[] | undefined;
  /** Registers left out of the comparison (names, case-insensitive). */
  readonly maskRegs?: readonly string[] | undefined;
  /** Instructions between register snapshots (DEFAULTS.regsEvery; 1: at every jump target). */
  readonly regsEvery?: number | undefined;
  /** After a divergence, re-run both sides to name the instruction (default true). */
  readonly narrow?: boolean | undefined;
  /**
   * How far (instructions) a transient excursion may reach before the
   * streams meet again; 0 (the default): every difference is the
   * divergence. DEFAULTS.suggestedTransientWindow is a good value when the
   * sides' timing legitimately differs (docs/comparisons.md).
   */
  readonly transientWindow?: number | undefined;
  /** Checkpoint interval and window, in instructions (tuning). */
  readonly interval?: number | undefined;
  readonly window?: number | undefined;
  /**
   * Run the fast pass first (default true): only when it finds a
   * difference does the detail pass run (docs/how-it-works.md).
   */
  readonly fast?: boolean | undefined;
}

/** The fast pass: whether it runs, why not, and its checkpoints. */
export interface FastPlan {
  readonly enabled: boolean;
  /** Why it does not run (an option that needs the detail pass throughout). */
  readonly why: string | null;
  readonly interval: number;
  readonly window: number;
}

/** One side of the run. */
export interface SidePlan {
  readonly role: "a" | "b";
  /** The run's mode, as the plan's (a side's state judges by it). */
  readonly mode: "system" | "user";
  readonly qemu: QemuBinary;
  readonly image: string;
  /** The program to spawn (setarch in linux-user mode, else QEMU). */
  readonly command: string;
  /** Arguments before the plugin argument. */
  readonly head: readonly string[];
  /** Arguments after it (extra args, image options, guest). */
  readonly tail: readonly string[];
  /**
   * System mode: the vCPUs -smp asks for, which run in turn as one stream
   * (plugin-src/vcpus.c), and how the plugin tells which one runs a block.
   */
  readonly vcpus?: { readonly count: number; readonly id: VcpuId };
}

/**
 * How the plugin tells the running vCPU: `apic` (x86 from QEMU 10.1: its
 * local APIC's ID), `index` (the callbacks' own vCPU index, right before
 * 10.0), `none` (QEMU 10.0, or other targets from 10.0 on: the index
 * QEMU gives is the translating vCPU's).
 */
export type VcpuId = "apic" | "index" | "none";

/** The most vCPUs the plugin takes (plugin-src/lockstep.h, VCPUS_MAX). */
export const MAX_VCPUS = 15;

/** How QEMU `version` lets the plugin tell the running vCPU of `preset`'s guests. */
export function vcpuIdFor(preset: ArchPreset, version: string): VcpuId {
  const m = /^(\d+)\.(\d+)/.exec(version);
  const v = m ? Number(m[1]) * 100 + Number(m[2]) : 0;
  if (v < 1000) return "index";
  const x86 = preset.name === "x86_64" || preset.name === "i386";
  return x86 && v >= 1001 ? "apic" : "none";
}

/** Both sides and what they share. */
export interface RunPlan {
  readonly preset: ArchPreset;
  readonly mode: "system" | "user";
  readonly history: number;
  readonly maxInsns: number | undefined;
  /** Instructions between checkpoints, and how far one side may run ahead. */
  readonly interval: number;
  readonly window: number;
  readonly pluginHeader: string | undefined;
  readonly guestArgs: readonly string[];
  /** linux-user: the guest program's name on both sides (see LockstepOptions). */
  readonly guestName: string;
  /** Each side's extra QEMU arguments: --extra, then its own (--extra-a, --extra-b). */
  readonly extra: { readonly a: readonly string[]; readonly b: readonly string[] };
  /** What is compared ("pc", "regs", "mem", "syscalls"), and what was asked for but cannot be. */
  readonly compare: readonly string[];
  readonly maskRegs: readonly string[];
  readonly regsEvery: number;
  readonly narrow: boolean;
  readonly transientWindow: number;
  readonly fast: FastPlan;
  readonly notCompared: readonly { readonly what: string; readonly why: string }[];
  /**
   * Whether both QEMUs place the guest at the same addresses. Not so in
   * linux-user across QEMU versions (7.2 puts the x86_64 stack at
   * 0x4000800e18, 10.2 at 0x7ffff5a77df8): then addresses are left out.
   */
  readonly sameLayout: boolean;
  /**
   * linux-user: the guest's /dev/urandom and /dev/random are fixed files in
   * the run directory's root, QEMU's -L prefix (see placeDevices()). Not
   * when the two sides were given different prefixes.
   */
  readonly fixedDevices: boolean;
  /**
   * The prefix the user gave (the last -L, else QEMU_LD_PREFIX): with fixed
   * devices, the run's root links to what it holds (a cross toolchain's
   * libraries for a dynamically linked guest of another arch).
   */
  readonly ldPrefix: string | undefined;
  /**
   * linux-user, x86_64 and aarch64, plugin API 5 on both sides: the plugins
   * write the same value after every read of the time-stamp counter
   * (plugin-src/counters.c). Off against a trace, which was recorded with
   * the host's counter.
   */
  readonly counters: boolean;
  /** Differences between the sides that are not TCG's doing, with the fix. */
  readonly warnings: readonly string[];
  /**
   * linux-user: how the worlds the two QEMUs give the guest differ (the
   * auxiliary vector, the CPU), learnt by the session before the run with
   * the world probe; absent when they are equal or were not learnt.
   */
  readonly world?: WorldDifference | undefined;
  readonly env: Record<string, string>;
  readonly cwd: string;
  readonly a: SidePlan;
  readonly b: SidePlan;
}

/** Variables of QEMU's own environment the guest must not see (linux-user). */
const UNSET_FOR_GUEST = [
  "LD_PRELOAD",
  "MALLOC_ARENA_MAX",
  "MALLOC_MMAP_MAX_",
  "LOCKSTEP_DEVICE_ROOT",
] as const;

/** Default QEMU options for system mode, skipped when the user sets them. */
const SYSTEM_DEFAULTS: readonly (readonly string[])[] = [
  ["-icount", "shift=0,sleep=off"],
  ["-rtc", "base=2020-01-01,clock=vm"],
  ["-seed", "1"],
  ["-no-reboot"],
];

/**
 * Reads what the plan needs of an image (its ELF headers, not the whole
 * file) and refuses one QEMU could not load: empty, or a truncated ELF.
 */
async function inspectImage(path: string, what: string): Promise<ElfInfo | undefined> {
  let file: Deno.FsFile | undefined;
  try {
    const st = await Deno.stat(path);
    if (!st.isFile) {
      throw new SetupError(`${what} is not a file: ${path}`, "pass a guest image file");
    }
    if (st.size === 0) {
      throw new SetupError(
        `${what} is empty: ${path}`,
        "pass a guest image (was its build cut short?)",
      );
    }
    file = await Deno.open(path, { read: true });
    const elf = parseElf(fileSource(file, st.size));
    if (elf?.problem) {
      throw new SetupError(
        `${what} ${path} is a damaged ELF: ${elf.problem}`,
        "rebuild the image, or check that it was copied whole",
      );
    }
    return elf;
  } catch (e) {
    if (e instanceof SetupError) throw e;
    if (e instanceof Deno.errors.NotFound) {
      throw new SetupError(
        `${what} not found: ${path}`,
        "check the path (bash scripts/setup.sh --tests builds the bundled guests into test/guests/build/)",
      );
    }
    throw fromOsError(`Cannot read ${what.toLowerCase()} ${path}`, e);
  } finally {
    file?.close();
  }
}

function userBinary(preset: ArchPreset, machine: number | undefined): string {
  if (preset.name === "sparc" && machine === 18) return "qemu-sparc32plus";
  return preset.user;
}

/**
 * Refuses a QEMU named for another architecture (`--qemu-b
 * qemu-system-aarch64` for a sparc guest): it would fail in ways that say
 * nothing of the real mistake. A binary of any other name (a build of the
 * user's own) is taken as it is.
 */
function checkTarget(
  preset: ArchPreset,
  mode: "system" | "user",
  path: string,
  side: string,
): void {
  const name = basename(path);
  const owner = Object.values(PRESETS).find((p) =>
    (mode === "system" ? [p.system] : [p.user, userBinary(p, 18)]).includes(name)
  );
  // qemu-system-x86_64 boots i386 guests too.
  const alias = preset.name === "i386" && name === "qemu-system-x86_64";
  if (owner && owner.name !== preset.name && !alias) {
    const right = mode === "system" ? preset.system : preset.user;
    throw new SetupError(
      `QEMU for ${side} is ${name}, which emulates ${owner.name}, not ${preset.name}`,
      `pass a ${preset.name} QEMU (${right}), or the architecture the image was built for`,
    );
  }
}

/** Whether argv already sets `option` (as "-opt" or "--opt"). */
function sets(args: readonly string[], option: string): boolean {
  return args.some((a) => a === option || a === `-${option}` || a.startsWith(`${option}=`));
}

/** Whether the fast pass runs before the detail pass. */
function fastPlan(opts: LockstepOptions): FastPlan {
  const why = opts.fast === false
    ? "--no-fast"
    : (opts.transientWindow ?? 0) > 0
    ? "--transient-window follows excursions in the detail pass throughout"
    : null;
  return {
    enabled: why === null,
    why,
    interval: DEFAULTS.fastInterval,
    window: DEFAULTS.fastWindow,
  };
}

/** Refuses numbers the plugin could not honour (see LIMITS). */
function checkLimits(opts: LockstepOptions): void {
  const within = (name: string, value: number | undefined, bound: Bound) => {
    if (value === undefined) return;
    try {
      checkBound(`--${name}`, value, bound);
    } catch (e) {
      throw new SetupError((e as Error).message, `pass ${describeBound(bound)}`);
    }
  };
  within("history", opts.history, BOUNDS.history);
  within("interval", opts.interval, BOUNDS.interval);
  within("window", opts.window, BOUNDS.window);
  within("transient-window", opts.transientWindow, BOUNDS.transientWindow);
  within("max-insns", opts.maxInsns, BOUNDS.maxInsns);
  within("regs-every", opts.regsEvery, BOUNDS.regsEvery);
  const interval = opts.interval ?? DEFAULTS.interval;
  const window = opts.window ?? DEFAULTS.window;
  if (window / interval > LIMITS.windowIntervals) {
    throw new SetupError(
      `--window ${window} is more than ${LIMITS.windowIntervals} intervals of ${interval}`,
      "raise --interval or lower --window",
    );
  }
  if (opts.compare && opts.compare.length === 0) {
    throw new SetupError("--compare names nothing", "use pc, regs, mem, syscalls or all");
  }
}

/** The file a path names, its links followed; the path itself when that fails (inspectImage says why). */
async function followLinks(path: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch {
    return path;
  }
}

/** The last value of QEMU's -L in `args`, if any. */
function ldPrefixIn(args: readonly string[]): string | undefined {
  let found: string | undefined;
  args.forEach((x, i) => {
    if ((x === "-L" || x === "--L") && i + 1 < args.length) found = args[i + 1];
  });
  return found;
}

/**
 * linux-user: fixed devices, and the user's own prefix that the run's root
 * then stands for. Both sides must look files up under the same prefix.
 */
function devicesAndPrefix(
  mode: "system" | "user",
  env: Record<string, string>,
  tailA: readonly string[],
  tailB: readonly string[],
): { fixedDevices: boolean; ldPrefix: string | undefined } {
  const [a, b] = [tailA, tailB].map((t) => ldPrefixIn(t) ?? env.QEMU_LD_PREFIX);
  const prefix = a === undefined || a === "" || a === "/" ? undefined : resolve(a);
  return { fixedDevices: mode === "user" && a === b, ldPrefix: prefix };
}

/** Turns options into a plan; throws SetupError for bad input. */
export async function planRun(opts: LockstepOptions): Promise<RunPlan> {
  checkLimits(opts);
  const preset = findPreset(opts.arch);
  if (!preset) {
    throw new SetupError(
      `Unknown architecture: ${opts.arch}`,
      `use one of: ${Object.keys(PRESETS).join(", ")}`,
    );
  }
  // A symbolic link (Debian's /usr/bin/python3) is the file it names: that
  // is what is read, copied for linux-user and symbolized. The name the
  // guest is run by stays the one given, as a shell would run it.
  const imageA = await followLinks(resolve(opts.image));
  const imageB = await followLinks(resolve(opts.imageB ?? opts.image));
  const elfA = await inspectImage(imageA, "Image");
  const elfB = imageB === imageA ? elfA : await inspectImage(imageB, "Image B");
  for (const [path, elf] of [[imageA, elfA], [imageB, elfB]] as const) {
    if (elf && !preset.elfMachines.includes(elf.machine)) {
      throw new SetupError(
        `Image ${path} is a ${elfMachineName(elf.machine)} ELF, not ${preset.name}`,
        "pass the architecture the image was built for",
      );
    }
  }
  const mode = opts.mode ?? (opts.bios || !isLinuxUserImage(elfA) ? "system" : "user");
  if (mode === "user" && opts.bios) {
    throw new SetupError("--bios is for system mode", "drop --bios or --user");
  }
  if (mode === "system" && (opts.guestArgs?.length ?? 0) > 0) {
    throw new SetupError(
      "Guest arguments after -- are for linux-user mode only",
      "drop them, or pass --user if the image is a Linux program",
    );
  }
  const defaultQemu = mode === "user" ? userBinary(preset, elfA?.machine) : preset.system;
  const guestName = opts.guestName ?? basename(resolve(opts.image));
  const pathA = opts.knownQemuA?.path ?? opts.qemuA ?? opts.qemu ?? defaultQemu;
  const pathB = opts.qemuB ?? opts.qemu ?? defaultQemu;
  checkTarget(preset, mode, pathA, pathA === pathB ? "both sides" : "side a");
  if (pathB !== pathA) checkTarget(preset, mode, pathB, "side b");
  const [qa, qb] = await Promise.all([
    opts.knownQemuA ?? probeQemu(opts.qemuA ?? opts.qemu ?? defaultQemu),
    probeQemu(opts.qemuB ?? opts.qemu ?? defaultQemu),
  ]);

  const extra = opts.extra ?? [];
  const history = opts.history ?? DEFAULTS.history;
  const common = [...(opts.chain ? ["-d", "plugin"] : ["-d", "plugin,nochain"])];
  const env: Record<string, string> = {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    LC_ALL: "C",
  };
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (k.startsWith("QEMU_")) env[k] = v;
  }
  // linux-user: QEMU's other threads (the plugin's reader) must not map
  // malloc arenas of their own while QEMU maps the guest, or where the
  // guest's stack lands depends on their timing (docs/performance.md).
  // Nor may malloc map (and unmap) a large chunk of its own: when that
  // happens depends on QEMU's threads too, and a guest's mmap lands in the
  // gaps it leaves (python3.11's start-up, in 5 runs of 8).
  if (mode === "user") {
    env.MALLOC_ARENA_MAX = "1";
    env.MALLOC_MMAP_MAX_ = "0";
  }

  const side = (
    role: "a" | "b",
    qemu: QemuBinary,
    image: string,
    own: readonly string[],
  ): SidePlan => {
    const all = [...extra, ...own];
    if (mode === "system") {
      const cpus = smpCpus(all);
      if (cpus > MAX_VCPUS) {
        throw new SetupError(
          `-smp asks for ${cpus} vCPUs for side ${role}: lockstep takes at most ${MAX_VCPUS}`,
          `run the guest with -smp ${MAX_VCPUS} or fewer`,
        );
      }
      const defaults = SYSTEM_DEFAULTS.filter((d) => !sets(all, d[0]!)).flat();
      return {
        role,
        mode: "system",
        qemu,
        image,
        command: qemu.path,
        head: [...preset.machine, ...defaults, ...common],
        tail: [...all, opts.bios ? "-bios" : "-kernel", image],
        ...(cpus > 1 ? { vcpus: { count: cpus, id: vcpuIdFor(preset, qemu.version) } } : {}),
      };
    }
    // linux-user: no address randomisation (setarch -R), the same argv[0]
    // and executable path on both sides (see command_line.ts).
    const setarch = whichBinary("setarch", env);
    if (!setarch) {
      throw new SetupError("setarch not found", "install util-linux (apt-get install util-linux)");
    }
    const sh = whichBinary("sh", env);
    if (!sh) throw new SetupError("sh not found", "install dash (apt-get install dash)");
    return {
      role,
      mode: "user",
      qemu,
      image,
      command: sh,
      head: [
        setarch,
        Deno.build.arch,
        "-R",
        qemu.path,
        ...(sets(all, "-seed") ? [] : ["-seed", "1"]),
        // What is for QEMU alone (the environment shim, the arena limit)
        // stays out of the guest's environment.
        ...UNSET_FOR_GUEST.flatMap((v) => ["-U", v]),
        ...common,
      ],
      tail: [...all, "-0", guestName],
    };
  };

  const a = side("a", qa, imageA, opts.extraA ?? []);
  const b = side("b", qb, imageB, opts.extraB ?? []);
  // A known side A is not run here: its firmware cannot be asked for.
  const warnings = mode === "system" && !opts.knownQemuA &&
      (qa.path !== qb.path || a.tail.join() !== b.tail.join())
    ? await compareFirmware(
      opts.bios ? [] : preset.firmware,
      { qemu: qa.path, args: a.tail },
      { qemu: qb.path, args: b.tail },
    )
    : [];
  return {
    preset,
    mode,
    history,
    maxInsns: opts.maxInsns,
    interval: opts.interval ?? DEFAULTS.interval,
    window: opts.window ?? DEFAULTS.window,
    pluginHeader: opts.pluginHeader,
    guestArgs: opts.guestArgs ?? [],
    guestName,
    extra: { a: [...extra, ...(opts.extraA ?? [])], b: [...extra, ...(opts.extraB ?? [])] },
    ...comparisons(
      opts.compare ?? DEFAULTS.compare,
      mode,
      [qa.pluginApi, qb.pluginApi],
      [qa.version, qb.version],
    ),
    sameLayout: sameLayout(mode, [qa.version, qb.version]),
    ...devicesAndPrefix(mode, env, a.tail, b.tail),
    counters: mode === "user" && qa.pluginApi >= 5 && qb.pluginApi >= 5 &&
      (preset.name === "x86_64" || preset.name === "aarch64"),
    maskRegs: opts.maskRegs ?? [],
    regsEvery: opts.regsEvery ?? DEFAULTS.regsEvery,
    transientWindow: opts.transientWindow ?? DEFAULTS.transientWindow,
    fast: fastPlan(opts),
    narrow: opts.narrow ?? true,
    warnings,
    env,
    cwd: Deno.cwd(),
    a,
    b,
  };
}

/**
 * The vCPUs an -smp argument asks for (the last one counts, as in QEMU):
 * "2", "cpus=2,…", or the product of sockets, dies, clusters, cores and
 * threads; `maxcpus` counts too (hot-plugged vCPUs). 1 without -smp.
 */
export function smpCpus(args: readonly string[]): number {
  const at = args.lastIndexOf("-smp");
  const value = at >= 0 ? args[at + 1] : undefined;
  if (value === undefined) return 1;
  const fields = value.split(",");
  const named = new Map<string, number>();
  let first: number | undefined;
  for (const [i, f] of fields.entries()) {
    const eq = f.indexOf("=");
    if (eq < 0 && i === 0) first = Number(f);
    else if (eq > 0) named.set(f.slice(0, eq), Number(f.slice(eq + 1)));
  }
  const topology = ["sockets", "dies", "clusters", "cores", "threads"]
    .map((k) => named.get(k) ?? 1)
    .reduce((x, y) => x * y, 1);
  const counts = [first ?? named.get("cpus") ?? topology, named.get("maxcpus") ?? 1];
  return Math.max(...counts.map((n) => Number.isFinite(n) ? n : 1));
}

/**
 * The command line: argv to options. Usage errors throw UsageError, which
 * main.ts reports with exit code 2.
 */
import { parseArgs } from "../deps/cli.ts";
import {
  type Bound,
  BOUNDS,
  DEFAULTS,
  type LockstepOptions,
  parseBounded,
  PRESETS,
} from "../mod.ts";

/** A command line that cannot be understood. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** How the verdict is shown. */
export interface OutputOptions {
  readonly json: boolean;
  readonly report: string | undefined;
  /** Where to write the HTML page of the verdict (--html). */
  readonly html: string | undefined;
  /** Rows of history in the text verdict (--history-lines). */
  readonly historyLines: number;
  readonly verbose: boolean;
  readonly color: "auto" | "always" | "never";
}

/** What the command line asks for. */
export type Command =
  | { readonly kind: "help" }
  | { readonly kind: "version" }
  | {
    readonly kind: "run";
    readonly options: LockstepOptions;
    /** --against: the trace side a is (a path), instead of a live QEMU. */
    readonly against: string | undefined;
    /** --bisect: exit codes for `git bisect run`. */
    readonly bisect: boolean;
    readonly output: OutputOptions;
    readonly timeoutSeconds: number | undefined;
    readonly keepTemp: boolean;
    readonly cacheDir: string | undefined;
  };

/** The help text, in Deno's layout. */
export const HELP = `qemu-lockstep: run two QEMUs on one guest in lockstep and report where their
execution first differs.

Usage: qemu-lockstep [OPTIONS] <ARCH> <IMAGE> [-- <GUEST ARGS>...]
       qemu-lockstep [OPTIONS] <ARCH> <IMAGE> --against <TRACE>
       qemu-lockstep record [OPTIONS] <ARCH> <IMAGE> -o <TRACE> (see record --help)
       qemu-lockstep suite [OPTIONS] <FILE>    (see suite --help)
       qemu-lockstep gdb [OPTIONS] <VERDICT>   (both sides under gdb; gdb --help)
       qemu-lockstep doctor [--json] [QEMU...] (the QEMUs found, their plugin API)

Arguments:
  <ARCH>    ${Object.keys(PRESETS).join(", ")}
  <IMAGE>   a kernel/firmware image (system mode) or a Linux program (linux-user
            mode, chosen from the ELF; see docs/usage.md, "Mode")

Options:
      --qemu <PATH>          QEMU binary for both sides
      --qemu-a <PATH>        QEMU binary for side A
      --qemu-b <PATH>        QEMU binary for side B
      --image-b <PATH>       side B runs this image instead
      --extra <ARG>          one extra QEMU argument for both sides (repeatable;
                             use --extra=-no-reboot for values starting with -)
      --extra-a <ARG>        one extra QEMU argument for side A only
      --extra-b <ARG>        one extra QEMU argument for side B only
      --user                 force linux-user mode
      --system               force system mode
      --chain                keep TB chaining (default: -d nochain)
      --bios                 load the image with -bios, not -kernel (system mode)
      --compare <LIST>       what to compare: pc (always), regs (plugin API 2,
                             QEMU 9.0+), mem (every load and store: address,
                             size, and the value from API 4), syscalls
                             (linux-user), or all: everything both QEMUs
                             support [default: ${DEFAULTS.compare.join(",")}]
      --mask-reg <NAMES>     leave these registers out (repeatable, comma list)
      --regs-every <N>       instructions between register snapshots; 1 reads
                             them at every jump target [default: ${DEFAULTS.regsEvery}]
      --no-narrow            do not re-run to name the instruction after which
                             the registers first differ
      --no-fast              skip the fast pass: compare everything (memory
                             accesses too) from the first instruction on, at
                             the detail pass's speed
      --transient-window <N> a control-flow difference whose streams meet again
                             within N instructions is a transient excursion, not
                             the divergence (try ${DEFAULTS.suggestedTransientWindow} when the sides' timing
                             differs); 0: none is [default: ${DEFAULTS.transientWindow}]
      --max-insns <N>        stop after N instructions on both sides
      --timeout <SECONDS>    give up (exit 3) after this long
      --history <N>          blocks of context per side in the verdict (JSON, HTML)
                             [default: ${DEFAULTS.history}]
      --history-lines <N>    rows of that history in the text verdict
                             [default: ${DEFAULTS.historyLines}]
      --interval <N>         tuning: instructions between checkpoints
                             [default: ${DEFAULTS.interval}]
      --window <N>           tuning: how far one side may run ahead
                             [default: ${DEFAULTS.window}]
      --against <TRACE>      compare one live QEMU (side b) with a trace recorded
                             by qemu-lockstep record (side a); --qemu picks it
      --bisect               exit as git bisect run wants: 0 match, 1 diverged,
                             125 inconclusive, or the QEMU did not build, start
                             or load the plugin (skip), 128 what is the same at
                             every commit: the command line, the image, the
                             trace, an output, the cache (abort)
      --gdb[=WHEN]           after a divergence, run both sides again and stop
                             each under gdb before the first differing
                             instruction (WHEN: before, or after it); prints
                             the gdb command lines (docs/debugging.md)
      --gdb-batch <FILE>     with --gdb: run this gdb script on both sides and
                             print the two outputs side by side
      --log-at-divergence <ITEMS>
                             after a divergence, run both sides again with
                             QEMU's -d ITEMS (e.g. op,out_asm) for the blocks
                             around it; the logs go into the verdict
      --plugin-header <PATH> build the plugin against this qemu-plugin.h
      --cache-dir <DIR>      where built plugins are cached
      --json                 print the verdict as JSON on stdout
      --report <FILE>        also write the JSON verdict to FILE
      --html <FILE>          also write the verdict as one self-contained HTML page
      --color <WHEN>         auto, always or never [default: auto]
      --keep-temp            keep the run's private directory (logs, sockets)
      --verbose              show QEMU command lines and what happens
  -h, --help                 print help
  -V, --version              print version

Exit codes: 0 no divergence, 1 diverged, 2 usage or set-up error,
3 inconclusive (timeout, crash, peer lost); with --bisect see above.
`;

/** An option's number, within its bound (harness/core/bounds.ts), or undefined when not given. */
export function bounded(name: string, value: string | undefined, bound: Bound): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseBounded(`--${name}`, value, bound);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** The items of comma-separated lists, trimmed, empty ones dropped. */
function commaList(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(",")).map((x) => x.trim()).filter((x) => x);
}

/** The options of a run, shared by a pair, a run --against a trace and record. */
const RUN_OPTIONS = {
  qemu: { type: "string" },
  "qemu-a": { type: "string" },
  "qemu-b": { type: "string" },
  "image-b": { type: "string" },
  extra: { type: "string", multiple: true },
  "extra-a": { type: "string", multiple: true },
  "extra-b": { type: "string", multiple: true },
  user: { type: "boolean" },
  system: { type: "boolean" },
  chain: { type: "boolean" },
  bios: { type: "boolean" },
  "max-insns": { type: "string" },
  compare: { type: "string" },
  "mask-reg": { type: "string", multiple: true },
  "regs-every": { type: "string" },
  "no-narrow": { type: "boolean" },
  "no-fast": { type: "boolean" },
  "transient-window": { type: "string" },
  timeout: { type: "string" },
  history: { type: "string" },
  "history-lines": { type: "string" },
  html: { type: "string" },
  "plugin-header": { type: "string" },
  "cache-dir": { type: "string" },
  interval: { type: "string" },
  window: { type: "string" },
  json: { type: "boolean" },
  report: { type: "string" },
  color: { type: "string" },
  "keep-temp": { type: "boolean" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

/** What parseArgs gives for RUN_OPTIONS (and the record options). */
type Values = {
  [K in keyof typeof RUN_OPTIONS]?: (typeof RUN_OPTIONS)[K]["type"] extends "boolean" ? boolean
    : (typeof RUN_OPTIONS)[K] extends { multiple: true } ? string[]
    : string;
};

/**
 * `argv` with a negative number after an option that takes a value joined
 * to it (`--max-insns -5` as `--max-insns=-5`), so that the value is
 * refused for what it is, not as an option "argument is ambiguous".
 */
export function joinNegativeValues(
  argv: readonly string[],
  options: Readonly<Record<string, { readonly type: "string" | "boolean" }>>,
): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    const name = a.startsWith("--") ? a.slice(2) : undefined;
    if (
      name !== undefined && options[name]?.type === "string" && next !== undefined &&
      /^-(\d|\.\d|Infinity$)/.test(next)
    ) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

/** Parses argv against `options`: the values, the positionals before --, the guest arguments. */
function parseWith<O extends Record<string, { type: "string" | "boolean" }>>(
  argv: readonly string[],
  options: O,
) {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv, options),
      allowPositionals: true,
      strict: true,
      tokens: true,
      options: options as Record<string, { type: "string" | "boolean"; multiple?: boolean }>,
    });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify.*$/s, "").trim());
  }
  const terminator = parsed.tokens.findIndex((t) => t.kind === "option-terminator");
  const before = terminator < 0
    ? parsed.positionals
    : parsed.tokens.slice(0, terminator).filter((t) => t.kind === "positional").map((t) =>
      (t as { value: string }).value
    );
  const guestArgs = terminator < 0
    ? []
    : parsed.tokens.slice(terminator + 1).map((t) => (t as { value?: string }).value ?? "");
  return { values: parsed.values as Record<string, unknown>, before, guestArgs };
}

/** The timeout option, checked. */
function timeoutOf(value: string | undefined): number | undefined {
  return bounded("timeout", value, BOUNDS.timeoutSeconds);
}

/** LockstepOptions from parsed values (see parseWith). */
function runOptions(v: Values, before: readonly string[], guestArgs: string[]): LockstepOptions {
  if (before.length < 2) {
    throw new UsageError(
      before.length === 0 ? "Missing <ARCH> and <IMAGE>" : "Missing <IMAGE> after the architecture",
    );
  }
  if (before.length > 2) {
    throw new UsageError(
      `Unexpected argument: ${before[2]} (guest arguments go after --, QEMU arguments in --extra)`,
    );
  }
  if (v.user && v.system) throw new UsageError("--user and --system exclude each other");
  return {
    arch: before[0]!,
    image: before[1]!,
    imageB: v["image-b"],
    guestArgs,
    mode: v.user ? "user" : v.system ? "system" : undefined,
    qemu: v.qemu,
    qemuA: v["qemu-a"],
    qemuB: v["qemu-b"],
    extra: v.extra ?? [],
    extraA: v["extra-a"] ?? [],
    extraB: v["extra-b"] ?? [],
    maxInsns: bounded("max-insns", v["max-insns"], BOUNDS.maxInsns),
    history: bounded("history", v.history, BOUNDS.history),
    chain: v.chain ?? false,
    compare: v.compare === undefined ? undefined : commaList([v.compare]),
    maskRegs: commaList(v["mask-reg"] ?? []),
    narrow: !(v["no-narrow"] ?? false),
    fast: !(v["no-fast"] ?? false),
    regsEvery: bounded("regs-every", v["regs-every"], BOUNDS.regsEvery),
    transientWindow: bounded("transient-window", v["transient-window"], BOUNDS.transientWindow),
    bios: v.bios ?? false,
    pluginHeader: v["plugin-header"],
    interval: bounded("interval", v.interval, BOUNDS.interval),
    window: bounded("window", v.window, BOUNDS.window),
  };
}

/** Parses argv (without the program name). */
export function parseCommandLine(argv: readonly string[]): Command {
  const { values, before, guestArgs } = parseWith(argv, {
    ...RUN_OPTIONS,
    against: { type: "string" },
    bisect: { type: "boolean" },
  });
  const v = values as Values & { against?: string; bisect?: boolean };
  if (v.help) return { kind: "help" };
  if (v.version) return { kind: "version" };
  const options = runOptions(v, before, guestArgs);
  const color = v.color ?? "auto";
  if (color !== "auto" && color !== "always" && color !== "never") {
    throw new UsageError(`Invalid --color: ${color} (expected auto, always or never)`);
  }
  return {
    kind: "run",
    options,
    against: v.against,
    bisect: v.bisect ?? false,
    output: {
      json: v.json ?? false,
      report: v.report,
      html: v.html,
      historyLines: bounded("history-lines", v["history-lines"], BOUNDS.historyLines) ??
        DEFAULTS.historyLines,
      verbose: v.verbose ?? false,
      color,
    },
    timeoutSeconds: timeoutOf(v.timeout),
    keepTemp: v["keep-temp"] ?? false,
    cacheDir: v["cache-dir"],
  };
}

/** Options of a run that name a second side or the detail pass: not for record. */
const PAIR_ONLY = [
  "qemu-a",
  "qemu-b",
  "image-b",
  "extra-a",
  "extra-b",
  "no-narrow",
  "no-fast",
  "transient-window",
  "regs-every",
  "window",
  "history",
  "history-lines",
  "html",
  "report",
  "chain",
] as const;

/** What `record` asks for. */
export type RecordCommand =
  | { readonly kind: "help" }
  | {
    readonly kind: "record";
    readonly options: LockstepOptions;
    readonly out: string;
    readonly interval: number | undefined;
    readonly chunk: number | undefined;
    readonly detail: number | undefined;
    readonly json: boolean;
    readonly verbose: boolean;
    readonly timeoutSeconds: number | undefined;
    readonly keepTemp: boolean;
    readonly cacheDir: string | undefined;
  };

/** Parses `record` arguments (after the word record). */
export function parseRecordLine(argv: readonly string[]): RecordCommand {
  const { values, before, guestArgs } = parseWith(argv, {
    ...RUN_OPTIONS,
    output: { type: "string", short: "o" },
    detail: { type: "string" },
    chunk: { type: "string" },
  });
  const v = values as Values & { output?: string; detail?: string; chunk?: string };
  if (v.help) return { kind: "help" };
  for (const name of PAIR_ONLY) {
    if (v[name] !== undefined) {
      throw new UsageError(`--${name} is for comparing, not for record (it records one QEMU)`);
    }
  }
  if (!v.output) throw new UsageError("Missing -o <FILE>: where the trace goes");
  const options = runOptions(v, before, guestArgs);
  const interval = bounded("interval", v.interval, BOUNDS.interval);
  const detail = bounded("detail", v.detail, BOUNDS.detail);
  const chunk = bounded("chunk", v.chunk, { ...BOUNDS.chunk, min: 1 << 16 });
  const every = interval ?? DEFAULTS.fastInterval;
  if (detail && every % detail !== 0) {
    throw new UsageError(
      `Invalid --detail: ${detail} (it must divide the checkpoint interval, ${every})`,
    );
  }
  return {
    kind: "record",
    options: { ...options, interval: undefined },
    out: v.output,
    interval,
    chunk,
    detail,
    json: v.json ?? false,
    verbose: v.verbose ?? false,
    timeoutSeconds: timeoutOf(v.timeout),
    keepTemp: v["keep-temp"] ?? false,
    cacheDir: v["cache-dir"],
  };
}

/** Help for `record`. */
export const RECORD_HELP =
  `Usage: qemu-lockstep record [OPTIONS] <ARCH> <IMAGE> [-- <GUEST ARGS>...] -o <FILE>

Runs one QEMU on the guest and writes a golden trace of its run to FILE:
checkpoints, every jump, system calls and register snapshots, compressed
(docs/trace-format.md). Compare any later QEMU with it:
qemu-lockstep [OPTIONS] <ARCH> <IMAGE> --against FILE.

Options:
  -o, --output <FILE>        where the trace goes (written whole, or not at all)
      --qemu <PATH>          the QEMU to record
      --extra <ARG>          one extra QEMU argument (repeatable)
      --user, --system       force the mode
      --bios                 load the image with -bios (system mode)
      --compare <LIST>       what the trace holds: pc (always), syscalls
                             (linux-user), regs (QEMU 9.0+), or all [default: all];
                             a trace with regs compares only on QEMU 9.0 or later
      --mask-reg <NAMES>     leave these registers out of the snapshots
      --detail <N>           instructions between register snapshots: a value
                             difference is named within N instructions; 0: none
                             [default: ${DEFAULTS.traceDetail}]
      --interval <N>         instructions between checkpoints [default: ${DEFAULTS.fastInterval}]
      --max-insns <N>        stop after N instructions
      --timeout <SECONDS>    give up (exit 3) after this long
      --plugin-header <PATH> build the plugin against this qemu-plugin.h
      --cache-dir <DIR>      where built plugins are cached
      --json                 print what was recorded as JSON on stdout
      --keep-temp            keep the run's private directory
      --verbose              show the QEMU command line and what happens
  -h, --help                 print help

Exit codes: 0 recorded, 2 usage or set-up error, 3 no trace (timeout, crash).
`;

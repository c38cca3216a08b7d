/**
 * The command line: argv to options. Usage errors throw UsageError, which
 * main.ts reports with exit code 2.
 */
import { parseArgs } from "../deps/cli.ts";
import { DEFAULTS, LIMITS, type LockstepOptions, PRESETS } from "../mod.ts";

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
    readonly output: OutputOptions;
    readonly timeoutSeconds: number | undefined;
    readonly keepTemp: boolean;
    readonly cacheDir: string | undefined;
  };

/** The help text, in Deno's layout. */
export const HELP = `qemu-lockstep: run two QEMUs on one guest in lockstep and report where their
execution first differs.

Usage: qemu-lockstep [OPTIONS] <ARCH> <IMAGE> [-- <GUEST ARGS>...]
       qemu-lockstep suite [OPTIONS] <FILE>    (see suite --help)
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
3 inconclusive (timeout, crash, peer lost).
`;

function count(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`Invalid --${name}: ${value} (expected a whole number ≥ ${min})`);
  }
  return Number(value);
}

/** The items of comma-separated lists, trimmed, empty ones dropped. */
function commaList(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(",")).map((x) => x.trim()).filter((x) => x);
}

/** Parses argv (without the program name). */
export function parseCommandLine(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      tokens: true,
      options: {
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
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify.*$/s, "").trim());
  }
  const v = parsed.values;
  if (v.help) return { kind: "help" };
  if (v.version) return { kind: "version" };

  const terminator = parsed.tokens.findIndex((t) => t.kind === "option-terminator");
  const before = terminator < 0
    ? parsed.positionals
    : parsed.tokens.slice(0, terminator).filter((t) => t.kind === "positional").map((t) =>
      (t as { value: string }).value
    );
  const guestArgs = terminator < 0
    ? []
    : parsed.tokens.slice(terminator + 1).map((t) => (t as { value?: string }).value ?? "");
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
  const color = v.color ?? "auto";
  if (color !== "auto" && color !== "always" && color !== "never") {
    throw new UsageError(`Invalid --color: ${color} (expected auto, always or never)`);
  }
  const timeout = v.timeout === undefined ? undefined : Number(v.timeout);
  if (timeout !== undefined && !(timeout > 0 && timeout <= LIMITS.timeoutSeconds)) {
    throw new UsageError(
      `Invalid --timeout: ${v.timeout} (expected seconds > 0, at most ${LIMITS.timeoutSeconds})`,
    );
  }
  return {
    kind: "run",
    options: {
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
      maxInsns: count("max-insns", v["max-insns"], 1),
      history: count("history", v.history, 0),
      chain: v.chain ?? false,
      compare: v.compare === undefined ? undefined : commaList([v.compare]),
      maskRegs: commaList(v["mask-reg"] ?? []),
      narrow: !(v["no-narrow"] ?? false),
      regsEvery: count("regs-every", v["regs-every"], 1),
      transientWindow: count("transient-window", v["transient-window"], 0),
      bios: v.bios ?? false,
      pluginHeader: v["plugin-header"],
      interval: count("interval", v.interval, 1),
      window: count("window", v.window, 0),
    },
    output: {
      json: v.json ?? false,
      report: v.report,
      html: v.html,
      historyLines: count("history-lines", v["history-lines"], 1) ?? DEFAULTS.historyLines,
      verbose: v.verbose ?? false,
      color,
    },
    timeoutSeconds: timeout,
    keepTemp: v["keep-temp"] ?? false,
    cacheDir: v["cache-dir"],
  };
}

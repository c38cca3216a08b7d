/**
 * After the verdict, under gdb: `--gdb[=before|after]` and `--gdb-batch
 * FILE` on a run, and the `gdb` command, which does the same from a
 * verdict's JSON. Both QEMUs run again to the divergence and stop there;
 * this prints, per side, where it stopped and the gdb command line that
 * attaches, then keeps both until Ctrl-C or both debuggers have detached,
 * or runs a gdb script on both and prints the two outputs side by side.
 * The library (harness/debug/) does the work; this module says it.
 */
import {
  debugBudget,
  DebugSession,
  type DebugSide,
  debugTarget,
  GDB,
  logAtDivergence,
  parseVerdict,
  planFromVerdict,
  type RunPlan,
  SetupError,
  shellQuote,
  type StopWhen,
  type Verdict,
} from "../mod.ts";
import { parseArgs } from "../deps/cli.ts";
import { UsageError } from "./args.ts";
import { err, out, printable } from "./_output.ts";

/** What --gdb and --gdb-batch ask for. */
export interface GdbRequest {
  readonly when: StopWhen;
  /** A gdb script to run on both sides instead of waiting for debuggers. */
  readonly batch?: string | undefined;
}

/**
 * Takes --gdb, --gdb=WHEN, --gdb-batch and --log-at-divergence (`log`, its
 * QEMU -d items) out of a run's argv (before any `--`): the rest goes to
 * the run's parser.
 */
export function takeGdbOptions(
  argv: readonly string[],
): { readonly argv: string[]; readonly gdb: GdbRequest | undefined; readonly log?: string } {
  const rest: string[] = [];
  let when: StopWhen | undefined;
  let batch: string | undefined;
  let log: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === "--gdb") {
      when = "before";
    } else if (a.startsWith("--gdb=")) {
      when = whenOf(a.slice("--gdb=".length));
    } else if (a === "--gdb-batch" || a.startsWith("--gdb-batch=")) {
      batch = a === "--gdb-batch" ? argv[++i] : a.slice("--gdb-batch=".length);
      if (!batch) throw new UsageError("Missing the gdb script after --gdb-batch");
    } else if (a === "--log-at-divergence" || a.startsWith("--log-at-divergence=")) {
      log = a === "--log-at-divergence" ? argv[++i] : a.slice("--log-at-divergence=".length);
      if (!log) throw new UsageError("Missing QEMU's log items after --log-at-divergence");
    } else {
      rest.push(a);
    }
  }
  if (batch !== undefined && when === undefined) when = "before";
  return {
    argv: rest,
    gdb: when === undefined ? undefined : { when, batch },
    ...(log === undefined ? {} : { log }),
  };
}

/**
 * --log-at-divergence after a run: the verdict with QEMU's logs of both
 * sides at its divergence (`divergenceLogs`), or as it was when there is
 * none to take (`ok` false when they could not be taken: exit code 2).
 */
export async function logsAfterRun(
  verdict: Verdict,
  plan: RunPlan,
  items: string,
  opts: DebugOptions,
  signal: AbortSignal,
): Promise<{ readonly verdict: Verdict; readonly ok: boolean }> {
  if (verdict.status !== "diverged") {
    err(`note: --log-at-divergence: the run did not diverge (${verdict.status})\n`);
    return { verdict, ok: true };
  }
  try {
    const logs = await logAtDivergence({
      plan,
      verdict,
      items,
      timeoutSeconds: opts.timeoutSeconds ?? debugBudget(verdict.wallSeconds),
      cacheDir: opts.cacheDir,
      signal,
      onEvent: opts.verbose ? (line) => err(`[lockstep] ${line}\n`) : undefined,
    });
    return { verdict: { ...verdict, divergenceLogs: logs }, ok: true };
  } catch (e) {
    if (!(e instanceof SetupError) || signal.aborted) throw e;
    err(`error: --log-at-divergence: ${e.message}\n  hint: ${e.hint}\n`);
    return { verdict, ok: false };
  }
}

function whenOf(value: string): StopWhen {
  if (value !== "before" && value !== "after") {
    throw new UsageError(`Invalid --gdb: ${value} (expected before or after)`);
  }
  return value;
}

/** How a debug session is run. */
export interface DebugOptions {
  readonly timeoutSeconds: number | undefined;
  readonly cacheDir: string | undefined;
  readonly verbose: boolean;
  /** Batch output goes to stderr (stdout holds the JSON verdict). */
  readonly json: boolean;
}

/**
 * --gdb after a run: stops both sides at the divergence of `verdict`
 * (planned as `plan`). Returns the exit code: the verdict's `code`, or 2
 * when the debuggers could not be stopped there.
 */
export async function debugAfterRun(
  verdict: Verdict,
  plan: RunPlan,
  gdb: GdbRequest,
  opts: DebugOptions,
  code: number,
  signal: AbortSignal,
): Promise<number> {
  if (verdict.status !== "diverged") {
    err(`note: --gdb: nothing to stop at, the run did not diverge (${verdict.status})\n`);
    return code;
  }
  try {
    // Interrupted on the way there: the verdict stands as it is.
    await debug(verdict, plan, gdb, opts, signal);
    return code;
  } catch (e) {
    if (!(e instanceof SetupError)) throw e;
    err(`error: --gdb: ${e.message}\n  hint: ${e.hint}\n`);
    return 2;
  }
}

/** The `gdb` command's help. */
export const GDB_HELP = `Usage: qemu-lockstep gdb [OPTIONS] <VERDICT>

Runs both sides of a verdict's run again, as they ran (the same QEMU
arguments, environment shim and, in system mode, icount), and stops each
under gdb just before the first differing instruction, or the one narrowing
named. Prints each side's gdb command line, then keeps both QEMUs until
Ctrl-C or both debuggers have detached (docs/debugging.md).

Arguments:
  <VERDICT>  the run's JSON verdict (--json or --report)

Options:
      --after                stop just after the instruction instead
      --batch <FILE>         run this gdb script on both sides, print the two
                             outputs side by side, and end
      --timeout <SECONDS>    give up getting there after this long
                             [default: 20 times the run's time, at least 120]
      --cache-dir <DIR>      where built plugins are cached
      --verbose              show QEMU command lines and what happens
  -h, --help                 print help

Run it from the directory the comparison ran in: a linux-user guest sees it.
Exit codes: 0 stopped there (and ended), 2 usage or set-up error, or the
re-runs did not get where the verdict's run went.
`;

/** The `gdb` command (argv after the word gdb); returns the exit code. */
export async function gdbMain(argv: readonly string[], signal: AbortSignal): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        after: { type: "boolean" },
        batch: { type: "string" },
        timeout: { type: "string" },
        "cache-dir": { type: "string" },
        verbose: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify.*$/s, "").trim());
  }
  const v = parsed.values;
  if (v.help) {
    await out(GDB_HELP);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    throw new UsageError(
      parsed.positionals.length === 0
        ? "Missing <VERDICT>: the JSON verdict of the run"
        : `Unexpected argument: ${parsed.positionals[1]}`,
    );
  }
  const timeout = v.timeout === undefined ? undefined : Number(v.timeout);
  if (timeout !== undefined && !(timeout > 0)) {
    throw new UsageError(`Invalid --timeout: ${v.timeout} (expected seconds > 0)`);
  }
  const path = parsed.positionals[0]!;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new SetupError(
      `Cannot read the verdict ${path}: ${(e as Error).message}`,
      "pass the file --report wrote, or what --json printed",
    );
  }
  const verdict = parseVerdict(text);
  const plan = await planFromVerdict(verdict);
  const end = await debug(verdict, plan, { when: v.after ? "after" : "before", batch: v.batch }, {
    timeoutSeconds: timeout,
    cacheDir: v["cache-dir"],
    verbose: v.verbose ?? false,
    json: false,
  }, signal);
  return end === "interrupted" ? 3 : 0;
}

/**
 * Opens the session, says where both sides stopped, then batch or wait.
 * "interrupted": a stop signal came before both sides stopped.
 */
async function debug(
  verdict: Verdict,
  plan: RunPlan,
  gdb: GdbRequest,
  opts: DebugOptions,
  signal: AbortSignal,
): Promise<"done" | "interrupted"> {
  const target = debugTarget(verdict, gdb.when);
  if (gdb.batch !== undefined) await checkScript(gdb.batch);
  err(`gdb: running both sides again to instruction ${target.a.insn}…\n`);
  const started = performance.now();
  let opened: DebugSession;
  try {
    opened = await DebugSession.open({
      plan,
      target,
      timeoutSeconds: opts.timeoutSeconds ?? debugBudget(verdict.wallSeconds),
      cacheDir: opts.cacheDir,
      signal,
      onEvent: opts.verbose ? (line) => err(`[lockstep] ${line}\n`) : undefined,
    });
  } catch (e) {
    if (!signal.aborted) throw e;
    err("gdb: interrupted before both sides stopped\n");
    return "interrupted";
  }
  await using session = opened;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const what = target.what === "narrowed"
    ? "the instruction after which the registers first differ (narrowing)"
    : "the first differing instruction";
  err(`gdb: both sides stopped ${gdb.when} ${what}, in ${seconds} s:\n`);
  for (const role of ["a", "b"] as const) err(sideText(session.sides[role], gdb.when));
  if (gdb.batch !== undefined) {
    const res = await session.batch(gdb.batch, { signal });
    const text = sideBySide(
      [`side a (${GDB} -batch -x ${gdb.batch})`, ...lines(res.a.output)],
      [`side b`, ...lines(res.b.output)],
      width(),
    );
    if (opts.json) err(text);
    else await out(text);
    return "done";
  }
  err("Both QEMUs wait there; Ctrl-C here, or detaching both debuggers, ends them.\n");
  const end = await session.wait(signal);
  err(
    end === "exited"
      ? "gdb: a QEMU exited; stopping both\n"
      : end === "detached"
      ? "gdb: both debuggers detached; stopping both\n"
      : "gdb: interrupted; stopping both\n",
  );
  return "done";
}

/** One side: where it stopped, and the command line that attaches. */
function sideText(s: DebugSide, when: StopWhen): string {
  const t = s.target;
  const name = t.symbol ? ` ${t.symbol}` : "";
  const disas = t.disas ? ` (${t.disas})` : "";
  const ran = s.hits === 1 ? "1 time" : `${s.hits} times`;
  return `side ${s.role}: ${when} instruction ${t.insn} at 0x${t.pc.toString(16)}${
    printable(name + disas)
  }; its address ran ${ran} before it\n` +
    `  ${s.gdb.map(shellQuote).map(printable).join(" ")}\n`;
}

/** A gdb script that can be read, or a SetupError before both sides run. */
async function checkScript(path: string): Promise<void> {
  try {
    await Deno.readTextFile(path);
  } catch (e) {
    throw new SetupError(
      `Cannot read the gdb script ${path}: ${(e as Error).message}`,
      "pass a file of gdb commands (info registers, x/8i $pc, …)",
    );
  }
  const probe = await new Deno.Command(GDB, { args: ["--version"], stdout: "null", stderr: "null" })
    .output().catch(() => undefined);
  if (!probe?.success) {
    throw new SetupError(`${GDB} not found`, "install it: apt-get install gdb-multiarch");
  }
}

function lines(text: string): string[] {
  return text.replace(/\n$/, "").split("\n").map((l) => printable(l.replaceAll("\t", "    ")));
}

function width(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 160;
  }
}

/**
 * Two columns of lines, `diff -y` style: "|" between lines that differ,
 * each column cut to fit `total` characters.
 */
export function sideBySide(a: readonly string[], b: readonly string[], total: number): string {
  const col = Math.max(20, Math.floor((total - 3) / 2));
  const fit = (s: string) => (s.length > col ? s.slice(0, col - 1) + "…" : s.padEnd(col));
  const rows: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? "";
    const y = b[i] ?? "";
    rows.push(`${fit(x)} ${i === 0 || x === y ? " " : "|"} ${fit(y)}`.trimEnd());
  }
  return rows.join("\n") + "\n";
}

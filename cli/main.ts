/**
 * qemu-lockstep's command line: parses argv, hands `suite`, `record` and
 * `doctor` to their modules, runs the session, renders the verdict and
 * picks the exit code. The only module that reads Deno.args or sets the
 * exit code. It prints, as suite.ts, record.ts and doctor.ts do, through
 * _output.ts, the one module that writes to stdout and stderr.
 */
import { HELP, parseCommandLine, UsageError } from "./args.ts";
import { suiteMain } from "./suite.ts";
import { doctorMain } from "./doctor.ts";
import { recordMain } from "./record.ts";
import { debugAfterRun, gdbMain, logsAfterRun, takeGdbOptions } from "./gdb.ts";
import { renderJson, renderProgress, renderText } from "./render.ts";
import { renderHtml } from "./html.ts";
import {
  checkOutput,
  planAgainst,
  planRun,
  type Progress,
  QemuSetupError,
  readTrace,
  runAgainst,
  runLockstep,
  SetupError,
  type Status,
} from "../mod.ts";
import { err, out, writeOutputs } from "./_output.ts";
import { worldProbes } from "./setup_qemus.ts";
import denoJson from "../deno.json" with { type: "json" };

/** Exit codes, like diff/cmp: 0 same, 1 different, 2 trouble, 3 no verdict. */
export const EXIT_CODES: Readonly<Record<Status, number>> = {
  match: 0,
  diverged: 1,
  error: 2,
  inconclusive: 3,
};

/**
 * --bisect: `git bisect run` reads 0 as good, 1 as bad, 125 as "cannot
 * test this commit" (skip), and 128 or more as "stop bisecting". A QEMU
 * that did not build or run is a commit to skip; a command line, an
 * image, a trace or an output that is wrong is wrong for every commit:
 * stop.
 */
export const BISECT_CODES: Readonly<Record<Status, number>> = {
  match: 0,
  diverged: 1,
  error: 125,
  inconclusive: 125,
};
/** --bisect: what skips a commit (the QEMU under test did not build, start or load the plugin). */
export const BISECT_SKIP = 125;
/** --bisect: what stops `git bisect run` (the same at every commit). */
export const BISECT_ABORT = 128;

/** Exit codes for trouble before a verdict. */
interface TroubleCodes {
  readonly usage: number;
  /** A set-up error of the QEMU under test (QemuSetupError). */
  readonly qemu: number;
  /** Any other: the image, the architecture, a trace, an output, the cache, the machine. */
  readonly setup: number;
}
const TROUBLE: TroubleCodes = { usage: 2, qemu: 2, setup: 2 };
const BISECT_TROUBLE: TroubleCodes = {
  usage: BISECT_ABORT,
  qemu: BISECT_SKIP,
  setup: BISECT_ABORT,
};

/** Signals that end a run early, cleaning up: Ctrl-C, kill, a closed terminal, Ctrl-\\. */
const STOP_SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];

/**
 * Runs `body` with an AbortSignal that the stop signals fire, and maps
 * usage and set-up errors to exit code 2 with their message.
 */
async function guarded(
  body: (signal: AbortSignal) => Promise<number>,
  codes: TroubleCodes = TROUBLE,
): Promise<number> {
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  for (const sig of STOP_SIGNALS) Deno.addSignalListener(sig, onSignal);
  try {
    return await body(abort.signal);
  } catch (e) {
    if (e instanceof UsageError) {
      err(
        `error: ${e.message}\n\nUsage: qemu-lockstep [OPTIONS] <ARCH> <IMAGE> [-- <GUEST ARGS>...]\n` +
          `       qemu-lockstep record [OPTIONS] <ARCH> <IMAGE> -o <FILE>\n` +
          `       qemu-lockstep suite [OPTIONS] <FILE>\nRun with --help for more.\n`,
      );
      return codes.usage;
    }
    if (e instanceof SetupError) {
      err(`error: ${e.message}\n  hint: ${e.hint}\n`);
      return e instanceof QemuSetupError ? codes.qemu : codes.setup;
    }
    // A bug of ours: trouble (2), never a verdict, with what to report.
    err(
      `error: internal error: ${(e as Error)?.stack ?? e}\n` +
        `  hint: this is a bug in qemu-lockstep; please report it with the command line\n`,
    );
    return codes.setup;
  } finally {
    for (const sig of STOP_SIGNALS) Deno.removeSignalListener(sig, onSignal);
  }
}

/** Runs the CLI with `argv`; returns the exit code. */
export function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === "suite") return guarded((signal) => suiteMain(argv.slice(1), signal));
  if (argv[0] === "doctor") return guarded(() => doctorMain(argv.slice(1)));
  if (argv[0] === "record") return guarded((signal) => recordMain(argv.slice(1), signal));
  if (argv[0] === "gdb") return guarded((signal) => gdbMain(argv.slice(1), signal));
  // Known before parsing: a command line that does not parse stops a bisection.
  const bisect = argv.includes("--bisect") &&
    !argv.slice(0, argv.indexOf("--bisect")).includes("--");
  return guarded((signal) => runOne(argv, signal), bisect ? BISECT_TROUBLE : TROUBLE);
}

async function runOne(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const started = performance.now();
  const { argv: rest, gdb, log } = takeGdbOptions(argv);
  const cmd = parseCommandLine(rest);
  if (cmd.kind === "help") {
    await out(HELP);
    return 0;
  }
  if (cmd.kind === "version") {
    await out(`qemu-lockstep ${denoJson.version}\n`);
    return 0;
  }
  const { output } = cmd;
  const tty = Deno.stderr.isTerminal();
  const color = output.color === "always" || (output.color === "auto" && tty && !Deno.noColor);
  const live = tty && !output.json;
  // Found before the run: a report that could not be written after it.
  if (output.report) await checkOutput(output.report, "--report");
  if (output.html) await checkOutput(output.html, "--html");
  let last: Progress | undefined;
  const showProgress = (p: Progress) => {
    last = p;
    err(`\r\x1b[K${renderProgress(p)}`);
  };
  // The clock on the progress line moves even while the sides report nothing.
  const ticker = live
    ? setInterval(() => {
      const elapsedSeconds = (performance.now() - started) / 1000;
      showProgress({
        insns: last?.insns ?? 0,
        insnsPerSecond: last?.insnsPerSecond ?? 0,
        elapsedSeconds,
      });
    }, 1000)
    : undefined;
  try {
    const trace = cmd.against === undefined ? undefined : await readTrace(cmd.against);
    const plan = trace ? await planAgainst(cmd.options, trace) : await planRun(cmd.options);
    if (!output.json) { for (const w of plan.warnings) err(`warning: ${w}\n`); }
    const session = {
      signal,
      // --timeout counts from the start of the command, planning included.
      timeoutSeconds: cmd.timeoutSeconds,
      since: started,
      keepTemp: cmd.keepTemp,
      cacheDir: cmd.cacheDir,
      worldProbes: worldProbes(),
      onProgress: live ? showProgress : undefined,
      onEvent: output.verbose
        ? (line: string) => err(`${live ? "\r\x1b[K" : ""}[lockstep] ${line}\n`)
        : undefined,
    };
    const run = trace ? await runAgainst(plan, trace, session) : await runLockstep(plan, session);
    clearInterval(ticker);
    if (live) err("\r\x1b[K");
    const debugOptions = {
      timeoutSeconds: cmd.timeoutSeconds,
      cacheDir: cmd.cacheDir,
      verbose: output.verbose,
      json: output.json,
    };
    // QEMU's logs at the divergence go into the verdict, before it is shown.
    const logged = log === undefined
      ? { verdict: run, ok: true }
      : await logsAfterRun(run, plan, log, debugOptions, signal);
    const verdict = logged.verdict;
    const json = renderJson(verdict);
    if (output.json) await out(json + "\n");
    else {
      err(renderText(verdict, {
        color,
        verbose: output.verbose,
        width: tty ? consoleWidth() : undefined,
        lines: output.historyLines,
      }));
    }
    const code = await writeOutputs([
      ...(output.report
        ? [{ path: output.report, what: "--report", text: () => json + "\n" }]
        : []),
      ...(output.html
        ? [{ path: output.html, what: "--html", text: () => renderHtml(verdict) }]
        : []),
    ], {
      result: `the verdict stands: ${verdict.status}`,
      code: (cmd.bisect ? BISECT_CODES : EXIT_CODES)[verdict.status],
      stdout: output.json ? "the JSON verdict" : undefined,
      keep: cmd.bisect,
      signal,
    });
    const withLogs = logged.ok ? code : EXIT_CODES.error;
    if (!gdb) return withLogs;
    return await debugAfterRun(verdict, plan, gdb, debugOptions, withLogs, signal);
  } finally {
    clearInterval(ticker);
    if (live) err("\r\x1b[K");
  }
}

/** The terminal's width on stderr, or undefined when it cannot be read. */
function consoleWidth(): number | undefined {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return undefined;
  }
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}

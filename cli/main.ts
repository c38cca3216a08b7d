/**
 * qemu-lockstep's command line: parses argv, runs the session, renders the
 * verdict and picks the exit code. The only module that prints or exits.
 */
import { HELP, parseCommandLine, UsageError } from "./args.ts";
import { suiteMain } from "./suite.ts";
import { doctorMain } from "./doctor.ts";
import { renderJson, renderProgress, renderText } from "./render.ts";
import { planRun, runLockstep, SetupError, type Status } from "../mod.ts";
import denoJson from "../deno.json" with { type: "json" };

/** Exit codes, like diff/cmp: 0 same, 1 different, 2 trouble, 3 no verdict. */
export const EXIT_CODES: Readonly<Record<Status, number>> = {
  match: 0,
  diverged: 1,
  error: 2,
  inconclusive: 3,
};

const enc = new TextEncoder();
const err = (text: string) => Deno.stderr.writeSync(enc.encode(text));
const out = (text: string) => Deno.stdout.write(enc.encode(text));

/**
 * Runs `body` with an AbortSignal that Ctrl-C and SIGTERM fire, and maps
 * usage and set-up errors to exit code 2 with their message.
 */
async function guarded(body: (signal: AbortSignal) => Promise<number>): Promise<number> {
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    return await body(abort.signal);
  } catch (e) {
    if (e instanceof UsageError) {
      err(
        `error: ${e.message}\n\nUsage: qemu-lockstep [OPTIONS] <ARCH> <IMAGE> [-- <GUEST ARGS>...]\n` +
          `       qemu-lockstep suite [OPTIONS] <FILE>\nRun with --help for more.\n`,
      );
      return 2;
    }
    if (e instanceof SetupError) {
      err(`error: ${e.message}\n  hint: ${e.hint}\n`);
      return 2;
    }
    throw e;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

/** Runs the CLI with `argv`; returns the exit code. */
export function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === "suite") return guarded((signal) => suiteMain(argv.slice(1), signal));
  if (argv[0] === "doctor") return guarded(() => doctorMain(argv.slice(1)));
  return guarded((signal) => runOne(argv, signal));
}

async function runOne(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const cmd = parseCommandLine(argv);
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
  try {
    const plan = await planRun(cmd.options);
    if (!output.json) { for (const w of plan.warnings) err(`warning: ${w}\n`); }
    const verdict = await runLockstep(plan, {
      signal,
      timeoutSeconds: cmd.timeoutSeconds,
      keepTemp: cmd.keepTemp,
      cacheDir: cmd.cacheDir,
      onProgress: live ? (p) => err(`\r\x1b[K${renderProgress(p)}`) : undefined,
      onEvent: output.verbose
        ? (line) => err(`${live ? "\r\x1b[K" : ""}[lockstep] ${line}\n`)
        : undefined,
    });
    const json = renderJson(verdict);
    if (output.report) await Deno.writeTextFile(output.report, json + "\n");
    if (output.json) await out(json + "\n");
    else err(renderText(verdict, color, cmd.output.verbose));
    return EXIT_CODES[verdict.status];
  } finally {
    if (live) err("\r\x1b[K");
  }
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}

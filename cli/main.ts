/**
 * qemu-lockstep's command line: parses argv, runs the session, renders the
 * verdict and picks the exit code. The only module that prints or exits.
 */
import { HELP, parseCommandLine, UsageError } from "./args.ts";
import { renderJson, renderProgress, renderText } from "./render.ts";
import { planRun } from "../harness/plan.ts";
import { runLockstep } from "../harness/session.ts";
import { SetupError } from "../harness/errors.ts";
import type { Status } from "../harness/verdict.ts";
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

/** Runs the CLI with `argv`; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let cmd;
  try {
    cmd = parseCommandLine(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(
      `error: ${e.message}\n\nUsage: qemu-lockstep [OPTIONS] <ARCH> <IMAGE> [-- <GUEST ARGS>...]\n` +
        `Run with --help for more.\n`,
    );
    return 2;
  }
  if (cmd.kind === "help") {
    await Deno.stdout.write(enc.encode(HELP));
    return 0;
  }
  if (cmd.kind === "version") {
    await Deno.stdout.write(enc.encode(`qemu-lockstep ${denoJson.version}\n`));
    return 0;
  }
  const { output } = cmd;
  const tty = Deno.stderr.isTerminal();
  const color = output.color === "always" || (output.color === "auto" && tty && !Deno.noColor);
  const live = tty && !output.json;
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const plan = await planRun(cmd.options);
    const verdict = await runLockstep(plan, {
      signal: abort.signal,
      timeoutSeconds: cmd.timeoutSeconds,
      keepTemp: cmd.keepTemp,
      cacheDir: cmd.cacheDir,
      onProgress: live ? (p) => err(`\r\x1b[K${renderProgress(p)}`) : undefined,
      onEvent: output.verbose
        ? (line) => err(`${live ? "\r\x1b[K" : ""}[lockstep] ${line}\n`)
        : undefined,
    });
    if (live) err("\r\x1b[K");
    const json = renderJson(verdict);
    if (output.report) await Deno.writeTextFile(output.report, json + "\n");
    if (output.json) {
      await Deno.stdout.write(enc.encode(json + "\n"));
    } else {
      err(renderText(verdict, color));
    }
    return EXIT_CODES[verdict.status];
  } catch (e) {
    if (live) err("\r\x1b[K");
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

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}

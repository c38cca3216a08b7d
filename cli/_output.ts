/**
 * The CLI's two output streams, and the files a result is also written to.
 * A reader that goes away (`| head`, a closed terminal) must not turn into
 * an exception in the middle of a run: once a stream is broken, writes to
 * it are dropped and the run ends as usual, cleaning up behind it. Any
 * other failure to write stdout (a full disk behind `> file`) is kept, and
 * said with the files that could not be written.
 */
import { OutputError, writeOutput } from "../mod.ts";

const enc = new TextEncoder();
let stderrOpen = true;
let stdoutOpen = true;
let stdoutFailure: Error | undefined;

/** Writes to stderr (text, diagnostics, the progress line). */
export function err(text: string): void {
  if (!stderrOpen) return;
  try {
    const bytes = enc.encode(text);
    let done = 0;
    while (done < bytes.length) done += Deno.stderr.writeSync(bytes.subarray(done));
  } catch {
    stderrOpen = false;
  }
}

/** Writes to stdout (help, JSON). */
export async function out(text: string): Promise<void> {
  if (!stdoutOpen) return;
  try {
    const bytes = enc.encode(text);
    let done = 0;
    while (done < bytes.length) done += await Deno.stdout.write(bytes.subarray(done));
  } catch (e) {
    stdoutOpen = false;
    if (!(e instanceof Deno.errors.BrokenPipe)) stdoutFailure = e as Error;
  }
}

/**
 * `text` as it may go to a terminal: control characters (ESC, newline,
 * DEL, C1) shown as escapes, so a name read from a file cannot move the
 * cursor, recolour the screen or forge a line.
 */
export function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => {
    const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
    return named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}

/** An output file a result is also written to. */
export interface OutputRequest {
  readonly path: string;
  /** The output as the user knows it: `--report`, `--junit`. */
  readonly what: string;
  readonly text: () => string;
}

/**
 * Writes the files a result asked for, each whatever became of the
 * others, and says in one line each (and its hint) which could not be
 * written, and that the result stands (`result`: "the verdict stands:
 * diverged"). `stdout` names what went to stdout, if anything, to say so
 * when that failed too; `lost`: outputs already lost. Returns the exit
 * code: `code`, unless something was lost and `code` said all is well
 * (0), which a lost output must not pass for: then 2. `keep` (--bisect):
 * `code` whatever was lost, since it answers for the commit.
 */
export async function writeOutputs(
  files: readonly OutputRequest[],
  opts: {
    readonly result: string;
    readonly code: number;
    readonly stdout?: string | undefined;
    readonly keep?: boolean;
    readonly lost?: readonly OutputError[];
    /** Ends a wait for a fifo's reader (Ctrl-C). */
    readonly signal?: AbortSignal | undefined;
  },
): Promise<number> {
  const lost: { message: string; hint: string }[] = [...opts.lost ?? []];
  for (const f of files) {
    try {
      await writeOutput(f.path, f.what, f.text(), { signal: opts.signal });
    } catch (e) {
      if (!(e instanceof OutputError)) throw e;
      lost.push(e);
    }
  }
  if (opts.stdout !== undefined && stdoutFailure) {
    lost.push({
      message: `Cannot write ${opts.stdout} to stdout: ${stdoutFailure.message}`,
      hint: "send stdout where it can be written",
    });
  }
  const code = lost.length && opts.code === 0 && !opts.keep ? 2 : opts.code;
  const stands = code === opts.code
    ? `${opts.result} (exit ${code})`
    : `${opts.result}, but exit ${code} for what is missing`;
  for (const l of lost) err(`error: ${l.message}; ${stands}\n  hint: ${l.hint}\n`);
  return code;
}

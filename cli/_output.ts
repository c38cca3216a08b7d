/**
 * The CLI's two output streams. A reader that goes away (`| head`, a closed
 * terminal) must not turn into an exception in the middle of a run: once a
 * stream is broken, writes to it are dropped and the run ends as usual,
 * cleaning up behind it.
 */
import { SetupError } from "../mod.ts";

const enc = new TextEncoder();
let stderrOpen = true;
let stdoutOpen = true;

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
  } catch {
    stdoutOpen = false;
  }
}

/**
 * Throws SetupError unless `path` (given with option `what`) can be
 * written; leaves nothing where there was nothing. Found before a run, so
 * a run's result is never lost to an unwritable file after it.
 */
export async function checkWritable(path: string, what: string): Promise<void> {
  try {
    const existed = await Deno.lstat(path).then(() => true, () => false);
    const f = await Deno.open(path, { write: true, create: true, append: true });
    f.close();
    if (!existed) await Deno.remove(path);
  } catch (e) {
    throw new SetupError(
      `Cannot write ${what} ${path}: ${(e as Error).message}`,
      `pass ${what} a file in a directory you can write to`,
    );
  }
}

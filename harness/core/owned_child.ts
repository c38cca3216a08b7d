/**
 * One owner for one child process: spawn it, drain its output to the end,
 * and on every path stop it (SIGTERM, a short grace, SIGKILL) and await its
 * status. `await using` makes the cleanup structural.
 */

/** How a child ended. */
export interface ChildStatus {
  readonly code: number | null;
  readonly signal: string | null;
}

/** Options for spawning a child. */
export interface ChildOptions {
  readonly cwd?: string;
  readonly env?: Record<string, string>;
  readonly clearEnv?: boolean;
  /** Bytes of stdout kept (from the start). */
  readonly keepStdout?: number;
  /** Bytes of stderr kept (from the end). */
  readonly keepStderr?: number;
}

/** A running child whose output is collected in the background. */
export class OwnedChild implements AsyncDisposable {
  readonly #process: Deno.ChildProcess;
  readonly #stdout: Promise<string>;
  readonly #stderr: Promise<string>;
  readonly status: Promise<ChildStatus>;
  #exited: ChildStatus | undefined;

  /** The command line, for messages. */
  readonly argv: readonly string[];

  constructor(cmd: string, args: readonly string[], opts: ChildOptions = {}) {
    this.argv = [cmd, ...args];
    this.#process = new Deno.Command(cmd, {
      args: [...args],
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      ...(opts.env ? { env: opts.env } : {}),
      clearEnv: opts.clearEnv ?? false,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdout = collect(this.#process.stdout, opts.keepStdout ?? 1 << 20, "head");
    this.#stderr = collect(this.#process.stderr, opts.keepStderr ?? 16 << 10, "tail");
    this.status = this.#process.status.then((s) => {
      this.#exited = { code: s.signal ? null : s.code, signal: s.signal ?? null };
      return this.#exited;
    });
  }

  /** Process id. */
  get pid(): number {
    return this.#process.pid;
  }

  /** True once the process has exited and been reaped. */
  get exited(): boolean {
    return this.#exited !== undefined;
  }

  /** What the child wrote to stdout (the first bytes kept). */
  stdout(): Promise<string> {
    return this.#stdout;
  }

  /** What the child wrote to stderr (the last bytes kept). */
  stderr(): Promise<string> {
    return this.#stderr;
  }

  /** Stops the child if it still runs: SIGTERM, `graceMs`, then SIGKILL. */
  async stop(graceMs = 1000): Promise<ChildStatus> {
    if (!this.#exited) {
      signal(this.#process, "SIGTERM");
      // A stopped process (SIGSTOP) keeps SIGTERM pending; SIGKILL ends it.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), graceMs)));
      const first = await Promise.race([this.status, late]);
      clearTimeout(timer);
      if (first === "late") signal(this.#process, "SIGKILL");
    }
    const st = await this.status;
    await Promise.all([this.#stdout, this.#stderr]);
    return st;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

function signal(p: Deno.ChildProcess, sig: Deno.Signal): void {
  try {
    p.kill(sig);
  } catch {
    // Already gone: nothing to stop.
  }
}

async function collect(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  keep: "head" | "tail",
): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Read to the end even past the limit, so the child never blocks on a pipe.
  for await (const chunk of stream) {
    if (keep === "head") {
      if (size < limit) {
        chunks.push(chunk.subarray(0, limit - size));
        size += Math.min(chunk.length, limit - size);
      }
    } else {
      chunks.push(chunk);
      size += chunk.length;
      while (size - (chunks[0]?.length ?? 0) >= limit) size -= chunks.shift()!.length;
    }
  }
  const all = new Uint8Array(size);
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.length;
  }
  const text = new TextDecoder().decode(all);
  return keep === "tail" && text.length > limit ? text.slice(-limit) : text;
}

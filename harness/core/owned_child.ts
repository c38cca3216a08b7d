/**
 * One owner for one child process: spawn it, drain its output to the end,
 * and on every path stop it (SIGTERM, a short grace, SIGKILL) and await its
 * status. `await using` makes the cleanup structural.
 *
 * A child that may make processes of its own (a linux-user QEMU whose
 * guest forks) runs under the reaper (`reaper`, plugin-src/reaper.c): every
 * process it makes ends with it and is reaped, so that none is left and
 * none holds the output pipes open. Its status is the child's own.
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
  /**
   * The reaper program (plugin-src/reaper.c, built): the child runs under
   * it and owns a process tree, which ends with it (see the module comment).
   */
  readonly reaper?: string | undefined;
  /**
   * Under the reaper: the tree in a PID namespace of its own, so that two
   * trees number their processes alike (falls back to none when the
   * system allows none).
   */
  readonly pidNamespace?: boolean;
}

/**
 * Once the tree's leader is gone, how long its output may take to reach
 * its end: a process outside any tree can hold a pipe open for ever.
 */
const DRAIN_MS = 2000;
/** How long a reaper told to end its tree (SIGUSR1) may take before SIGKILL. */
const REAPER_MS = 3000;

/** A running child whose output is collected in the background. */
export class OwnedChild implements AsyncDisposable {
  readonly #process: Deno.ChildProcess;
  readonly #stdout: Collector;
  readonly #stderr: Collector;
  readonly #reaped: boolean;
  readonly status: Promise<ChildStatus>;
  #exited: ChildStatus | undefined;

  /** The command line, for messages (without the reaper). */
  readonly argv: readonly string[];

  constructor(cmd: string, args: readonly string[], opts: ChildOptions = {}) {
    this.argv = [cmd, ...args];
    this.#reaped = opts.reaper !== undefined;
    const argv = opts.reaper
      ? [opts.reaper, ...(opts.pidNamespace ? ["--pid-namespace"] : []), cmd, ...args]
      : [cmd, ...args];
    this.#process = new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      ...(opts.env ? { env: opts.env } : {}),
      clearEnv: opts.clearEnv ?? false,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdout = new Collector(this.#process.stdout, opts.keepStdout ?? 1 << 20, "head");
    this.#stderr = new Collector(this.#process.stderr, opts.keepStderr ?? 16 << 10, "tail");
    this.status = this.#process.status.then((s) => {
      this.#exited = { code: s.signal ? null : s.code, signal: s.signal ?? null };
      return this.#exited;
    });
  }

  /** Process id (of the reaper, when the child runs under one). */
  get pid(): number {
    return this.#process.pid;
  }

  /** True once the process has exited and been reaped. */
  get exited(): boolean {
    return this.#exited !== undefined;
  }

  /**
   * What the child wrote to stdout (the first bytes kept), once its output
   * ended, or DRAIN_MS after it exited.
   */
  stdout(): Promise<string> {
    return this.#drained(this.#stdout);
  }

  /** What the child wrote to stderr (the last bytes kept), likewise. */
  stderr(): Promise<string> {
    return this.#drained(this.#stderr);
  }

  async #drained(c: Collector): Promise<string> {
    const early = await Promise.race([c.text, this.status.then(() => undefined)]);
    if (early !== undefined) return early;
    const late = await Promise.race([c.text, sleep(DRAIN_MS).then(() => undefined)]);
    // Someone outside the child (its tree) holds the pipe: take what came.
    if (late === undefined) c.cancel();
    return await c.text;
  }

  /**
   * Stops the child if it still runs: SIGTERM, `graceMs`, then SIGKILL.
   * Under the reaper: SIGTERM to the child, then after `graceMs` SIGUSR1
   * (its whole tree gets SIGKILL), and SIGKILL only if the reaper itself
   * does not end.
   */
  async stop(graceMs = 1000): Promise<ChildStatus> {
    if (!this.#exited) {
      signal(this.#process, "SIGTERM");
      // A stopped process (SIGSTOP) keeps SIGTERM pending; SIGKILL ends it.
      if (!(await this.#endsWithin(graceMs))) {
        if (!this.#reaped) {
          signal(this.#process, "SIGKILL");
        } else {
          signal(this.#process, "SIGUSR1");
          if (!(await this.#endsWithin(REAPER_MS))) signal(this.#process, "SIGKILL");
        }
      }
    }
    const st = await this.status;
    await Promise.all([this.stdout(), this.stderr()]);
    return st;
  }

  /** Whether the child ends within `ms`. */
  async #endsWithin(ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), ms)));
    const first = await Promise.race([this.status, late]);
    clearTimeout(timer);
    return first !== "late";
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

function sleep(ms: number): Promise<void> {
  return new Promise((r) => {
    const t = setTimeout(r, ms);
    // A drain that ends earlier must not keep the process alive.
    Deno.unrefTimer(t);
  });
}

/** Reads a pipe to its end (or until cancelled), keeping `limit` bytes of it. */
class Collector {
  readonly text: Promise<string>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;

  constructor(stream: ReadableStream<Uint8Array>, limit: number, keep: "head" | "tail") {
    this.#reader = stream.getReader();
    this.text = this.#collect(limit, keep);
  }

  /** Stops reading: `text` resolves with what came so far. */
  cancel(): void {
    this.#reader.cancel().catch(() => {});
  }

  async #collect(limit: number, keep: "head" | "tail"): Promise<string> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    // Read to the end even past the limit, so the child never blocks on a pipe.
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await this.#reader.read();
      } catch {
        break;
      }
      if (next.done) break;
      const chunk = next.value;
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
}

// Helpers for tests that drive the real CLI as a user would.

/** Repository root. */
export const ROOT = new URL("../../", import.meta.url).pathname;
/** Built guests. */
export const GUESTS = new URL("../guests/build/", import.meta.url).pathname;
const MAIN = new URL("../../cli/main.ts", import.meta.url).pathname;

/** What a CLI run left. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  // deno-lint-ignore no-explicit-any
  readonly json: any;
}

/**
 * Runs `cli/main.ts args` to completion; with `timeoutMs`, a CLI still
 * running then gets SIGTERM (a hang fails the test instead of stalling it).
 */
export async function runCli(
  args: readonly string[],
  opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: opts.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...opts.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(opts.timeoutMs ? { signal: AbortSignal.timeout(opts.timeoutMs) } : {}),
  }).output();
  const dec = new TextDecoder();
  const stdout = dec.decode(out.stdout);
  let json;
  try {
    json = JSON.parse(stdout);
  } catch {
    json = undefined;
  }
  return { code: out.code, stdout, stderr: dec.decode(out.stderr), json };
}

/** A symbol's [start, end) from `nm -S` on an image. */
export async function symbolRange(
  nm: string,
  image: string,
  name: string,
): Promise<[bigint, bigint]> {
  const out = await new Deno.Command(nm, { args: ["-S", image], stdout: "piped" }).output();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const [addr, size, , sym] = line.trim().split(/\s+/);
    if (sym === name && addr && size) {
      const start = BigInt(`0x${addr}`);
      return [start, start + BigInt(`0x${size}`)];
    }
  }
  throw new Error(`${name} not found in ${image}`);
}

/** Whether a process with `pid` exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** A fresh directory, removed by the returned disposer. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "lockstep-test-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/** A CLI run in the background whose two QEMUs have loaded the plugin. */
export interface LiveRun {
  /** QEMU pid of each side. */
  readonly pids: { readonly a: number; readonly b: number };
  readonly child: Deno.ChildProcess;
  /** Waits for the CLI to end: its exit code and stdout. */
  finish(): Promise<{ code: number; stdout: string }>;
}

/**
 * Starts `cli/main.ts --verbose args` and waits until both plugins said
 * hello (their pids come from the verbose log on stderr).
 */
export async function startCli(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<LiveRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--verbose", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const pids: Record<string, number> = {};
  let stderr = "";
  while (!(pids.a && pids.b)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`The run ended before both plugins loaded:\n${stderr}`);
    stderr += value;
    for (const m of stderr.matchAll(/side (a|b): plugin loaded \(.*pid (\d+)\)/g)) {
      pids[m[1]!] = Number(m[2]);
    }
  }
  const drained = (async () => {
    while (!(await reader.read()).done);
  })();
  return {
    pids: { a: pids.a, b: pids.b },
    child,
    async finish() {
      const [status, out] = await Promise.all([child.status, stdout, drained]);
      return { code: status.code, stdout: out };
    },
  };
}

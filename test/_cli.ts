// Helpers for tests that drive the real CLI as a user would.

/** Repository root. */
export const ROOT = new URL("../", import.meta.url).pathname;
/** Built guests. */
export const GUESTS = new URL("./guests/build/", import.meta.url).pathname;
const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;

/** What a CLI run left. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  // deno-lint-ignore no-explicit-any
  readonly json: any;
}

/** Runs `cli/main.ts args` to completion. */
export async function runCli(
  args: readonly string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: opts.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...opts.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
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

// Builds testdata/counter_reader.c for a test: x86_64 static with the host's
// compiler, aarch64 dynamically linked with the cross compiler (run with
// -L /usr/aarch64-linux-gnu), each also as its one-byte variant; and
// testdata/counter_loop.c, whose path hangs on the value read.

const SOURCE = new URL("./testdata/counter_reader.c", import.meta.url).pathname;

/** The cross toolchain's libraries, QEMU's -L for aarch64 dynamic guests. */
export const AARCH64_PREFIX = "/usr/aarch64-linux-gnu";

/** Whether a compiler is on PATH. */
export function haveCompiler(cc: string): boolean {
  try {
    return new Deno.Command(cc, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** The guests built, in a directory the caller removes. */
export interface CounterReaders {
  readonly dir: string;
  readonly x86_64: string;
  readonly x86_64Variant: string;
  /** Absent without aarch64-linux-gnu-gcc. */
  readonly aarch64?: string;
}

async function compile(
  cc: string,
  out: string,
  flags: readonly string[],
  source = SOURCE,
): Promise<void> {
  const r = await new Deno.Command(cc, {
    args: ["-O2", "-Wall", "-Wl,--build-id=none", ...flags, "-o", out, source],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(`${cc} failed: ${new TextDecoder().decode(r.stderr)}`);
}

/** Builds the guests into a new temporary directory. */
export async function buildCounterReaders(): Promise<CounterReaders> {
  const dir = await Deno.makeTempDir({ prefix: "lockstep-counter-" });
  const cc = Deno.env.get("CC") ?? "cc";
  await compile(cc, `${dir}/counter-reader`, ["-static"]);
  await compile(cc, `${dir}/counter-reader-variant`, ["-static", "-DVARIANT"]);
  const cross = "aarch64-linux-gnu-gcc";
  const arm = haveCompiler(cross) ? `${dir}/counter-reader-aarch64` : undefined;
  if (arm) await compile(cross, arm, []);
  return {
    dir,
    x86_64: `${dir}/counter-reader`,
    x86_64Variant: `${dir}/counter-reader-variant`,
    ...(arm ? { aarch64: arm } : {}),
  };
}

/** testdata/counter_loop.c and its variant, built into a temporary directory the caller removes. */
export async function buildCounterLoop(): Promise<
  { readonly dir: string; readonly image: string; readonly variant: string }
> {
  const dir = await Deno.makeTempDir({ prefix: "lockstep-counter-loop-" });
  const cc = Deno.env.get("CC") ?? "cc";
  const source = new URL("./testdata/counter_loop.c", import.meta.url).pathname;
  await compile(cc, `${dir}/counter-loop`, ["-static"], source);
  await compile(cc, `${dir}/counter-loop-variant`, ["-static", "-DVARIANT"], source);
  return { dir, image: `${dir}/counter-loop`, variant: `${dir}/counter-loop-variant` };
}

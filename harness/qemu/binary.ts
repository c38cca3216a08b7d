/**
 * Finding a QEMU binary and asking it its version, which decides the
 * plugin API version the plugin must be built for.
 */
import { fromOsError, QemuSetupError } from "../core/errors.ts";
import { DEFAULTS } from "../core/defaults.ts";
import { isAbsolute, join } from "../../deps/path.ts";

/** A QEMU binary found on disk, with its version. */
export interface QemuBinary {
  /** Absolute path. */
  readonly path: string;
  /** "7.2.22" etc. */
  readonly version: string;
  /** Plugin API version this QEMU loads (QEMU_PLUGIN_VERSION). */
  readonly pluginApi: number;
}

/** The plugin API version a QEMU release speaks (the table in docs/development.md). */
export function pluginApiFor(version: string): number {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) throw new SyntaxError(`Cannot read QEMU version: ${version}`);
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const v = major * 100 + minor;
  if (v < 500) throw new RangeError(`QEMU ${version} has no plugin support (needs 5.0 or later)`);
  if (v < 900) return 1;
  if (v < 901) return 2;
  if (v < 902) return 3;
  if (v < 1001) return 4;
  return 5;
}

/** Resolves `name` (a path or a command on PATH) to an absolute file path. */
export function whichBinary(
  name: string,
  env: Record<string, string | undefined>,
): string | undefined {
  if (name.includes("/")) {
    const path = isAbsolute(name) ? name : join(Deno.cwd(), name);
    return isExecutable(path) ? path : undefined;
  }
  for (const dir of (env.PATH ?? "/usr/bin:/bin").split(":")) {
    if (!dir) continue;
    const path = join(dir, name);
    if (isExecutable(path)) return path;
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return st.isFile && ((st.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

const versionCache = new Map<string, Promise<QemuBinary>>();

/** Finds `name` and asks it `--version`; throws SetupError when it can't. */
export function probeQemu(
  name: string,
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Promise<QemuBinary> {
  const path = whichBinary(name, env);
  if (!path) {
    return Promise.reject(
      new QemuSetupError(
        `QEMU binary not found: ${name}`,
        name.includes("/")
          ? "check the path given with --qemu/--qemu-a/--qemu-b"
          : `install it (bash scripts/setup.sh --tests installs Debian's QEMUs) or pass --qemu PATH`,
      ),
    );
  }
  let cached = versionCache.get(path);
  if (!cached) {
    cached = askVersion(path);
    versionCache.set(path, cached);
  }
  return cached;
}

async function askVersion(path: string): Promise<QemuBinary> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(path, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
  } catch (e) {
    throw fromOsError(`Cannot run ${path}`, e, QemuSetupError);
  }
  const reader = child.stdout.getReader();
  const chunks: Uint8Array[] = [];
  const stdout = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of chunks) {
      all.set(c, o);
      o += c.length;
    }
    return all;
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((r) => {
    timer = setTimeout(() => r("late"), DEFAULTS.probeSeconds * 1000);
  });
  const status = await Promise.race([child.status, late]);
  clearTimeout(timer);
  if (status === "late") {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone meanwhile
    }
    await child.status;
    // Whatever it started may still hold the pipe: stop reading it.
    stdout.catch(() => {});
    await reader.cancel().catch(() => {});
    throw new QemuSetupError(
      `${path} --version did not answer within ${DEFAULTS.probeSeconds} s`,
      "pass a working QEMU binary with --qemu",
    );
  }
  const out = { success: status.success, stdout: await stdout };
  const text = new TextDecoder().decode(out.stdout);
  const m = /version (\d+\.\d+(?:\.\d+)?)/.exec(text);
  if (!out.success || !m?.[1]) {
    throw new QemuSetupError(
      `${path} --version did not print a QEMU version`,
      "pass a QEMU binary with --qemu",
    );
  }
  const version = m[1];
  let pluginApi: number;
  try {
    pluginApi = pluginApiFor(version);
  } catch (e) {
    throw new QemuSetupError((e as Error).message, "use QEMU 5.0 or later", { cause: e });
  }
  return { path, version, pluginApi };
}

/**
 * Learning a linux-user QEMU's world: the world probe (a small static
 * guest, test/guests/glibc/world_probe.c) run under the QEMU for a -cpu,
 * its output kept in the plugin cache directory, keyed by the QEMU
 * binary's bytes, the -cpu, and the probe's bytes. A cached answer is read
 * only if nobody else could have put it there (the rules of
 * plugin_cache.ts: this user's regular file, never a link, writable by no
 * one else). Comparing two sides' worlds, and finding a -cpu both QEMUs
 * know that makes them equal, is compareWorlds().
 */
import { type ChildStatus, OwnedChild } from "../core/owned_child.ts";
import { DEFAULTS } from "../core/defaults.ts";
import { defaultCacheDir, openCacheDir } from "./plugin_cache.ts";
import { cpuBits, parseWorld, type World, worldEntries } from "../verdict/world.ts";
import type { WorldDifference, WorldEntry } from "../verdict/verdict.ts";
import { makeOwnedTempDir, sweepOnce } from "../core/owned_temp_dir.ts";
import { join } from "../../deps/path.ts";

/** Name prefix of the cached answers in the cache directory. */
const PREFIX = "world-";

/** Name prefix of the private directories a cached answer is written in. */
const WRITE_PREFIX = ".world-";

/** The cached answer of a QEMU that refused the probe (a -cpu it cannot run a 64-bit guest on). */
const REFUSED = "refused\n";

/** One side's QEMU and the -cpu it runs with (undefined: its default). */
export interface QemuCpu {
  readonly qemu: string;
  readonly cpu: string | undefined;
}

/** What probing needs. */
export interface WorldProbeRequest {
  /** The probe guest for the run's arch (built from test/guests/glibc/world_probe.c). */
  readonly probe: string;
  readonly cacheDir?: string | undefined;
}

const hashes = new Map<string, Promise<string>>();

/** The SHA-256 of a file's bytes (hex, 24 digits), once per file and size/mtime in a process. */
function fileHash(path: string): Promise<string> {
  const st = Deno.statSync(path);
  const key = `${path}\0${st.size}\0${st.mtime?.getTime()}`;
  let h = hashes.get(key);
  if (!h) {
    h = Deno.readFile(path).then(async (bytes) =>
      Array.from(
        new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)).subarray(0, 12),
        (b) => b.toString(16).padStart(2, "0"),
      ).join("")
    );
    hashes.set(key, h);
  }
  return h;
}

/**
 * The cached answer at `path`, if it may be read: this user's regular file
 * (lstat: a link planted there is never followed), that no one else can
 * write, holding a whole probe's output or REFUSED.
 */
async function readCached(path: string, uid: number): Promise<World | "refused" | undefined> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.lstat(path);
  } catch {
    return undefined;
  }
  if (!st.isFile || st.uid !== uid || ((st.mode ?? 0) & 0o022) !== 0) return undefined;
  try {
    const text = await Deno.readTextFile(path);
    return text === REFUSED ? "refused" : parseWorld(text);
  } catch {
    return undefined;
  }
}

/** How `child` ended, or undefined when it did not within DEFAULTS.probeSeconds (its owner stops it). */
async function endsInTime(child: OwnedChild): Promise<ChildStatus | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((r) => {
    timer = setTimeout(() => r(undefined), DEFAULTS.probeSeconds * 1000);
  });
  const status = await Promise.race([child.status, late]);
  clearTimeout(timer);
  return status;
}

/**
 * Runs the probe under `side`'s QEMU: its output, REFUSED when the QEMU
 * ended it otherwise, undefined when it did not end in time (not cached).
 */
async function runProbe(side: QemuCpu, probe: string): Promise<string | undefined> {
  await using child = new OwnedChild(
    side.qemu,
    [...(side.cpu !== undefined ? ["-cpu", side.cpu] : []), probe],
    { clearEnv: true, env: { PATH: "/usr/bin:/bin" } },
  );
  const status = await endsInTime(child);
  if (status === undefined) return undefined;
  const out = await child.stdout();
  return status.code === 0 && parseWorld(out) ? out : REFUSED;
}

/** Where the cache is, opened (made, checked) once per directory in a process. */
const opened = new Map<string, Promise<string>>();

/**
 * The world `side`'s QEMU gives a guest, from the cache or by running the
 * probe (then cached); undefined when the probe does not run under it (a
 * -cpu it does not know, a QEMU that fails).
 */
export async function probeWorld(
  side: QemuCpu,
  req: WorldProbeRequest,
): Promise<World | undefined> {
  const dirName = req.cacheDir ?? defaultCacheDir().path;
  let dir = opened.get(dirName);
  if (!dir) {
    dir = openCacheDir(dirName);
    opened.set(dirName, dir);
    dir.catch(() => opened.delete(dirName));
  }
  const cacheDir = await dir;
  const [qemuHash, probeHash] = await Promise.all([fileHash(side.qemu), fileHash(req.probe)]);
  const keyBytes = new TextEncoder().encode(
    [qemuHash, probeHash, side.cpu ?? ""].join("\0"),
  );
  const key = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", keyBytes)).subarray(0, 12),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const path = join(cacheDir, `${PREFIX}${key}.txt`);
  const uid = Deno.uid() ?? 0;
  const cached = await readCached(path, uid);
  if (cached) return cached === "refused" ? undefined : cached;
  const out = await runProbe(side, req.probe);
  if (out === undefined) return undefined;
  // Written in a private directory of this process's own, then renamed
  // over the name: whatever was there (a link, someone's file) is
  // replaced, never written through; what a process killed outright left
  // is swept by a later one (owned_temp_dir.ts).
  await sweepOnce(cacheDir, [WRITE_PREFIX]);
  try {
    await using work = await makeOwnedTempDir({ parent: cacheDir, prefix: WRITE_PREFIX });
    const tmp = join(work.path, "world.txt");
    await Deno.writeTextFile(tmp, out, { createNew: true, mode: 0o600 });
    await Deno.rename(tmp, path);
  } catch {
    // Not cached: the next run probes again.
  }
  return out === REFUSED ? undefined : parseWorld(out);
}

/** The -cpu models a QEMU lists (`-cpu help`), but `host` (KVM's) and versioned names. */
export async function cpuModels(qemu: string): Promise<string[]> {
  await using child = new OwnedChild(qemu, ["-cpu", "help"], {
    clearEnv: true,
    env: { PATH: "/usr/bin:/bin" },
  });
  if ((await endsInTime(child)) === undefined) return [];
  const models: string[] = [];
  // The list under "Available CPUs:", up to the first blank line (x86
  // then lists its CPUID flags).
  const lines = (await child.stdout()).split("\n");
  const start = lines.findIndex((l) => l.trim() === "Available CPUs:");
  for (const line of start < 0 ? [] : lines.slice(start + 1)) {
    if (line.trim() === "") break;
    const name = /^\s*(?:x86\s+)?([A-Za-z0-9][\w.+-]*)(?:\s|$)/.exec(line)?.[1];
    if (!name || name === "host" || /-v\d+$/.test(name) || models.includes(name)) continue;
    models.push(name);
  }
  return models;
}

/** The -cpu a side runs with: its last -cpu argument, else QEMU_CPU. */
export function cpuOf(args: readonly string[], env: Record<string, string>): string | undefined {
  const at = args.lastIndexOf("-cpu");
  return at >= 0 && at + 1 < args.length ? args[at + 1] : env.QEMU_CPU;
}

/** Runs `f` over `items`, two at a time (the machine's cores are shared). */
async function twoAtATime<T, R>(items: readonly T[], f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  };
  await Promise.all([worker(), worker()]);
  return out;
}

/**
 * How the two sides' worlds differ, or undefined when they are equal or
 * cannot be learnt (the probe does not run under a side). When they
 * differ, every -cpu model both QEMUs list is probed on both: the
 * suggestion is one under which the whole world is equal, else one under
 * which the CPUs answer the same (the entries left are `remaining`); the
 * one whose CPU reports the most features among equals. Two sides that run
 * one QEMU binary (the same bytes) with two -cpu get one of those two.
 */
export async function compareWorlds(
  a: QemuCpu,
  b: QemuCpu,
  req: WorldProbeRequest,
): Promise<WorldDifference | undefined> {
  const [wa, wb] = await Promise.all([probeWorld(a, req), probeWorld(b, req)]);
  if (!wa || !wb) return undefined;
  const entries = worldEntries(wa, wb);
  if (entries.length === 0) return undefined;
  // One QEMU with two -cpu: either side's choice makes the worlds equal.
  const one = (await fileHash(a.qemu)) === (await fileHash(b.qemu));
  const [ma, mb] = one
    ? [[a.cpu, b.cpu].filter((c) => c !== undefined), []]
    : await Promise.all([cpuModels(a.qemu), cpuModels(b.qemu)]);
  const common = one ? ma : ma.filter((m) => mb.includes(m));
  const tried = await twoAtATime(common, async (cpu) => {
    const [x, y] = await Promise.all([
      probeWorld({ qemu: a.qemu, cpu }, req),
      probeWorld({ qemu: b.qemu, cpu }, req),
    ]);
    return x && y ? { cpu, left: worldEntries(x, y), bits: cpuBits(x) } : undefined;
  });
  let best: { cpu: string; left: WorldEntry[]; bits: number } | undefined;
  for (const t of tried) {
    if (!t || t.left.some((e) => e.what !== "auxv")) continue;
    if (
      !best || t.left.length < best.left.length ||
      (t.left.length === best.left.length && t.bits > best.bits)
    ) {
      best = t;
    }
  }
  return {
    cpu: { a: a.cpu ?? null, b: b.cpu ?? null },
    entries,
    suggestion: best?.cpu ?? null,
    remaining: best?.left ?? entries.filter((e) => e.what === "auxv"),
    tried: common.length,
  };
}

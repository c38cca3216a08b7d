/**
 * Building the plugins with the system C compiler, once per set of sources
 * and headers, compiler and API version, into a cache directory (whose
 * trust rules are plugin_cache.ts's).
 */
import { fromOsError, QemuSetupError, SetupError } from "../core/errors.ts";
import { defaultCacheDir, openCacheDir, untrustedPlugin } from "./plugin_cache.ts";
import { basename, dirname, join, resolve } from "../../deps/path.ts";
import { makeOwnedTempDir, type OwnedTempDir, sweepOnce } from "../core/owned_temp_dir.ts";

const PLUGIN_SRC = new URL("../../plugin-src/", import.meta.url);

/** Name prefix of a build's private directory in the cache. */
const BUILD_PREFIX = ".build-";

/** The plugins plugin-src/ holds, each the list of its C units there (the fuzz test builds them too). */
export const PLUGIN_UNITS = {
  lockstep: [
    "lockstep.c",
    "exec.c",
    "events.c",
    "env.c",
    "counters.c",
    "regs.c",
    "locate.c",
    "sync.c",
    "peer.c",
    "report.c",
    "args.c",
    "fast.c",
    "record.c",
    "process.c",
    "reexec.c",
    "guest_mem.c",
    "syscalls.c",
    "death.c",
    "vcpus.c",
    "threads.c",
  ],
  count: ["count.c"],
  /** Not a plugin: preloaded into linux-user QEMUs (see plugin-src/env_shim.c). */
  env_shim: ["env_shim.c"],
  /** Not a plugin: a program every QEMU runs under, owning its process tree (plugin-src/reaper.c). */
  reaper: ["reaper.c"],
} as const;

/** What plugin-src/ builds that is a program, not a shared object. */
const PROGRAMS: ReadonlySet<PluginName> = new Set(["reaper"]);

/** A plugin that plugin-src/ builds. */
export type PluginName = keyof typeof PLUGIN_UNITS;

/** Where a plugin header comes from. */
export interface HeaderChoice {
  /** Directory to add with -I, or undefined for the project's own (or a given file not named qemu-plugin.h). */
  readonly includeDir?: string;
  /** The header file itself (for the cache key and messages); any name when given. */
  readonly file: string;
  /** "given", "qemu-tree" or "own". */
  readonly origin: "given" | "qemu-tree" | "own";
}

/** What to build. */
export interface PluginBuildRequest {
  /** The plugin: "lockstep" or "count" (also accepted as "lockstep.c", "count.c"). */
  readonly source: PluginName | `${PluginName}.c`;
  /** QEMU_PLUGIN_VERSION to build for. */
  readonly api: number;
  /** The QEMU binary that will load it (to look for a header next to it). */
  readonly qemuPath: string;
  /** --plugin-header, if the user gave one (file or directory). */
  readonly header?: string | undefined;
  /** Cache directory; default: see defaultCacheDir() in plugin_cache.ts. */
  readonly cacheDir?: string | undefined;
  /** C compiler; default $CC or "cc". */
  readonly cc?: string | undefined;
}

/** A built plugin. */
export interface BuiltPlugin {
  readonly path: string;
  readonly header: HeaderChoice;
  /** False when it came from the cache. */
  readonly built: boolean;
  /** Why a cached file was not used but rebuilt (someone else's, damaged…). */
  readonly replaced?: string;
  /** Where the cache is, when the user would not look there (see defaultCacheDir()). */
  readonly note?: string;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Picks the header: --plugin-header, else a QEMU build or install tree next
 * to the binary, else the project's own declarations.
 */
export function chooseHeader(qemuPath: string, given?: string): HeaderChoice {
  if (given) {
    const path = resolve(given);
    let file = path;
    try {
      if (Deno.statSync(path).isDirectory) file = join(path, "qemu-plugin.h");
    } catch {
      // reported below
    }
    if (!exists(file)) {
      throw new SetupError(
        `Plugin header not found: ${file}`,
        "pass --plugin-header QEMU's plugin header (a file of any name) or the directory " +
          "holding qemu-plugin.h",
      );
    }
    // The sources include <qemu-plugin.h>: a file of another name is
    // reached through a link of that name (see build()).
    return basename(file) === "qemu-plugin.h"
      ? { includeDir: dirname(file), file, origin: "given" }
      : { file, origin: "given" };
  }
  const bin = dirname(resolve(qemuPath));
  for (
    const candidate of [
      join(bin, "..", "include", "qemu-plugin.h"), // install tree: PREFIX/include
      join(bin, "..", "include", "qemu", "qemu-plugin.h"), // build dir inside the source
      join(bin, "include", "qemu", "qemu-plugin.h"),
      join(bin, "..", "..", "include", "qemu", "qemu-plugin.h"),
      join(bin, "..", "include", "plugins", "qemu-plugin.h"), // 11.0 layout
    ]
  ) {
    if (exists(candidate)) {
      return { includeDir: dirname(candidate), file: resolve(candidate), origin: "qemu-tree" };
    }
  }
  return { file: new URL("plugin_api.h", PLUGIN_SRC).pathname, origin: "own" };
}

/**
 * The C sources and headers in plugin-src/, sorted. Every .c file must be
 * a unit of exactly one plugin: a unit left out of its list would leave
 * the plugin's references to it unresolved until QEMU loads it.
 */
async function pluginSources(): Promise<string[]> {
  const files = [];
  for await (const e of Deno.readDir(PLUGIN_SRC)) {
    if (e.isFile && /\.[ch]$/.test(e.name)) files.push(e.name);
  }
  files.sort();
  const listed: string[] = Object.values(PLUGIN_UNITS).flat();
  const stray = files.filter((f) => f.endsWith(".c") && listed.filter((u) => u === f).length !== 1);
  if (stray.length > 0) {
    throw new Error(`Plugin sources not in exactly one plugin's unit list: ${stray.join(", ")}`);
  }
  return files;
}

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const o = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" })
      .output();
    const dec = new TextDecoder();
    return { ok: o.success, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { ok: false, out: "" };
    throw fromOsError(`Cannot run ${cmd}`, e);
  }
}

async function sha256(parts: (string | Uint8Array)[]): Promise<string> {
  const enc = new TextEncoder();
  const chunks = parts.map((p) => typeof p === "string" ? enc.encode(p + "\0") : p);
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest.subarray(0, 12), (b) => b.toString(16).padStart(2, "0")).join("");
}

const built = new Map<string, Promise<BuiltPlugin>>();

/**
 * Builds (or finds in the cache) the plugin described by `req`. Within one
 * process the answer is remembered: sources do not change under a run.
 */
export function buildPlugin(req: PluginBuildRequest): Promise<BuiltPlugin> {
  const key = JSON.stringify([req, Deno.env.get("CC") ?? null]);
  let p = built.get(key);
  if (!p) {
    p = build(req);
    built.set(key, p);
    p.catch(() => built.delete(key));
  }
  return p;
}

async function build(req: PluginBuildRequest): Promise<BuiltPlugin> {
  const env = Deno.env.toObject();
  const cc = req.cc ?? env.CC ?? "cc";
  const name = req.source.replace(/\.c$/, "") as PluginName;
  const program = PROGRAMS.has(name);
  // A program includes no plugin header: one build serves every QEMU.
  const header: HeaderChoice = program
    ? { file: new URL("plugin_api.h", PLUGIN_SRC).pathname, origin: "own" }
    : chooseHeader(req.qemuPath, req.header);
  const ccVersion = await run(cc, ["--version"]);
  if (!ccVersion.ok) {
    throw new SetupError(
      `No C compiler found: ${cc}`,
      "install gcc (apt-get install gcc) or set CC to a C compiler",
    );
  }
  const glib = await run("pkg-config", ["--cflags", "--libs", "glib-2.0"]);
  if (!glib.ok) {
    throw new SetupError(
      "glib development files not found (pkg-config glib-2.0 failed)",
      "install them: apt-get install libglib2.0-dev pkg-config",
    );
  }
  const sources = await pluginSources();
  const units = PLUGIN_UNITS[name].map((u) => new URL(u, PLUGIN_SRC).pathname);
  // The header's directory goes in with -I; the key names the header
  // itself, so a link made for a given file of another name keeps it.
  const flags = (includeDir: string | undefined) => [
    "-O2",
    "-g",
    ...(program ? [] : ["-shared", "-fPIC"]),
    "-fvisibility=hidden",
    "-Wall",
    "-Werror=implicit-function-declaration",
    `-DQEMU_PLUGIN_VERSION=${req.api}`,
    ...(header.origin === "own" ? [] : ["-DLOCKSTEP_REAL_HEADER", `-I${includeDir}`]),
    ...glib.out.trim().split(/\s+/).filter((f) => f.startsWith("-I")),
  ];
  // The shim is preloaded into every program of a side's command line, and
  // the reaper is that line's first program: no glib.
  const libs = name === "env_shim" || program
    ? []
    : glib.out.trim().split(/\s+/).filter((f) => f.startsWith("-l") || f.startsWith("-L"));
  // Every source and header in plugin-src/, by name: any edit rebuilds.
  // One file open at a time: a low limit on open files (ulimit -n) must
  // meet the sentence that names it, not this read (reliability_test.ts).
  const contents: (string | Uint8Array)[] = [];
  for (const f of sources) contents.push(f, await Deno.readFile(new URL(f, PLUGIN_SRC)));
  const key = await sha256([
    name,
    ...contents,
    header.origin === "own" ? "" : await Deno.readFile(header.file),
    ccVersion.out,
    cc,
    flags(header.origin === "own" ? undefined : header.file).join(" "),
    libs.join(" "),
  ]);
  const choice = req.cacheDir ? { path: req.cacheDir } : defaultCacheDir(env);
  const note = choice.note ? { note: choice.note } : {};
  const cacheDir = await openCacheDir(choice.path);
  // What builds killed outright left, whether or not this one builds.
  await sweepOnce(cacheDir, [BUILD_PREFIX]);
  const out = join(cacheDir, `${name}-v${req.api}-${key}${program ? "" : ".so"}`);
  const untrusted = await untrustedPlugin(out);
  if (!untrusted) return { path: out, header, built: false, ...note };

  // Build in a private directory, then rename: concurrent runs never see
  // half a file, and a file someone else left under the name is replaced
  // whole. The directory is locked as this process's while it lives, so a
  // build killed outright is swept by a later run (see above).
  let work: OwnedTempDir;
  try {
    work = await makeOwnedTempDir({ parent: cacheDir, prefix: BUILD_PREFIX });
  } catch (e) {
    throw cacheWriteError(cacheDir, (e as Error).message, e);
  }
  const tmp = join(work.path, basename(out));
  try {
    // A given header of another name is reached through a link named qemu-plugin.h.
    const linkDir = header.origin !== "own" && !header.includeDir
      ? join(work.path, "include")
      : undefined;
    if (linkDir) {
      await Deno.mkdir(linkDir);
      await Deno.symlink(header.file, join(linkDir, "qemu-plugin.h"));
    }
    const res = await run(cc, [
      ...flags(linkDir ?? header.includeDir),
      "-o",
      tmp,
      ...units,
      ...libs,
      "-lpthread",
    ]);
    if (!res.ok) {
      const full = /^.*(No space left on device|Disk quota exceeded).*$/m.exec(res.out);
      if (full) throw cacheWriteError(cacheDir, full[0].trim());
      const denied = /^.*(Permission denied|Read-only file system).*$/m.exec(res.out);
      if (denied && res.out.includes(tmp)) throw cacheWriteError(cacheDir, denied[0].trim());
      const what = header.origin === "own"
        ? "the plugin did not compile"
        : `the plugin did not compile against ${header.file}`;
      throw new QemuSetupError(
        `Building the plugin failed: ${what}:\n${res.out.trim()}`,
        header.origin === "given"
          ? "check --plugin-header: it must be QEMU's qemu-plugin.h for this QEMU"
          : "check that gcc and libglib2.0-dev are installed",
      );
    }
    await Deno.chmod(tmp, 0o755);
    await Deno.rename(tmp, out);
  } finally {
    await work[Symbol.asyncDispose]();
  }
  return {
    path: out,
    header,
    built: true,
    ...(untrusted !== "missing" ? { replaced: untrusted } : {}),
    ...note,
  };
}

/** The cache directory cannot take the plugin: a full disk, or no right to write. */
function cacheWriteError(cacheDir: string, why: string, cause?: unknown): SetupError {
  const full = /No space left on device|Disk quota exceeded|os error (28|122)\b/.test(why);
  return new SetupError(
    full
      ? `Building the plugin failed: no space left for it in ${cacheDir} (${why})`
      : `Cannot write the plugin to its cache directory ${cacheDir}: ${why}`,
    full
      ? "free some space on that disk (or in TMPDIR, where the compiler keeps its temporary " +
        "files), or pass --cache-dir a directory on another disk"
      : "pass --cache-dir a directory you can write to",
    { cause },
  );
}

/**
 * Temporary directories a run owns, and the sweep that removes those of
 * runs that died. A run killed outright (kill -9) has no chance to clean
 * up, so the next run does it, removing only what is provably ours and
 * dead: a directory of a known name prefix, not a link, this user's and
 * private (0700), holding an `owner.lock` that its maker keeps locked
 * (flock) for as long as it lives. The kernel drops that lock with the
 * last descriptor, however the process ends: a lock the sweep can take
 * has no owner, with no pid to be reused and no other pid namespace to
 * misread. A directory without the lock file (kept on purpose, or of an
 * older version) is never removed, and nothing is removed from a
 * directory that others may write to without the sticky bit (they could
 * swap names under the sweep).
 */
import { join } from "../../deps/path.ts";

/** The lock file in an owned directory, locked while its maker lives. */
export const LOCK_FILE = "owner.lock";

/** What runs keep in TMPDIR, by name prefix; the next run sweeps all of them. */
export const TMPDIR_KINDS = {
  /** A run's sockets, logs and placed guests (harness/run/side_pair.ts). */
  run: "qemu-lockstep-run-",
  /** The ELF container objdump reads (harness/guest/disasm.ts). */
  disas: "qemu-lockstep-disas-",
} as const;

/** A private directory, removed (unless kept) when disposed. */
export interface OwnedTempDir extends AsyncDisposable {
  readonly path: string;
}

/** Where to make an owned directory, and whether it outlives its run. */
export interface OwnedTempDirOptions {
  readonly parent: string;
  readonly prefix: string;
  /** Left in place when disposed, made without a lock so no sweep takes it (--keep-temp). */
  readonly keep?: boolean | undefined;
}

/** TMPDIR, as Deno.makeTempDir reads it. */
export function tmpdir(): string {
  return Deno.env.get("TMPDIR") || "/tmp";
}

const mode = (st: Deno.FileInfo) => (st.mode ?? 0) & 0o7777;
const same = (a: Deno.FileInfo, b: Deno.FileInfo) => a.dev === b.dev && a.ino === b.ino;

/** Makes a private directory `prefix`+random in `parent`, locked as its owner's (see the module comment). */
export async function makeOwnedTempDir(opts: OwnedTempDirOptions): Promise<OwnedTempDir> {
  const path = await Deno.makeTempDir({ dir: opts.parent, prefix: opts.prefix });
  let lock: Deno.FsFile | undefined;
  try {
    // Exactly 0700, whatever the umask: the sweep takes nothing else.
    await Deno.chmod(path, 0o700);
    if (opts.keep) return { path, [Symbol.asyncDispose]: () => Promise.resolve() };
    // Locked before it has its name: no sweep ever sees it unlocked.
    const fresh = join(path, `${LOCK_FILE}.new`);
    lock = await Deno.open(fresh, { createNew: true, write: true, mode: 0o600 });
    if (!(await lock.tryLock(true))) throw new Error(`Cannot lock ${fresh}`);
    await Deno.rename(fresh, join(path, LOCK_FILE));
  } catch (e) {
    lock?.close();
    await Deno.remove(path, { recursive: true }).catch(() => {});
    throw e;
  }
  const held = lock;
  let disposed = false;
  return {
    path,
    async [Symbol.asyncDispose]() {
      if (disposed) return;
      disposed = true;
      // Removed while still locked: a sweep meanwhile leaves it alone.
      await Deno.remove(path, { recursive: true }).catch(() => {});
      held.close();
    },
  };
}

/** Removes `path` if it is an owned directory whose owner is gone; says whether it did. */
async function removeIfDead(path: string, uid: number): Promise<boolean> {
  const dir = await Deno.lstat(path).catch(() => undefined);
  if (!dir?.isDirectory || dir.uid !== uid || mode(dir) !== 0o700) return false;
  const lockPath = join(path, LOCK_FILE);
  const seen = await Deno.lstat(lockPath).catch(() => undefined);
  if (!seen?.isFile || seen.uid !== uid) return false;
  let lock: Deno.FsFile;
  try {
    lock = await Deno.open(lockPath, { read: true });
  } catch {
    return false;
  }
  try {
    if (!same(await lock.stat(), seen)) return false;
    // Held: its owner lives.
    if (!(await lock.tryLock(true))) return false;
    // Free, and still the file at that name (not one another sweep has
    // just removed, its name taken since by a new run's).
    const now = await Deno.lstat(lockPath).catch(() => undefined);
    if (!now || !same(now, seen)) return false;
    await Deno.remove(path, { recursive: true });
    return true;
  } catch {
    return false;
  } finally {
    lock.close();
  }
}

/**
 * Removes the owned directories in `parent` named with one of `prefixes`
 * whose owner is gone (see the module comment); returns their paths.
 * Never throws: a sweep that cannot look leaves things as they are.
 */
export async function sweepDeadTempDirs(
  parent: string,
  prefixes: readonly string[],
  uid: number | null = Deno.uid(),
): Promise<string[]> {
  const removed: string[] = [];
  if (uid === null) return removed;
  try {
    const real = await Deno.realPath(parent);
    const st = await Deno.lstat(real);
    if (!st.isDirectory || (mode(st) & 0o022 && !(mode(st) & 0o1000))) return removed;
    for await (const e of Deno.readDir(real)) {
      if (!e.isDirectory || !prefixes.some((p) => e.name.startsWith(p))) continue;
      const path = join(real, e.name);
      if (await removeIfDead(path, uid)) removed.push(path);
    }
  } catch {
    // The parent vanished or cannot be read: nothing to sweep.
  }
  return removed;
}

const sweeps = new Map<string, Promise<string[]>>();

/** sweepDeadTempDirs, once a process for each `parent` and `prefixes`. */
export function sweepOnce(parent: string, prefixes: readonly string[]): Promise<string[]> {
  const key = JSON.stringify([parent, prefixes]);
  let p = sweeps.get(key);
  if (!p) sweeps.set(key, p = sweepDeadTempDirs(parent, prefixes));
  return p;
}

/**
 * Makes an owned directory of `kind` in TMPDIR, once this process swept
 * TMPDIR of every kind its dead runs left.
 */
export async function makeTmpdirOwned(
  kind: keyof typeof TMPDIR_KINDS,
  opts: { readonly keep?: boolean | undefined } = {},
): Promise<OwnedTempDir> {
  const parent = tmpdir();
  await sweepOnce(parent, Object.values(TMPDIR_KINDS));
  return await makeOwnedTempDir({ parent, prefix: TMPDIR_KINDS[kind], keep: opts.keep });
}

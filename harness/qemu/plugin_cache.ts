/**
 * The plugin cache: where built plugins are kept, and whether what is
 * there may be loaded. A plugin runs inside QEMU with the user's rights,
 * so a cached one is loaded only if nobody else could have put it there:
 * the file is this user's, not writable by others and a whole ELF shared
 * object, and so is the directory; the directories above it are this
 * user's or root's, and writable by others only if sticky (then nobody
 * else can replace what is in them). A file that fails is rebuilt; a
 * directory that fails is refused.
 */
import { SetupError } from "../core/errors.ts";
import { fileSource, parseElf } from "../guest/elf.ts";
import { dirname, join, resolve } from "../../deps/path.ts";

/** Where the cache is, and a word for the user when it is not where they would look. */
export interface CacheDir {
  readonly path: string;
  /** Why the cache is where it is, when that needs saying (no HOME). */
  readonly note?: string;
}

const ET_DYN = 3;

/**
 * The default cache: $XDG_CACHE_HOME/qemu-lockstep, else
 * ~/.cache/qemu-lockstep. With neither variable set, a directory of this
 * user's own in TMPDIR (qemu-lockstep-UID, made 0700), never a shared one
 * such as /tmp/.cache, whose file names anyone could guess and fill.
 */
export function defaultCacheDir(
  env: Record<string, string | undefined> = Deno.env.toObject(),
  uid: number = Deno.uid() ?? 0,
): CacheDir {
  if (env.XDG_CACHE_HOME) return { path: join(env.XDG_CACHE_HOME, "qemu-lockstep") };
  if (env.HOME) return { path: join(env.HOME, ".cache", "qemu-lockstep") };
  const path = join(env.TMPDIR || "/tmp", `qemu-lockstep-${uid}`);
  return {
    path,
    note: `HOME and XDG_CACHE_HOME are unset: the plugin is cached in ${path}, a directory ` +
      `of this user's own (set HOME, or pass --cache-dir, to keep it elsewhere)`,
  };
}

const mode = (st: Deno.FileInfo) => (st.mode ?? 0) & 0o7777;
const octal = (m: number) => `0${m.toString(8)}`;

/** Why a directory cannot hold the cache, or undefined. */
async function untrustedDir(dir: string, uid: number): Promise<string | undefined> {
  const st = await Deno.stat(dir);
  if (!st.isDirectory) return `${dir} is not a directory`;
  if (st.uid !== uid) return `${dir} belongs to user ${st.uid}, not to this user (${uid})`;
  if (mode(st) & 0o022) {
    return `other users can write to ${dir} (mode ${octal(mode(st))})` +
      (mode(st) & 0o1000 ? ": it is a shared directory" : "");
  }
  // Above it, up to the root: whoever can write to one of these could
  // replace the directory below it (unless the sticky bit forbids that).
  for (let d = dirname(dir), below = dir; below !== d; below = d, d = dirname(d)) {
    const up = await Deno.stat(d);
    if (up.uid !== uid && up.uid !== 0) {
      return `${d}, above ${dir}, belongs to user ${up.uid}, who could replace what is in it`;
    }
    if (mode(up) & 0o022 && !(mode(up) & 0o1000)) {
      return `other users can write to ${d}, above ${dir} (mode ${
        octal(mode(up))
      }), and could replace what is in it`;
    }
  }
  return undefined;
}

/**
 * Makes the cache directory (0700, with its missing parents) and checks
 * that nobody else can write to it or to the directories above it, as
 * given and as its symbolic links resolve. Returns its real path; a
 * SetupError if it cannot be made or cannot be trusted.
 */
export async function openCacheDir(given: string, uid: number = Deno.uid() ?? 0): Promise<string> {
  const dir = resolve(given);
  const hint = "pass --cache-dir a directory of your own that only you can write to " +
    "(the default: $XDG_CACHE_HOME/qemu-lockstep or ~/.cache/qemu-lockstep)";
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new SetupError(
      `Cannot make the plugin cache directory ${dir}: ${(e as Error).message}`,
      hint,
      { cause: e },
    );
  }
  const real = await Deno.realPath(dir);
  for (const d of new Set([dir, real])) {
    const why = await untrustedDir(d, uid);
    if (why) {
      throw new SetupError(
        `Refusing the plugin cache directory ${dir}: ${why}, so a plugin there could be anyone's`,
        hint,
      );
    }
  }
  return real;
}

/**
 * Why the cached plugin at `path` may not be loaded (it is someone else's,
 * others can write to it, it is empty or not a whole ELF shared object),
 * or undefined. A missing file is "missing".
 */
export async function untrustedPlugin(
  path: string,
  uid: number = Deno.uid() ?? 0,
): Promise<string | undefined> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.lstat(path);
  } catch {
    return "missing";
  }
  if (st.isSymlink) return "it is a symbolic link";
  if (!st.isFile) return "it is not a file";
  if (st.uid !== uid) return `it belongs to user ${st.uid}`;
  if (mode(st) & 0o022) return `other users can write to it (mode ${octal(mode(st))})`;
  if (st.size === 0) return "it is empty";
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(path, { read: true });
    const elf = parseElf(fileSource(file, st.size));
    if (!elf) return "it is not an ELF file";
    if (elf.type !== ET_DYN) return "it is not a shared object";
    if (elf.problem) return `it is damaged: ${elf.problem}`;
  } catch (e) {
    return `it cannot be read: ${(e as Error).message}`;
  } finally {
    file?.close();
  }
  return undefined;
}

/**
 * The plugin cache: where built plugins are kept, and whether what is
 * there may be loaded. A plugin runs inside QEMU with the user's rights,
 * so a cached one is loaded only if nobody else could have put it there:
 * the file is this user's, not writable by others and a whole ELF shared
 * object, and so is the directory; the directories above it are this
 * user's or root's, and writable by others only if sticky (then nobody
 * else can replace what is in them). A symbolic link on the way is
 * followed only if this user or root made it. A file that fails is
 * rebuilt; a directory that fails is refused.
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

/** `path` and every directory above it, from the root down. */
function steps(path: string): string[] {
  const all = [path];
  for (let d = dirname(path); d !== all[0]; d = dirname(d)) all.unshift(d);
  return all;
}

/**
 * Why `step`, as lstat saw it, cannot be on the way to the cache `dir`
 * (the last step), or undefined. A link is followed only if this user or
 * root made it: anyone could plant one in a shared directory such as /tmp.
 * Above the cache, whoever can write to a directory could replace what is
 * in it (unless the sticky bit forbids that).
 */
async function untrustedStep(
  step: string,
  st: Deno.FileInfo,
  dir: string,
  uid: number,
): Promise<string | undefined> {
  const last = step === dir;
  if (st.isSymlink) {
    if (st.uid === uid || st.uid === 0) return undefined;
    const to = await Deno.readLink(step).catch(() => "?");
    return `${last ? "it" : `${step}, above it,`} is a symbolic link to ${to} that user ` +
      `${st.uid} made, and a link someone else made is never followed`;
  }
  if (last) {
    if (!st.isDirectory) return `${dir} is not a directory`;
    if (st.uid !== uid) {
      return `${dir} belongs to user ${st.uid}, not to this user (${uid}), so a plugin there ` +
        `could be anyone's`;
    }
    if (mode(st) & 0o022) {
      return `other users can write to ${dir} (mode ${octal(mode(st))})` +
        (mode(st) & 0o1000 ? ": it is a shared directory" : "") +
        ", so a plugin there could be anyone's";
    }
    return undefined;
  }
  // A file above the cache: making the next step says so.
  if (!st.isDirectory) return undefined;
  if (st.uid !== uid && st.uid !== 0) {
    return `${step}, above ${dir}, belongs to user ${st.uid}, who could replace what is in it`;
  }
  if (mode(st) & 0o022 && !(mode(st) & 0o1000)) {
    return `other users can write to ${step}, above ${dir} (mode ${
      octal(mode(st))
    }), and could replace what is in it`;
  }
  return undefined;
}

async function lstatIfThere(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/**
 * Makes the cache directory (0700, with its missing parents) and checks
 * that nobody else can write to it or to the directories above it, as
 * given and as its symbolic links resolve. The way is walked from the
 * root down with lstat, each missing directory made only once the one
 * above it passed: a link someone else planted (a guessable name in /tmp)
 * is refused, never followed, and a step that passed cannot be replaced
 * behind the check. Returns the real path; a SetupError if it cannot be
 * made or cannot be trusted.
 */
export async function openCacheDir(given: string, uid: number = Deno.uid() ?? 0): Promise<string> {
  const dir = resolve(given);
  const hint = "pass --cache-dir a directory of your own that only you can write to " +
    "(the default: $XDG_CACHE_HOME/qemu-lockstep or ~/.cache/qemu-lockstep)";
  const cannotMake = (e: unknown) =>
    new SetupError(
      `Cannot make the plugin cache directory ${dir}: ${(e as Error).message}`,
      hint,
      { cause: e },
    );
  const walk = async (path: string, make: boolean) => {
    for (const step of steps(path)) {
      let st;
      try {
        st = await lstatIfThere(step);
        if (!st && make) {
          await Deno.mkdir(step, { mode: 0o700 }).catch((e) => {
            if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
          });
          st = await Deno.lstat(step);
        }
      } catch (e) {
        throw cannotMake(e);
      }
      if (!st) throw cannotMake(new Deno.errors.NotFound(`${step} vanished`));
      const why = await untrustedStep(step, st, path, uid);
      if (why) {
        throw new SetupError(
          `Refusing the plugin cache directory ${dir}: ${why}`,
          st.isSymlink ? `remove the link (${step}) if you did not make it, or ${hint}` : hint,
        );
      }
    }
  };
  await walk(dir, true);
  // Through links of this user's or root's: where they lead must pass too.
  const real = await Deno.realPath(dir).catch((e) => {
    throw cannotMake(e);
  });
  if (real !== dir) await walk(real, false);
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

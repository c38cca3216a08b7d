/**
 * Writing a file the user named (a report, a page, JUnit XML, a trace):
 * whole or not at all, and never through something the user did not ask
 * to write to.
 *
 * A regular file, or a name not there yet, is written under a temporary
 * name beside it and renamed into place once complete: an error midway
 * (a full disk) leaves nothing, and the old file or a hard link to it is
 * never written into. A device or fifo (`/dev/null`, `/dev/stdout`, a
 * pipe) is written into, as the user asked, never replaced by a file; a
 * block device or a socket is refused. Symbolic links on the way are
 * followed only if they could not have been planted: in a directory that
 * others can write to, a link (or an existing output) must be this user's
 * or the directory owner's, the rule Linux applies with
 * fs.protected_symlinks. Every check uses lstat, and the file is created
 * with O_EXCL in the directory so checked, which no link can redirect.
 * A fifo is given FIFO_READER_SECONDS to have a reader, and an abort
 * ends that wait: an output is never a wait without end.
 */
import { SetupError } from "./errors.ts";
import { join, resolve } from "../../deps/path.ts";
import { closeSync, constants, openSync } from "node:fs";

/** An output that cannot be written; the message names it and its path, then why. */
export class OutputError extends SetupError {
  /** The output, as the user knows it (`--report`, `the trace`). */
  readonly what: string;
  /** Its path, as given. */
  readonly path: string;
  constructor(what: string, path: string, why: string, hint: string, options?: ErrorOptions) {
    super(`Cannot write ${what} ${path}: ${why}`, hint, options);
    this.name = "OutputError";
    this.what = what;
    this.path = path;
  }
}

/** Seconds a fifo has to find a reader before its output is refused. */
export const FIFO_READER_SECONDS = 30;

/** Who writes, and what may end a wait for a fifo's reader. */
export interface OutputOptions {
  /** The user whose output it is (default: this process's). */
  readonly uid?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Where an output goes, once its path has been followed and checked. */
interface Target {
  /** How it is written: a new file renamed into `dir`, or into what is there. */
  readonly how: "replace" | "through";
  /** The directory holding it: a real path, no symbolic link in it. */
  readonly dir: string;
  /** Its name in `dir`. */
  readonly name: string;
  /** What is there now (lstat), or undefined. */
  readonly entry: Deno.FileInfo | undefined;
  /** A descriptor of this process (/dev/stdout, /proc/self/fd/N): its path is a magic link. */
  readonly fd: boolean;
}

/** A temporary file and the place it is renamed to once complete. */
interface Rename {
  readonly from: string;
  readonly to: string;
}

/** Links followed in one path, as Linux allows (ELOOP past 40). */
const MAX_LINKS = 40;
/** A process's descriptor directory, once /proc/self is followed. */
const FD_DIR = /^\/proc\/\d+\/(task\/\d+\/)?fd$/;

const mode = (st: Deno.FileInfo) => (st.mode ?? 0) & 0o7777;

/**
 * Whether `entry`, in directory `dir`, could have been put there by
 * someone else to catch this user's output: the directory is writable by
 * others, and the entry is neither this user's nor the directory owner's.
 */
function planted(entry: Deno.FileInfo, dir: Deno.FileInfo, uid: number): boolean {
  return (mode(dir) & 0o022) !== 0 && entry.uid !== uid && entry.uid !== dir.uid;
}

/** Throws an OutputError for `what` at `path`. */
function refuse(what: string, path: string, why: string, hint: string): never {
  throw new OutputError(what, path, why, hint);
}

/** The OutputError for an operating-system error `e`, with the fix for the usual causes. */
function osFailure(what: string, path: string, e: unknown): OutputError {
  const why = (e as Error)?.message ?? String(e);
  const hint = /os error 28\b|No space left/.test(why)
    ? "free some space on that file system, or write the output elsewhere"
    : /os error 30\b|Read-only file system/.test(why)
    ? "write the output to a file system that is not read-only"
    : /os error (13|1)\b|Permission denied|Operation not permitted/.test(why)
    ? "check the permissions of the file and its directory, or write the output elsewhere"
    : "write the output elsewhere";
  return new OutputError(what, path, why, hint, { cause: e });
}

/** lstat, or undefined when nothing is there. */
async function lstatOrNothing(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/**
 * Follows `path` from the root one name at a time, as the kernel would,
 * refusing a planted link or output on the way. `makeDirs`: make the
 * missing directories (each in one already checked, so no link redirects
 * it).
 */
async function follow(
  path: string,
  what: string,
  uid: number,
  makeDirs = false,
): Promise<Target> {
  const names = resolve(path).split("/").filter((n) => n !== "" && n !== ".");
  let dir = "/";
  let dirInfo = await Deno.lstat(dir);
  let links = 0;
  for (;;) {
    const name = names.shift();
    if (name === undefined) {
      // The path named the root, or ended in a directory after "..".
      return { how: "replace", dir, name: "", entry: dirInfo, fd: false };
    }
    if (name === "..") {
      dir = resolve(dir, "..");
      dirInfo = await Deno.lstat(dir);
      continue;
    }
    const here = join(dir, name);
    const last = names.length === 0;
    let entry = await lstatOrNothing(here);
    if (!entry && makeDirs) {
      await Deno.mkdir(here).catch((e) => {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      });
      entry = await Deno.lstat(here);
    }
    if (entry && planted(entry, dirInfo, uid)) {
      refuse(
        what,
        path,
        `${here} ${
          entry.isSymlink ? "is a symbolic link that belongs" : "belongs"
        } to user ${entry.uid}, in ${dir}, a directory others can write to: it could have been put there to catch it`,
        "write the output to a directory only you can write to, or remove what is in its place",
      );
    }
    if (entry?.isSymlink && last && FD_DIR.test(dir)) {
      // One of this process's descriptors: only the kernel can follow it.
      return { how: "through", dir, name, entry, fd: true };
    }
    if (entry?.isSymlink) {
      if (++links > MAX_LINKS) {
        refuse(what, path, "too many levels of symbolic links", "check the path's links");
      }
      const to = await Deno.readLink(here);
      names.unshift(...to.split("/").filter((n) => n !== "" && n !== "."));
      if (to.startsWith("/")) {
        dir = "/";
        dirInfo = await Deno.lstat(dir);
      }
      continue;
    }
    if (last) return { how: "replace", dir, name, entry, fd: false };
    if (!entry) {
      refuse(
        what,
        path,
        `the directory ${here} does not exist`,
        "create it, or write the output to an existing directory",
      );
    }
    if (!entry.isDirectory) {
      refuse(what, path, `${here} is not a directory`, "check the path");
    }
    dir = here;
    dirInfo = entry;
  }
}

/** The target of the output `what` at `path`: followed, checked, and how to write it. */
async function targetOf(path: string, what: string, uid: number): Promise<Target> {
  let t: Target;
  try {
    t = await follow(path, what, uid);
  } catch (e) {
    if (e instanceof OutputError) throw e;
    throw osFailure(what, path, e);
  }
  const e = t.entry;
  if (t.fd || !e || e.isFile) return t;
  if (e.isDirectory || t.name === "") {
    refuse(what, path, "it is a directory", "give it a file name in that directory");
  }
  if (e.isFifo || e.isCharDevice) return { ...t, how: "through" };
  refuse(
    what,
    path,
    e.isBlockDevice ? "it is a block device" : e.isSocket ? "it is a socket" : "it is not a file",
    "give it a file, a fifo or a character device such as /dev/stdout",
  );
}

/** A name for a temporary file beside `name` that nothing else uses. */
function temporaryName(name: string): string {
  const tag = crypto.getRandomValues(new Uint8Array(6)).reduce(
    (s, b) => s + b.toString(16).padStart(2, "0"),
    "",
  );
  return `.${name}.${Deno.pid}.${tag}.tmp`;
}

/**
 * Waits until the fifo `at` has a reader (opening it for writing would
 * block until then): returns a descriptor open on it without blocking,
 * which keeps the reader from seeing its end until the real one is open.
 */
async function readerOf(
  at: string,
  what: string,
  path: string,
  signal: AbortSignal | undefined,
): Promise<number> {
  const until = performance.now() + FIFO_READER_SECONDS * 1000;
  for (;;) {
    try {
      return openSync(at, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (e) {
      if ((e as { code?: string }).code !== "ENXIO") throw osFailure(what, path, e);
    }
    if (signal?.aborted) {
      refuse(
        what,
        path,
        "the run was interrupted while the fifo had no reader",
        "start its reader",
      );
    }
    if (performance.now() >= until) {
      refuse(
        what,
        path,
        `it is a fifo nobody opened for reading within ${FIFO_READER_SECONDS} s`,
        "start its reader first (such as cat FILE)",
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Opens what a "through" target names for writing, without creating or
 * truncating it, and checks that it is still what was checked (nobody
 * put a link in its place meanwhile).
 */
async function openThrough(
  t: Target,
  what: string,
  path: string,
  signal?: AbortSignal | undefined,
): Promise<Deno.FsFile> {
  const at = join(t.dir, t.name);
  const probe = t.entry?.isFifo ? await readerOf(at, what, path, signal) : undefined;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(at, { write: true, append: true });
  } catch (e) {
    throw osFailure(what, path, e);
  } finally {
    if (probe !== undefined) closeSync(probe);
  }
  if (!t.fd) {
    const now = await file.stat().catch(() => undefined);
    if (now?.dev !== t.entry?.dev || now?.ino !== t.entry?.ino) {
      file.close();
      refuse(what, path, `${at} changed while it was being opened`, "try again");
    }
  }
  return file;
}

/**
 * Checks, before a run, that the output `what` at `path` can be written,
 * leaving nothing behind: its directory exists and takes a new file, or
 * it is a device or fifo that can be written into. Throws OutputError.
 */
export async function checkOutput(
  path: string,
  what: string,
  opts: OutputOptions = {},
): Promise<void> {
  const t = await targetOf(path, what, opts.uid ?? Deno.uid() ?? 0);
  if (t.how === "through") {
    // A fifo would wait for its reader here: the run's end opens it.
    if (!t.entry?.isFifo) (await openThrough(t, what, path)).close();
    return;
  }
  const probe = join(t.dir, temporaryName(t.name));
  try {
    (await Deno.open(probe, { write: true, createNew: true, mode: 0o600 })).close();
  } catch (e) {
    throw osFailure(what, path, e);
  }
  await Deno.remove(probe).catch(() => {});
}

/**
 * An output being written in parts (a trace as it is recorded): nothing
 * is in its place until commit(); disposing of it before then removes
 * what was written. Into a device or fifo, the parts go as they come.
 */
export class OutputFile implements AsyncDisposable {
  /** The path as given. */
  readonly path: string;
  /** The output, as the user knows it. */
  readonly what: string;
  readonly #file: Deno.FsFile;
  /** The temporary file and its final place; undefined when written through. */
  readonly #rename: Rename | undefined;
  #written = 0;
  #done = false;

  private constructor(
    path: string,
    what: string,
    file: Deno.FsFile,
    rename: Rename | undefined,
  ) {
    this.path = path;
    this.what = what;
    this.#file = file;
    this.#rename = rename;
  }

  /** Opens the output `what` at `path` (see the module comment); throws OutputError. */
  static async open(path: string, what: string, opts: OutputOptions = {}): Promise<OutputFile> {
    const t = await targetOf(path, what, opts.uid ?? Deno.uid() ?? 0);
    if (t.how === "through") {
      return new OutputFile(path, what, await openThrough(t, what, path, opts.signal), undefined);
    }
    const from = join(t.dir, temporaryName(t.name));
    // A file that is there keeps its permissions; a new one gets the usual.
    const perms = t.entry?.isFile ? mode(t.entry) & 0o777 : 0o666;
    try {
      const file = await Deno.open(from, { write: true, createNew: true, mode: perms });
      return new OutputFile(path, what, file, { from, to: join(t.dir, t.name) });
    } catch (e) {
      throw osFailure(what, path, e);
    }
  }

  /** Bytes written so far. */
  get written(): number {
    return this.#written;
  }

  /** Writes `bytes` whole, after what was written before. */
  async write(bytes: Uint8Array): Promise<void> {
    try {
      for (let o = 0; o < bytes.length;) o += await this.#file.write(bytes.subarray(o));
    } catch (e) {
      throw osFailure(this.what, this.path, e);
    }
    this.#written += bytes.length;
  }

  /** Puts the output in its place (a file only once it is on the disk). */
  async commit(): Promise<void> {
    if (this.#done) return;
    try {
      // A full disk may say so only now, and the file is renamed only whole.
      if (this.#rename) await this.#file.syncData();
    } catch (e) {
      throw osFailure(this.what, this.path, e);
    }
    this.#done = true;
    this.#file.close();
    if (!this.#rename) return;
    try {
      await Deno.rename(this.#rename.from, this.#rename.to);
    } catch (e) {
      await Deno.remove(this.#rename.from).catch(() => {});
      throw osFailure(this.what, this.path, e);
    }
  }

  /** Unless committed: closes, and removes the temporary file. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    try {
      this.#file.close();
    } catch {
      // already closed
    }
    if (this.#rename) await Deno.remove(this.#rename.from).catch(() => {});
  }
}

/** Writes the output `what` at `path` whole, or nothing at all; throws OutputError. */
export async function writeOutput(
  path: string,
  what: string,
  data: string | Uint8Array,
  opts: OutputOptions = {},
): Promise<void> {
  await using out = await OutputFile.open(path, what, opts);
  await out.write(typeof data === "string" ? new TextEncoder().encode(data) : data);
  await out.commit();
}

/**
 * Makes the directory `dir` for outputs (--html-dir), with its missing
 * parents, following links as outputs do, and checks that it takes a new
 * file. Returns its real path: outputs named in it go there even if a
 * link on the way changes later. Throws OutputError.
 */
export async function openOutputDir(
  dir: string,
  what: string,
  opts: OutputOptions = {},
): Promise<string> {
  let t: Target;
  try {
    t = await follow(dir, what, opts.uid ?? Deno.uid() ?? 0, true);
  } catch (e) {
    if (e instanceof OutputError) throw e;
    throw osFailure(what, dir, e);
  }
  if (!t.entry?.isDirectory || t.fd) {
    refuse(what, dir, "it is not a directory", "give it a directory, or a name not yet used");
  }
  const real = join(t.dir, t.name);
  const probe = join(real, temporaryName("probe"));
  try {
    (await Deno.open(probe, { write: true, createNew: true, mode: 0o600 })).close();
  } catch (e) {
    throw osFailure(what, dir, e);
  }
  await Deno.remove(probe).catch(() => {});
  return real;
}

/**
 * Reading a suite file: JSON of the form
 * {"cases": [{"name", "arch", "image", "args"?, "expect"?, "timeout"?,
 * "against"?, "note"?}]}, validated with errors that name the case and the
 * field. A note is for the file's readers (why the case is as it is).
 * `args` are this command line's own options; `against` a trace the case
 * compares one QEMU with (as --against); relative paths are relative to
 * the file.
 */
import { parseCommandLine, UsageError } from "./args.ts";
import { BOUNDS, checkBound, SetupError, type SuiteCase } from "../mod.ts";
import { dirname, isAbsolute, resolve } from "../deps/path.ts";

/** Options whose value is a path, resolved against the suite's directory. */
const PATH_OPTIONS = ["--image-b", "--plugin-header", "--cache-dir", "--report"];
/** Options whose value is a path only when it has a slash (else a command). */
const COMMAND_OPTIONS = ["--qemu", "--qemu-a", "--qemu-b"];

function resolveArgs(args: readonly string[], base: string): string[] {
  const out: string[] = [];
  const fix = (opt: string, value: string) =>
    (PATH_OPTIONS.includes(opt) || (COMMAND_OPTIONS.includes(opt) && value.includes("/"))) &&
      !isAbsolute(value)
      ? resolve(base, value)
      : value;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf("=");
    if (a === "--") {
      out.push(...args.slice(i));
      break;
    }
    if (eq > 0 && a.startsWith("--")) {
      out.push(`${a.slice(0, eq)}=${fix(a.slice(0, eq), a.slice(eq + 1))}`);
    } else if ([...PATH_OPTIONS, ...COMMAND_OPTIONS].includes(a) && i + 1 < args.length) {
      out.push(a, fix(a, args[++i]!));
    } else {
      out.push(a);
    }
  }
  return out;
}

/** Reads and validates the suite at `path`; throws SetupError naming the problem. */
export async function readSuite(path: string): Promise<SuiteCase[]> {
  let text;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new SetupError(
      `Cannot read suite file ${path}: ${(e as Error).message}`,
      "check the path",
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SetupError(`Suite file ${path} is not JSON: ${(e as Error).message}`, "fix the JSON");
  }
  const bad = (what: string) =>
    new SetupError(`Suite file ${path}: ${what}`, "see docs/suites.md for the format");
  if (
    typeof raw !== "object" || raw === null || !Array.isArray((raw as { cases?: unknown }).cases)
  ) {
    throw bad('expected an object with a "cases" array');
  }
  const cases = (raw as { cases: unknown[] }).cases;
  if (cases.length === 0) throw bad('"cases" is empty');
  const base = dirname(resolve(path));
  const names = new Set<string>();
  return cases.map((c, i) => {
    const label = (c as { name?: unknown })?.name;
    const where = `case ${i + 1}${typeof label === "string" && label ? ` ("${label}")` : ""}`;
    if (typeof c !== "object" || c === null || Array.isArray(c)) {
      throw bad(`${where} is not an object`);
    }
    const o = c as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      if (
        !["name", "arch", "image", "args", "expect", "timeout", "against", "note"].includes(key)
      ) {
        throw bad(`${where}: unknown field "${key}"`);
      }
    }
    for (const field of ["name", "arch", "image"]) {
      if (typeof o[field] !== "string" || o[field] === "") {
        throw bad(`${where}: field "${field}" must be a non-empty string`);
      }
    }
    const name = o.name as string;
    if (names.has(name)) throw bad(`${where}: the name "${name}" is used twice`);
    names.add(name);
    const args = o.args ?? [];
    if (!Array.isArray(args) || args.some((a) => typeof a !== "string")) {
      throw bad(`${where}: field "args" must be an array of strings`);
    }
    const expect = o.expect ?? "match";
    if (expect !== "match" && expect !== "diverged") {
      throw bad(
        `${where}: field "expect" must be "match" or "diverged", not ${JSON.stringify(expect)}`,
      );
    }
    if (o.timeout !== undefined) {
      try {
        checkBound("timeout", o.timeout, BOUNDS.timeoutSeconds);
      } catch (e) {
        throw bad(`${where}: field "timeout": ${(e as Error).message}`);
      }
    }
    if (o.note !== undefined && typeof o.note !== "string") {
      throw bad(`${where}: field "note" must be a string`);
    }
    if (o.against !== undefined && (typeof o.against !== "string" || o.against === "")) {
      throw bad(`${where}: field "against" must be the path of a trace`);
    }
    const image = resolve(base, o.image as string);
    const fixed = resolveArgs(args as string[], base);
    const dash = fixed.indexOf("--");
    const argv = dash < 0
      ? [...fixed, o.arch as string, image]
      : [...fixed.slice(0, dash), o.arch as string, image, ...fixed.slice(dash)];
    let cmd;
    try {
      cmd = parseCommandLine(argv);
    } catch (e) {
      if (e instanceof UsageError) throw bad(`${where}: field "args": ${e.message}`);
      throw e;
    }
    if (cmd.kind !== "run") throw bad(`${where}: field "args" asks for ${cmd.kind}, not a run`);
    if (cmd.against !== undefined) {
      throw bad(`${where}: field "args" has --against; use the field "against"`);
    }
    return {
      name,
      expect,
      options: cmd.options,
      timeoutSeconds: (o.timeout as number | undefined) ?? cmd.timeoutSeconds,
      cacheDir: cmd.cacheDir,
      keepTemp: cmd.keepTemp,
      report: cmd.output.report,
      ...(typeof o.against === "string" ? { against: resolve(base, o.against) } : {}),
    };
  });
}

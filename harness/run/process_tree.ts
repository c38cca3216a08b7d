/**
 * The guest's processes (linux-user), as each side's plugins report them.
 * A guest's fork forks its QEMU, plugin included: the child's plugin says
 * hello on a control connection of its own with its path in the tree ("1"
 * the guest, "1.2" the second child "1" forked), and every process says
 * which programs its guest executes (a host-arch one then runs natively,
 * outside QEMU). In a lockstep run each child pairs with the other
 * side's child of its path (plugin-src/process.c, child_pairs.ts);
 * elsewhere (narrowing, a trace) children are not compared. A program of
 * the guest's arch that a process executes runs under QEMU and the plugin
 * again (plugin API 4 on, plugin-src/reexec.c): the same process, a new
 * stream, its path with the exec's generation ("1.2@1"). The verdict lists
 * every process of both trees, paired by path, and says which were
 * compared and why the others were not.
 */
import type { PluginMessage, Role } from "../core/protocol.ts";
import type { ProcessView } from "../verdict/verdict.ts";

/** One process of one side's tree, as its plugin reported it. */
export interface ProcessRecord {
  /** Its path in the tree ("1", "1.2", …). */
  readonly path: string;
  /** Its QEMU's pid. */
  readonly pid: number;
  /** A forked child compared with the other side's of its path. */
  readonly paired: boolean;
  /** The programs its guest asked to execute, in order (the last is what it became). */
  readonly execs: { readonly path: string | null; readonly argv: readonly string[] | null }[];
  /** Instructions it ran, when its plugin reported its end. */
  insns?: number;
  /** Its control connection was read to its end. */
  closed: boolean;
}

/** Each side's processes, by path. */
export type ProcessTrees = Record<Role, Map<string, ProcessRecord>>;

/** Empty trees. */
export function processTrees(): ProcessTrees {
  return { a: new Map(), b: new Map() };
}

/** The path a hello names ("1" when it names none). */
export function helloPath(msg: Extract<PluginMessage, { t: "hello" }>): string {
  return msg.proc ?? "1";
}

/**
 * Folds one message of process `path` into its side's tree; returns a line
 * for --verbose when there is one to say.
 */
export function hearProcess(
  tree: Map<string, ProcessRecord>,
  path: string,
  msg: PluginMessage | { t: "closed" },
): string | undefined {
  if (msg.t === "hello") {
    const paired = path !== "1" && msg.paired === true;
    tree.set(path, { path, pid: msg.pid, paired, execs: [], closed: false });
    return path === "1"
      ? undefined
      : `process ${path} forked (pid ${msg.pid}): ${paired ? "compared" : "not compared"}`;
  }
  const p = tree.get(path);
  if (!p) return undefined;
  switch (msg.t) {
    case "exec":
      p.execs.push({ path: msg.path, argv: msg.argv });
      return `process ${path} executes ${msg.path ?? "a program"}`;
    case "end":
      p.insns = msg.insns;
      return path === "1" ? undefined : `process ${path} ended (${msg.insns} instructions)`;
    case "closed":
      p.closed = true;
      return undefined;
  }
  return undefined;
}

/**
 * Both trees as the verdict shows them, paired by path, in tree order;
 * `command` is the guest's own command line (process "1"'s program);
 * `children`: the run paired forked children (a lockstep run). Empty when
 * neither guest forked or executed a program.
 */
export function processViews(
  trees: ProcessTrees,
  command: readonly string[],
  children = false,
): ProcessView[] {
  const paths = [...new Set([...trees.a.keys(), ...trees.b.keys()])].sort(byTreeOrder);
  const busy = paths.length > 1 ||
    [...trees.a.values(), ...trees.b.values()].some((p) => p.execs.length > 0);
  if (!busy) return [];
  const again = (path: string) =>
    trees.a.has(nextGeneration(path)) || trees.b.has(nextGeneration(path));
  const commandOf = (path: string): readonly string[] | null => {
    // What it became, unless that runs under QEMU again as a process of its own.
    for (const r of ["a", "b"] as const) {
      const exec = trees[r].get(path)?.execs.at(-1);
      if (exec && !again(path)) return exec.argv ?? (exec.path !== null ? [exec.path] : null);
    }
    return startedAs(path);
  };
  const startedAs = (path: string): readonly string[] | null => {
    // A program executed under QEMU again: what the generation before it executed.
    const before = previousGeneration(path);
    if (before !== undefined) {
      const exec = trees.a.get(before)?.execs.at(-1) ?? trees.b.get(before)?.execs.at(-1);
      return exec?.argv ?? (exec?.path ? [exec.path] : startedAs(before));
    }
    const parent = path.includes(".") ? path.slice(0, path.lastIndexOf(".")) : undefined;
    return parent === undefined ? command : commandOf(parent);
  };
  return paths.map((path) => {
    const a = trees.a.get(path);
    const b = trees.b.get(path);
    const exec = a?.execs.at(-1) ?? b?.execs.at(-1);
    const ran = exec &&
      `it executed ${exec.path ?? "a program (plugin API 4 names it)"}, ${
        again(path)
          ? `which runs under QEMU again as ${nextGeneration(path)}`
          : "which runs natively, outside QEMU"
      }`;
    const compared = path === "1" || (a?.paired === true && b?.paired === true);
    const why = !a || !b
      ? `only side ${a ? "a" : "b"} made it`
      : compared
      ? ran ? `compared until ${ran}` : null
      : children
      ? `a forked child that the other side's child of its path did not pair with${
        ran ? `; ${ran}` : ""
      }`
      : `a forked child: only the guest's first process is compared here${ran ? `; ${ran}` : ""}`;
    return {
      path,
      command: commandOf(path),
      compared,
      why,
      pids: { a: a?.pid ?? null, b: b?.pid ?? null },
    };
  });
}

/** A path's numbers: "1.2@1.3" is 1, 2 (generation 1), 3. */
function pathNumbers(path: string): number[] {
  return path.split(".").flatMap((c) => {
    const [n, gen] = c.split("@");
    return [Number(n), Number(gen ?? 0)];
  });
}

/** "1.2" before "1.2@1" before "1.10", a parent before its children. */
function byTreeOrder(x: string, y: string): number {
  const a = pathNumbers(x);
  const b = pathNumbers(y);
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

/** The process a path's program was executed by: "1.2@2" by "1.2@1", "1.2@1" by "1.2". */
function previousGeneration(path: string): string | undefined {
  const m = /^(.*)@(\d+)$/.exec(path);
  if (!m) return undefined;
  return Number(m[2]) > 1 ? `${m[1]}@${Number(m[2]) - 1}` : m[1];
}

/** The path of what a process executes next, under QEMU again: "1.2" -> "1.2@1". */
export function nextGeneration(path: string): string {
  const m = /^(.*)@(\d+)$/.exec(path);
  return m ? `${m[1]}@${Number(m[2]) + 1}` : `${path}@1`;
}

/**
 * The processes the verdict's notCompared names: those not compared, and
 * those compared until they executed a program natively (undefined: none).
 */
export function processesNotCompared(views: readonly ProcessView[]): string | undefined {
  // Compared until an exec whose program runs under QEMU again: compared on.
  const goesOn = (v: ProcessView) => views.some((w) => w.path === nextGeneration(v.path));
  const left = views.filter((v) => !v.compared || (v.why !== null && !goesOn(v)));
  if (left.length === 0) return undefined;
  const named = left.slice(0, 8).map((v) =>
    `${v.path}${v.command ? ` (${v.command.join(" ").slice(0, 60)})` : ""}`
  );
  return `${named.join(", ")}${left.length > 8 ? ` and ${left.length - 8} more` : ""}: ` +
    "not compared, or only until they executed a program natively (processes says which)";
}

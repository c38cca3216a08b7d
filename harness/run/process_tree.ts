/**
 * The guest's processes (linux-user), as each side's plugins report them.
 * A guest's fork forks its QEMU, plugin included: the child's plugin says
 * hello on a control connection of its own with its path in the tree ("1"
 * the guest, "1.2" the second child "1" forked), and every process says
 * which programs its guest executes (a host-arch one then runs natively,
 * outside QEMU). Forked children are not compared (plugin-src/process.c):
 * the verdict lists every process of both trees, paired by path, and says
 * which were compared and why the others were not.
 */
import type { PluginMessage, Role } from "../core/protocol.ts";
import type { ProcessView } from "../verdict/verdict.ts";

/** One process of one side's tree, as its plugin reported it. */
export interface ProcessRecord {
  /** Its path in the tree ("1", "1.2", …). */
  readonly path: string;
  /** Its QEMU's pid. */
  readonly pid: number;
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
    tree.set(path, { path, pid: msg.pid, execs: [], closed: false });
    return path === "1" ? undefined : `process ${path} forked (pid ${msg.pid}): not compared`;
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
 * `command` is the guest's own command line (process "1"'s program).
 * Empty when neither guest forked or executed a program.
 */
export function processViews(trees: ProcessTrees, command: readonly string[]): ProcessView[] {
  const paths = [...new Set([...trees.a.keys(), ...trees.b.keys()])].sort(byTreeOrder);
  const busy = paths.length > 1 ||
    [...trees.a.values(), ...trees.b.values()].some((p) => p.execs.length > 0);
  if (!busy) return [];
  const commandOf = (path: string): readonly string[] | null => {
    for (const r of ["a", "b"] as const) {
      const exec = trees[r].get(path)?.execs.at(-1);
      if (exec) return exec.argv ?? (exec.path !== null ? [exec.path] : null);
    }
    const parent = path.includes(".") ? path.slice(0, path.lastIndexOf(".")) : undefined;
    return parent === undefined ? command : commandOf(parent);
  };
  return paths.map((path) => {
    const a = trees.a.get(path);
    const b = trees.b.get(path);
    const exec = a?.execs.at(-1) ?? b?.execs.at(-1);
    const ran = exec &&
      `it executed ${exec.path ?? "a program (plugin API 4 names it)"}, which runs natively, ` +
        "outside QEMU";
    const why = path === "1"
      ? ran ? `compared until ${ran}` : null
      : !a || !b
      ? `only side ${a ? "a" : "b"} made it`
      : `a forked child: only the guest's first process is compared${ran ? `; ${ran}` : ""}`;
    return {
      path,
      command: commandOf(path),
      compared: path === "1",
      why,
      pids: { a: a?.pid ?? null, b: b?.pid ?? null },
    };
  });
}

/** "1.2" before "1.10", a parent before its children. */
function byTreeOrder(x: string, y: string): number {
  const a = x.split(".").map(Number);
  const b = y.split(".").map(Number);
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

/** The processes the verdict's notCompared names (undefined: none). */
export function processesNotCompared(views: readonly ProcessView[]): string | undefined {
  const left = views.filter((v) => !v.compared);
  if (left.length === 0) return undefined;
  const named = left.slice(0, 8).map((v) =>
    `${v.path}${v.command ? ` (${v.command.join(" ").slice(0, 60)})` : ""}`
  );
  return `${named.join(", ")}${left.length > 8 ? ` and ${left.length - 8} more` : ""}: ` +
    "forked processes are not compared; only the guest's first process is (see processes)";
}

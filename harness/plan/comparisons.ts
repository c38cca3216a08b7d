/**
 * What a run compares: the comparisons asked for, split into what both
 * sides can report and what they cannot, with the reason.
 */
import { SetupError } from "../core/errors.ts";

/**
 * Whether two QEMUs place a linux-user guest at the same addresses: the
 * same version does (with MALLOC_ARENA_MAX=1, see planRun), two versions
 * need not. A rule, not a measurement: a version's placement is its
 * linux-user loader's and mmap code's, which change between releases.
 */
export function sameLayout(
  mode: "system" | "user",
  versions: readonly [string, string],
): boolean {
  return mode === "system" || versions[0] === versions[1];
}

/** Splits the requested comparisons into what this run does and what it cannot. */
export function comparisons(
  asked: readonly string[],
  mode: "system" | "user",
  apis: readonly [number, number],
  versions: readonly [string, string] = ["", ""],
): { compare: string[]; notCompared: { what: string; why: string }[] } {
  const same = sameLayout(mode, versions);
  const placed = `side a's QEMU ${versions[0]} and side b's ${
    versions[1]
  } place the guest's stack and mappings at different addresses`;
  const compare = ["pc"];
  const notCompared: { what: string; why: string }[] = [];
  const wanted = new Set(
    asked.flatMap((w) =>
      w === "all" ? ["regs", "mem", ...(mode === "user" ? ["syscalls"] : [])] : [w]
    ),
  );
  for (const what of ["regs", "mem", "syscalls"]) {
    if (!wanted.delete(what)) continue;
    if (what === "mem") compare.push("mem");
    else if (what === "syscalls" && mode === "user") compare.push("syscalls");
    else if (what === "syscalls") {
      notCompared.push({ what, why: "system calls are seen in linux-user mode only" });
    } else if (apis[0] >= 2 && apis[1] >= 2 && !same) {
      notCompared.push({ what, why: `the registers hold addresses, and ${placed}` });
    } else if (apis[0] >= 2 && apis[1] >= 2) {
      compare.push("regs");
    } else {
      const side = apis[0] < 2 ? "a" : "b";
      notCompared.push({
        what,
        why: `side ${side}'s QEMU has plugin API ${
          apis[side === "a" ? 0 : 1]
        }: reading registers needs API 2 (QEMU 9.0 or later)`,
      });
    }
  }
  wanted.delete("pc");
  for (const what of wanted) {
    throw new SetupError(`Unknown comparison: ${what}`, "use pc, regs, mem, syscalls or all");
  }
  if (!same && (compare.includes("mem") || compare.includes("syscalls"))) {
    notCompared.push({
      what: "addresses",
      why: `${placed}: memory accesses are compared by direction and size only, system calls ` +
        `by number and result (not an address), and what environment-reading ones wrote`,
    });
  }
  return { compare, notCompared };
}

import {
  hearProcess,
  nextGeneration,
  processesNotCompared,
  processTrees,
  processViews,
} from "../../harness/run/process_tree.ts";
import { ChildPairs } from "../../harness/run/child_pairs.ts";
import type { PairSide } from "../../harness/run/side_pair.ts";
import type { PluginMessage, Role } from "../../harness/core/protocol.ts";
import { deepEqual, equal, match } from "../../deps/assert.ts";

const hello = (proc: string, pid: number, paired = false, at = 0): PluginMessage => ({
  t: "hello",
  role: "a",
  target: "x86_64",
  api: 5,
  pid,
  memValues: true,
  proc,
  paired,
  at,
});
const COMMAND = ["bash", "-c", "seq 3 | wc -l"];

Deno.test("a guest that never forked nor executed a program has no processes to show", () => {
  const trees = processTrees();
  hearProcess(trees.a, "1", hello("1", 10));
  hearProcess(trees.b, "1", hello("1", 20));
  deepEqual(processViews(trees, COMMAND), []);
  equal(processesNotCompared([]), undefined);
});

Deno.test("both trees pair by path, in tree order; unpaired children are not compared", () => {
  const trees = processTrees();
  for (const [role, base] of [["a", 10], ["b", 20]] as const) {
    for (
      const [path, k] of [["1", 0], ["1.10", 3], ["1.2", 2], ["1.1", 1], ["1.1.1", 4]] as const
    ) {
      hearProcess(trees[role], path, hello(path, base + k));
    }
    hearProcess(trees[role], "1.2", { t: "exec", path: "/usr/bin/wc", argv: ["wc", "-l"] });
  }
  const views = processViews(trees, COMMAND);
  deepEqual(views.map((v) => v.path), ["1", "1.1", "1.1.1", "1.2", "1.10"]);
  deepEqual(views[0], {
    path: "1",
    command: COMMAND,
    compared: true,
    why: null,
    pids: { a: 10, b: 20 },
  });
  // A child runs its parent's program until it executes another.
  deepEqual(views[2]!.command, COMMAND);
  deepEqual(views[3]!.command, ["wc", "-l"]);
  equal(
    views[3]!.why,
    "a forked child: only the guest's first process is compared here; it executed " +
      "/usr/bin/wc, which runs natively, outside QEMU",
  );
  // In a lockstep run, a child the other side's did not pair with.
  match(processViews(trees, COMMAND, true)[1]!.why!, /did not pair with$/);
  deepEqual(views[3]!.pids, { a: 12, b: 22 });
  equal(views.filter((v) => v.compared).length, 1);
  equal(
    processesNotCompared(views),
    "1.1 (bash -c seq 3 | wc -l), 1.1.1 (bash -c seq 3 | wc -l), 1.2 (wc -l), 1.10 (bash -c seq " +
      "3 | wc -l): not compared, or only until they executed a program natively (processes " +
      "says which)",
  );
});

Deno.test("paired children are compared; a program executed under QEMU again is a generation", () => {
  const trees = processTrees();
  for (const role of ["a", "b"] as const) {
    hearProcess(trees[role], "1", hello("1", 1));
    hearProcess(trees[role], "1.1", hello("1.1", 2, true));
    hearProcess(trees[role], "1.1", { t: "exec", path: "/bin/cat", argv: ["cat", "-A"] });
    hearProcess(trees[role], "1.1@1", hello("1.1@1", 2, true));
    hearProcess(trees[role], "1.1@1.1", hello("1.1@1.1", 3, true));
  }
  const views = processViews(trees, COMMAND, true);
  deepEqual(views.map((v) => v.path), ["1", "1.1", "1.1@1", "1.1@1.1"]);
  deepEqual(views.map((v) => v.compared), [true, true, true, true]);
  equal(views[1]!.why, "compared until it executed /bin/cat, which runs under QEMU again as 1.1@1");
  deepEqual(views[2]!.command, ["cat", "-A"]);
  deepEqual(views[3]!.command, ["cat", "-A"]);
  // 1.1 is what it was forked as; cat is 1.1@1's, compared on: nothing left out.
  deepEqual(views[1]!.command, COMMAND);
  equal(processesNotCompared(views), undefined);
  equal(nextGeneration("1.2"), "1.2@1");
  equal(nextGeneration("1.2@1"), "1.2@2");
  equal(nextGeneration("1.2@1.3"), "1.2@1.3@1");
});

Deno.test("a process one side made, an exec the plugin could not read, an exec of the guest itself", () => {
  const trees = processTrees();
  hearProcess(trees.a, "1", hello("1", 10));
  hearProcess(trees.b, "1", hello("1", 20));
  hearProcess(trees.b, "1.1", hello("1.1", 21));
  hearProcess(trees.b, "1.1", { t: "exec", path: null, argv: null });
  hearProcess(trees.a, "1", { t: "exec", path: "/bin/true", argv: ["true"] });
  const [first, child] = processViews(trees, COMMAND);
  equal(first!.why, "compared until it executed /bin/true, which runs natively, outside QEMU");
  deepEqual(first!.command, ["true"]);
  equal(child!.why, "only side b made it");
  equal(child!.command, null);
  deepEqual(child!.pids, { a: null, b: 21 });
});

Deno.test("messages of a process not heard of are ignored; its end and its connection's close are kept", () => {
  const trees = processTrees();
  equal(hearProcess(trees.a, "1.3", { t: "closed" }), undefined);
  equal(trees.a.size, 0);
  equal(hearProcess(trees.a, "1.3", hello("1.3", 7)), "process 1.3 forked (pid 7): not compared");
  equal(
    hearProcess(trees.a, "1.3", { t: "end", insns: 5, blocks: 2, rss: 1, hash: "0x0", tail: 0 }),
    "process 1.3 ended (5 instructions)",
  );
  hearProcess(trees.a, "1.3", { t: "closed" });
  deepEqual(trees.a.get("1.3"), {
    path: "1.3",
    pid: 7,
    paired: false,
    execs: [],
    insns: 5,
    closed: true,
  });
});

/** A child's side as SidePair makes it: only what judging reads. */
function side(role: Role): PairSide {
  return { plan: { role }, closed: false } as unknown as PairSide;
}
const named = (path: string) => ({ path, command: ["x"] });
const counts = { insns: 100, blocks: 10, rss: 1 };

Deno.test("child pairs: one that ran alike decides nothing, one that parted names its process", () => {
  const pairs = new ChildPairs();
  const sides = { a: side("a"), b: side("b") };
  for (const role of ["a", "b"] as const) {
    pairs.hear(role, "1.1", hello("1.1", 1, true, 50), sides[role]);
    pairs.hear(role, "1.1", { t: "end", ...counts, hash: "0x1", tail: 0 }, sides[role]);
  }
  equal(pairs.outcome(8, named), undefined);
  equal(pairs.settled(), false);
  sides.a.closed = sides.b.closed = true;
  equal(pairs.settled(), true);
  // The fast pass: a child's streams part after its fork: named.
  pairs.hear("a", "1.2", hello("1.2", 2, true, 50), side("a"));
  pairs.hear("b", "1.2", hello("1.2", 3, true, 50), side("b"));
  pairs.hear("b", "1.2", { t: "apart", ...counts, good: 60, bad: 70 }, side("b"));
  const o = pairs.outcome(8, named)!;
  equal(o.status, "diverged");
  deepEqual(o.apart, { good: 60, bad: 70 });
  equal(o.message, "In process 1.2 (x): the streams part between instructions 60 and 70");
});

Deno.test("child pairs: a difference at or before the fork is its parent's; unpaired children are not judged", () => {
  const pairs = new ChildPairs();
  for (const role of ["a", "b"] as const) {
    pairs.hear(role, "1.1", hello("1.1", 1, true, 500), side(role));
    pairs.hear(role, "1.1.1", hello("1.1.1", 2, true, 900), side(role));
    pairs.hear(role, "1.2", hello("1.2", 3, false, 950), side(role));
  }
  deepEqual(pairs.compared(), ["1.1", "1.1.1"]);
  pairs.hear("a", "1.1.1", { t: "apart", ...counts, good: 0, bad: 400 }, side("a"));
  // Before 1.1's own fork at 500: the guest's first process, not named.
  equal(pairs.outcome(8, named)!.message, "The streams part between instructions 0 and 400");
});

Deno.test("child pairs: both at their limit alike are told to quit once", () => {
  const pairs = new ChildPairs();
  const sides = { a: side("a"), b: side("b") };
  for (const role of ["a", "b"] as const) {
    pairs.hear(role, "1.1", hello("1.1", 1, true), sides[role]);
    pairs.hear(role, "1.1", { t: "limit", ...counts, at: 100, atHash: "0x2" }, sides[role]);
  }
  deepEqual(pairs.takeLimits(), [sides.a, sides.b]);
  deepEqual(pairs.takeLimits(), []);
});

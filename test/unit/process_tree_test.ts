import {
  hearProcess,
  processesNotCompared,
  processTrees,
  processViews,
} from "../../harness/run/process_tree.ts";
import type { PluginMessage } from "../../harness/core/protocol.ts";
import { deepEqual, equal } from "../../deps/assert.ts";

const hello = (proc: string, pid: number): PluginMessage => ({
  t: "hello",
  role: "a",
  target: "x86_64",
  api: 5,
  pid,
  memValues: true,
  proc,
});
const COMMAND = ["bash", "-c", "seq 3 | wc -l"];

Deno.test("a guest that never forked nor executed a program has no processes to show", () => {
  const trees = processTrees();
  hearProcess(trees.a, "1", hello("1", 10));
  hearProcess(trees.b, "1", hello("1", 20));
  deepEqual(processViews(trees, COMMAND), []);
  equal(processesNotCompared([]), undefined);
});

Deno.test("both trees pair by path, in tree order, children not compared", () => {
  const trees = processTrees();
  for (const [role, base] of [["a", 10], ["b", 20]] as const) {
    for (
      const [path, k] of [["1", 0], ["1.10", 3], ["1.2", 2], ["1.1", 1], [
        "1.1.1",
        4,
      ]] as const
    ) {
      hearProcess(trees[role], path, hello(path, base + k));
    }
    hearProcess(trees[role], "1.2", {
      t: "exec",
      path: "/usr/bin/wc",
      argv: ["wc", "-l"],
    });
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
    "a forked child: only the guest's first process is compared; it executed /usr/bin/wc, " +
      "which runs natively, outside QEMU",
  );
  deepEqual(views[3]!.pids, { a: 12, b: 22 });
  equal(views.filter((v) => v.compared).length, 1);
  equal(
    processesNotCompared(views),
    "1.1 (bash -c seq 3 | wc -l), 1.1.1 (bash -c seq 3 | wc -l), 1.2 (wc -l), 1.10 (bash -c seq " +
      "3 | wc -l): forked processes are not compared; only the guest's first process is (see " +
      "processes)",
  );
});

Deno.test("a process one side made, an exec the plugin could not read, an exec of the guest itself", () => {
  const trees = processTrees();
  hearProcess(trees.a, "1", hello("1", 10));
  hearProcess(trees.b, "1", hello("1", 20));
  hearProcess(trees.b, "1.1", hello("1.1", 21));
  hearProcess(trees.b, "1.1", { t: "exec", path: null, argv: null });
  hearProcess(trees.a, "1", { t: "exec", path: "/bin/true", argv: ["true"] });
  const [first, child] = processViews(trees, COMMAND);
  equal(
    first!.why,
    "compared until it executed /bin/true, which runs natively, outside QEMU",
  );
  deepEqual(first!.command, ["true"]);
  equal(child!.why, "only side b made it");
  equal(child!.command, null);
  deepEqual(child!.pids, { a: null, b: 21 });
});

Deno.test("messages of a process not heard of are ignored; its end and its connection's close are kept", () => {
  const trees = processTrees();
  equal(hearProcess(trees.a, "1.3", { t: "closed" }), undefined);
  equal(trees.a.size, 0);
  equal(
    hearProcess(trees.a, "1.3", hello("1.3", 7)),
    "process 1.3 forked (pid 7): not compared",
  );
  equal(
    hearProcess(trees.a, "1.3", {
      t: "end",
      insns: 5,
      blocks: 2,
      rss: 1,
      hash: "0x0",
      tail: 0,
    }),
    "process 1.3 ended (5 instructions)",
  );
  hearProcess(trees.a, "1.3", { t: "closed" });
  deepEqual(trees.a.get("1.3"), {
    path: "1.3",
    pid: 7,
    execs: [],
    insns: 5,
    closed: true,
  });
});

// Right verdicts under load, faults and hostile input (the real CLI and
// library, real QEMU 7.2).
import { buildPlugin, planRun, runLockstep } from "../../mod.ts";
import { lockstepArgv } from "../../harness/command_line.ts";
import { SidePair } from "../../harness/side_pair.ts";
import { GUESTS, runCli, tempDir } from "./_cli.ts";
import { deepEqual, equal, ok } from "../../deps/assert.ts";

const g = (name: string) => GUESTS + name;

Deno.test("a side's exit counts only after its plugin's reports were read, even when the harness reads late", async () => {
  // The harness reads nothing until both QEMUs have run to their end: their
  // exits, connections and reports are all pending at once (as under load).
  const plan = await planRun({ arch: "x86_64", image: g("x86_64-hello") });
  const plugin = await buildPlugin({
    source: "lockstep.c",
    api: plan.a.qemu.pluginApi,
    qemuPath: plan.a.qemu.path,
  });
  await using pair = await SidePair.open({
    plan,
    args: (side, dir) => lockstepArgv(plan, side, dir, plugin.path),
  });
  await Promise.all([pair.sides.a.child.status, pair.sides.b.child.status]);
  await new Promise((r) => setTimeout(r, 500));
  const exitedBeforeHello: string[] = [];
  const ended = new Set<string>();
  while (!(pair.sides.a.exit && pair.sides.b.exit)) {
    for (const role of ["a", "b"] as const) {
      const s = pair.sides[role];
      if (s.exit && !s.hello) exitedBeforeHello.push(role);
    }
    if (exitedBeforeHello.length) break;
    const next = await pair.next();
    if (next?.msg.t === "end") ended.add(next.role);
  }
  deepEqual(exitedBeforeHello, []);
  deepEqual([...ended].sort(), ["a", "b"]);
});

Deno.test("many short pairs at once: every verdict right", async () => {
  await using dir = await tempDir();
  const cases = Array.from({ length: 16 }, (_, i) => ({
    name: `hello ${i}`,
    arch: "x86_64",
    image: g("x86_64-hello"),
  }));
  const file = `${dir.path}/suite.json`;
  await Deno.writeTextFile(file, JSON.stringify({ cases }));
  const r = await runCli(["suite", "--json", "--jobs", "8", file]);
  const wrong = r.json?.results.filter((x: { passed: boolean }) => !x.passed) ?? [];
  equal(
    wrong.length,
    0,
    wrong.map((x: { name: string; error: string; verdict: { message: string } }) =>
      `${x.name}: ${x.error ?? x.verdict?.message}`
    ).join("\n") || r.stderr,
  );
  equal(r.code, 0);
});

Deno.test("a 2.5 GB sparse image is neither read into memory nor copied whole", async (t) => {
  await using dir = await tempDir();
  const big = `${dir.path}/x86_64-hello-big`;
  await Deno.copyFile(g("x86_64-hello"), big);
  await Deno.truncate(big, 2_500_000_000);
  const before = Deno.memoryUsage().rss;
  const plan = await planRun({ arch: "x86_64", image: big, compare: ["pc"] });
  const run = async (tmpdir: string) => {
    const saved = Deno.env.get("TMPDIR");
    Deno.env.set("TMPDIR", tmpdir);
    try {
      return await runLockstep(plan, { keepTemp: true });
    } finally {
      if (saved === undefined) Deno.env.delete("TMPDIR");
      else Deno.env.set("TMPDIR", saved);
    }
  };
  await t.step("same file system: the guest is linked, not copied", async () => {
    const v = await run(dir.path);
    equal(v.status, "match", v.message);
    const copy = Deno.statSync(`${v.tempDir}/a/x86_64-hello-big`);
    equal(copy.ino, Deno.statSync(big).ino);
    await Deno.remove(v.tempDir!, { recursive: true });
  });
  const shm = "/dev/shm";
  const other = (() => {
    try {
      return Deno.statSync(shm).dev !== Deno.statSync(dir.path).dev;
    } catch {
      return false;
    }
  })();
  await t.step({
    name: "another file system: a copy that keeps the holes",
    ignore: !other,
    fn: async () => {
      const sub = await Deno.makeTempDir({ dir: shm, prefix: "lockstep-test-" });
      try {
        const v = await run(sub);
        equal(v.status, "match", v.message);
        const copy = Deno.statSync(`${v.tempDir}/b/x86_64-hello-big`);
        equal(copy.size, 2_500_000_000);
        ok(copy.blocks! * 512 < 10 << 20, `${copy.blocks! * 512} bytes on disk`);
      } finally {
        await Deno.remove(sub, { recursive: true });
      }
    },
  });
  const grown = Deno.memoryUsage().rss - before;
  ok(grown < 500 << 20, `RSS grew by ${grown >> 20} MB`);
});

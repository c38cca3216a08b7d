// The benchmark command (bench/main.ts): its figures are real runs, and a
// signal stops it with its QEMUs.
import { alive, ROOT } from "./_cli.ts";
import { deepEqual, equal, ok } from "../../deps/assert.ts";

const BENCH = ["run", "-A", `${ROOT}bench/main.ts`];

/** The pids of `pid`'s children. */
function children(pid: number): number[] {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/)
      .filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The first child of `pid` whose command line names `what`, once one runs. */
async function childRunning(pid: number, what: string, seconds: number): Promise<number> {
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    for (const c of children(pid)) {
      const cmdline = Deno.readTextFileSync(`/proc/${c}/cmdline`).replaceAll("\0", " ");
      if (cmdline.includes(what)) return c;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${what} under ${pid} after ${seconds} s`);
}

Deno.test("the bench prints rows of real runs: the same instructions counted alone and in lockstep", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      ...BENCH,
      "--quick",
      "--only",
      "loop,dense,gzip",
      "--qemu",
      "7.2",
      "--pairs",
      "1",
      "--chain-only",
      "--json",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const { version, rows } = JSON.parse(new TextDecoder().decode(out.stdout));
  equal(version, 3);
  deepEqual(rows.map((r: { workload: string }) => r.workload), ["loop", "dense", "gzip"]);
  const [loop, dense, gzip] = rows;
  equal(loop.chain, true);
  // 20 M iterations of three instructions, 6 M of ten, and the guests' few others.
  ok(loop.insns > 60_000_000 && loop.insns < 60_001_000, `${loop.insns}`);
  ok(dense.insns > 60_000_000 && dense.insns < 60_001_000, `${dense.insns}`);
  ok(dense.samples.single[0].blocks < loop.samples.single[0].blocks / 3);
  // A Debian program on a file the bench wrote: tens of millions.
  ok(gzip.insns > 10_000_000, `${gzip.insns}`);
  // The loops run the same instructions alone and in lockstep; a dynamic
  // program's start-up differs a little with the environment lockstep gives.
  equal(loop.samples.single[0].insns, loop.insns);
  equal(dense.samples.single[0].insns, dense.insns);
  ok(Math.abs(gzip.samples.single[0].insns / gzip.insns - 1) < 0.02);
  for (const row of rows) {
    for (
      const k of [
        "bareSeconds",
        "singleSeconds",
        "twoSeconds",
        "lockstepSeconds",
        "ratio",
        "ratioPaired",
        "ratioBare",
        "ratioBarePaired",
        "ratioTwo",
      ]
    ) {
      ok(row[k] > 0, `${row.workload} ${k} ${row[k]}`);
    }
    deepEqual(row.retried, []);
  }
});

Deno.test("SIGTERM to the bench stops the QEMU it runs and exits 130", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...BENCH, "--only", "kernel", "--qemu", "7.2", "--pairs", "1", "--nochain-only"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const qemu = await childRunning(child.pid, "qemu-system-x86_64", 60);
  child.kill("SIGTERM");
  const started = performance.now();
  const out = await child.output();
  ok(performance.now() - started < 10_000);
  equal(out.code, 130, new TextDecoder().decode(out.stderr));
  ok(!alive(qemu), "the bench's QEMU still runs");
});

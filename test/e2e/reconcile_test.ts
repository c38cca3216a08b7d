// A verdict that never contradicts itself (harness/run/reconcile.ts): the
// detail pass goes on past an environment difference the fast pass cannot
// have seen, to where the fast pass saw the streams part, and names what is
// there; a difference the fast pass saw and the detail pass did not is never
// a match. Real QEMUs 7.2 and 10.2, Debian's programs as installed.
import { QEMU_10_2_DIR } from "../../cli/setup_qemus.ts";
import { planRun, runLockstep } from "../../mod.ts";
import { buildCounterReaders } from "./_counter_reader.ts";
import { ROOT, runCli } from "./_cli.ts";
import { type Schema, validate } from "../_json_schema.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

const q102 = (name: string) => `${QEMU_10_2_DIR}${name}`;
const schema: Schema = JSON.parse(await Deno.readTextFile(`${ROOT}docs/verdict.schema.json`));
/** A verdict as --json prints it (cli/render.ts). */
const asJson = (v: unknown) =>
  JSON.parse(JSON.stringify(v, (_k, x) => typeof x === "bigint" ? `0x${x.toString(16)}` : x));

Deno.test("a difference only the fast pass saw (mkdir's EEXIST on one side) is inconclusive, not a match, on 7.2 and 10.2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lockstep-mkdir-" });
  try {
    for (const [i, qemu] of [[], ["--qemu", q102("qemu-x86_64")]].entries()) {
      // In the fast pass one side makes the directory and the other finds it
      // made; in the detail pass, a second run, both find it: the two runs
      // of the guest differ.
      const r = await runCli(["--json", ...qemu, "x86_64", "/usr/bin/mkdir", "--", `${dir}/${i}`]);
      equal(r.code, 3, r.stderr);
      equal(r.json.status, "inconclusive");
      equal(r.json.fastPass.result, "apart");
      equal(r.json.fastPass.confirmed, false);
      match(
        r.json.message,
        /^The fast pass saw the streams part between instructions 0 and \d+, but the detail pass, a second run, saw no difference/,
      );
      equal(r.json.warnings.length, 0);
      deepEqual(validate(schema, r.json, { strict: true }), []);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("past a counter's value the detail pass goes on to where the streams part, and names both", async () => {
  const g = await buildCounterReaders();
  try {
    const plan = await planRun({
      arch: "x86_64",
      image: g.x86_64,
      imageB: g.x86_64Variant,
      qemu: q102("qemu-x86_64"),
    });
    ok(plan.counters);
    // Each side's own counter, as on a QEMU without plugin API 5 (none here
    // runs linux-user guests with API 3 or 4): the value stored at the
    // guest's start differs, and only the detail pass compares it.
    const v = await runLockstep({ ...plan, counters: false });
    equal(v.status, "diverged");
    const d = v.divergence!;
    // The variant's call: a control-flow difference, millions of
    // instructions on.
    equal(d.kind, "pc");
    ok(d.insn > 12_000_000 && d.insn >= v.fastPass.good!, `${d.insn}`);
    equal(v.fastPass.confirmed, true);
    const before = d.environmentBefore!;
    equal(before.environment.what, "counter");
    equal(before.environment.call, "rdtsc");
    ok(before.insn < 20_000, `${before.insn}`);
    match(before.a!.symbol!, /^main\+0x/);
    match(
      v.message,
      new RegExp(
        `^Diverged at instruction ${d.insn}: .*; the environment differed first, at instruction ${before.insn}: a value differs \\(0x[0-9a-f]+ on side a, 0x[0-9a-f]+ on side b\\) after rdtsc read the host's counter at instruction \\d+$`,
      ),
    );
    ok(
      v.notCompared.some((n) =>
        n.what === "mem" && n.why.startsWith(`after instruction ${before.insn}`)
      ),
    );
    deepEqual(validate(schema, asJson(v), { strict: true }), []);
    // With the counter written equal (plugin API 5), nothing of the
    // environment comes first: the variant's load of its flag differs.
    const eq = await runLockstep(plan);
    equal(eq.status, "diverged");
    equal(eq.divergence!.kind, "mem");
    equal(eq.divergence!.environmentBefore, undefined);
    ok(Math.abs(eq.divergence!.insn - d.insn) < 10, `${eq.divergence!.insn}`);
  } finally {
    await Deno.remove(g.dir, { recursive: true });
  }
});

// Registers and narrowing, on Debian trixie's QEMU 10.0 (plugin API 4,
// installed by scripts/setup.sh --tests): the aarch64 value pair differs in one
// constant that feeds a checksum; control flow parts only at the very end.
import { QEMU_10_0_DIR } from "../../cli/setup_qemus.ts";
import { narrow } from "../../harness/run/narrow.ts";
import { planRun } from "../../harness/plan/plan.ts";
import { buildPlugin } from "../../harness/qemu/plugin_build.ts";
import { GUESTS, runCli, symbolRange } from "./_cli.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

const g = (name: string) => GUESTS + name;
const q10 = (arch: string) => `${QEMU_10_0_DIR}qemu-system-${arch}`;
const pair = ["aarch64", g("aarch64-value.elf"), "--image-b", g("aarch64-value-variant.elf")];
const inRange = (hex: string, [start, end]: [bigint, bigint]) =>
  BigInt(hex) >= start && BigInt(hex) < end;

Deno.test("aarch64 value pair: registers find the difference where it is made, narrowing names the instruction", async () => {
  const all = await runCli(["--json", "--qemu", q10("aarch64"), ...pair]);
  const every = await runCli(["--json", "--qemu", q10("aarch64"), "--regs-every", "1", ...pair]);
  const pc = await runCli(["--json", "--qemu", q10("aarch64"), "--compare", "pc", ...pair]);
  for (const r of [all, every, pc]) equal(r.code, 1, r.stderr);
  deepEqual(all.json.compared, ["pc", "regs", "mem"]);
  ok(all.json.registers.includes("x1") && !all.json.registers.includes("pc"));
  // Snapshots at every jump target: the first block after value_step
  // returned differs in its registers, against the very end for PCs.
  const e = every.json.divergence;
  equal(e.kind, "regs");
  ok(e.insn < 3_000, `regs at ${e.insn}`);
  ok(pc.json.divergence.insn > 300_000, `pc at ${pc.json.divergence.insn}`);
  equal(pc.json.divergence.kind, "pc");
  // The registers that differ there, with both values: x1 holds SEED.
  const x1 = e.regs.find((r: { name: string }) => r.name === "x1");
  deepEqual(x1, { name: "x1", a: "0x9e3779b1", b: "0x85ebca6b" });
  // By default (a snapshot every 4096 instructions) the load that uses the
  // value is the first difference, right after it; narrowing names the same
  // instruction either way: the mov of the low half of SEED in value_step.
  const d = all.json.divergence;
  equal(d.kind, "mem");
  ok(d.insn > e.insn && d.insn < 3_000, `mem at ${d.insn}`);
  equal(d.narrow.insn, e.narrow.insn);
  const n = d.narrow;
  equal(n.status, "done", n.why);
  ok(n.from < n.insn && n.insn < d.insn);
  const step = await symbolRange("nm", g("aarch64-value.elf"), "value_step");
  equal(n.a.pc, n.b.pc);
  ok(inRange(n.a.pc, step), `${n.a.pc} outside value_step`);
  match(n.a.symbol, /^value_step\+/);
  ok(n.a.bytes !== n.b.bytes);
  match(n.a.disas, /^mov w1, #0x79b1$/);
  match(n.b.disas, /^mov w1, #0xca6b$/);
  deepEqual(n.regs, [{ name: "x1", a: "0x79b1", b: "0xca6b" }]);
  // Addresses only: the registers parted long before what the dump covers.
  equal(pc.json.divergence.narrow.status, "failed");
  match(pc.json.divergence.narrow.why, /already differ/);
  // The text verdict says the same.
  const text = await runCli(["--qemu", q10("aarch64"), "--color", "never", ...pair]);
  match(text.stderr, /narrowed: the registers first differ after instruction #2,344/);
  match(text.stderr, /register +side a +side b\n +x1 +0x79b1 +0xca6b\n/);
});

Deno.test("aarch64 value pair: --mask-reg leaves registers out of the comparison and of narrowing", async () => {
  const r = await runCli([
    "--json",
    "--qemu",
    q10("aarch64"),
    "--mask-reg",
    "x0,x1",
    "--mask-reg=X2",
    ...pair,
  ]);
  equal(r.code, 1, r.stderr);
  for (const name of ["x0", "x1", "x2"]) {
    ok(!r.json.registers.includes(name), `${name} compared`);
    ok(
      r.json.registersSkipped.some((s: { name: string; why: string }) =>
        s.name === name && /mask/.test(s.why)
      ),
    );
  }
  const d = r.json.divergence;
  // With x0-x2 masked the same difference shows later, in other state.
  ok(d.insn > 2_349, `at ${d.insn}`);
  // Narrowing ran, and no masked register is among those it names.
  equal(d.narrow.status, "done", d.narrow.why);
  const named = [...d.narrow.regs, ...(d.regs ?? [])].map((x: { name: string }) => x.name);
  for (const name of ["x0", "x1", "x2"]) ok(!named.includes(name), `${name} in ${named}`);
  ok(named.length > 0 || d.narrow.insn === d.insn, JSON.stringify(d.narrow));
});

Deno.test("aarch64 value pair: --no-narrow skips the re-run and says so", async () => {
  const r = await runCli(["--json", "--qemu", q10("aarch64"), "--no-narrow", ...pair]);
  equal(r.code, 1, r.stderr);
  deepEqual(r.json.divergence.narrow, { status: "skipped", why: "--no-narrow" });
  equal(r.json.divergence.regs, undefined);
});

Deno.test("register snapshots do not depend on how QEMU splits blocks", async () => {
  for (
    const [arch, image] of [["aarch64", "aarch64-value.elf"], ["riscv64", "riscv64-hello.elf"]]
  ) {
    for (const extra of [["--extra-b=-accel", "--extra-b=tcg,one-insn-per-tb=on"], ["--chain"]]) {
      // A snapshot at every jump target: the most split-sensitive setting.
      const r = await runCli([
        "--json",
        "--qemu",
        q10(arch!),
        "--regs-every",
        "1",
        ...extra,
        arch!,
        g(image!),
      ]);
      equal(r.code, 0, `${arch} ${extra}: ${r.stderr}${r.json?.message}`);
      ok(r.json.compared.includes("regs"));
    }
  }
});

Deno.test("what cannot be compared is said: sparc32 has no registers, QEMU 7.2 no register API", async () => {
  const sparc = await runCli([
    "--json",
    "--bios",
    "--qemu",
    q10("sparc"),
    "sparc",
    g("sparc-bios.bin"),
  ]);
  equal(sparc.code, 0, sparc.stderr);
  ok(!sparc.json.compared.includes("regs"));
  const why = sparc.json.notCompared.find((n: { what: string }) => n.what === "regs").why;
  match(why, /no registers of sparc/);
  const old = await runCli(["--json", "--qemu-b", q10("aarch64"), ...pair]);
  equal(old.code, 1, old.stderr);
  match(
    old.json.notCompared.find((n: { what: string }) => n.what === "regs").why,
    /side a's QEMU has plugin API 1/,
  );
  equal(old.json.divergence.narrow.status, "skipped");
});

Deno.test("narrowing checks that the re-runs retrace the first run", async () => {
  const plan = await planRun({
    arch: "aarch64",
    image: g("aarch64-value.elf"),
    qemu: q10("aarch64"),
  });
  const built = await buildPlugin({
    source: "lockstep",
    api: plan.a.qemu.pluginApi,
    qemuPath: plan.a.qemu.path,
  });
  const req = {
    plan,
    plugins: { a: built.path, b: built.path },
    from: 1000,
    to: 1010,
    origins: { a: 0, b: 0 },
    timeoutSeconds: 60,
  };
  // The same guest on both sides: the registers agree all the way.
  const same = await narrow({ ...req, expect: { a: [], b: [] } });
  equal(same.report.status, "done");
  equal(same.report.insn, 1010);
  deepEqual(same.report.regs, []);
  // A first run that went elsewhere at instruction 1005 (as a
  // nondeterministic guest would): narrowing says so and names nothing.
  const elsewhere = Array(11).fill(undefined);
  elsewhere[5] = 0x1234n;
  const strayed = await narrow({ ...req, expect: { a: [], b: elsewhere } });
  equal(strayed.report.status, "failed");
  match(
    strayed.report.why!,
    /side b's re-run did not retrace the first run at instruction 1005 \(0x[0-9a-f]+ instead of 0x1234\)/,
  );
  equal(strayed.report.insn, undefined);
});

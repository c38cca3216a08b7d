// The fast pass: inline counting (plugin API 3 on: trixie's 10.0, set-up's
// 10.2) or a per-block callback without a ring (Debian's 7.2), checkpoints
// only; the detail pass runs when it sees a difference.
import { QEMU_10_0_DIR, QEMU_10_2_DIR } from "../../cli/setup_qemus.ts";
import { GUESTS, runCli, tempDir } from "./_cli.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

const g = (name: string) => GUESTS + name;
const q100 = (name: string) => `${QEMU_10_0_DIR}${name}`;
const q102 = (name: string) => `${QEMU_10_2_DIR}${name}`;

Deno.test("a match is the fast pass's own, and says what it did not compare", async () => {
  for (const qemu of ["qemu-x86_64", q102("qemu-x86_64")]) {
    const r = await runCli(["--json", "--qemu", qemu, "x86_64", g("x86_64-hello")]);
    equal(r.code, 0, r.stderr);
    equal(r.json.fastPass.result, "match");
    ok(r.json.compared.includes("syscalls") && !r.json.compared.includes("mem"));
    match(
      r.json.notCompared.find((n: { what: string }) => n.what === "mem").why,
      /detail pass only \(--no-fast/,
    );
  }
});

Deno.test("a difference the fast pass sees is named by the detail pass exactly as without it", async () => {
  for (const qemu of ["qemu-x86_64", q102("qemu-x86_64")]) {
    const args = [
      "--json",
      "--no-narrow",
      "--qemu",
      qemu,
      "x86_64",
      g("x86_64-hello"),
      "--image-b",
      g("x86_64-hello-variant"),
    ];
    const fast = await runCli(args);
    const slow = await runCli(["--no-fast", ...args]);
    for (const r of [fast, slow]) equal(r.code, 1, r.stderr);
    equal(fast.json.fastPass.result, "apart");
    equal(slow.json.fastPass.result, "not-run");
    equal(slow.json.fastPass.why, "--no-fast");
    for (const key of ["insn", "kind", "a", "b", "history"]) {
      deepEqual(fast.json.divergence[key], slow.json.divergence[key], key);
    }
  }
});

Deno.test("blocks cut short by icount I/O, and one instruction a block on side B: the fast pass matches on its own", async () => {
  // The riscv64 guest's UART output (MMIO under icount) re-executes
  // instructions mid-block on side A only: the fast pass must take back
  // what did not run. It stops a few instructions before the guest powers
  // off: that last store's block is left part-way, and which of its
  // instructions ran only the detail pass's dumps can tell.
  const riscv = await runCli([
    "--json",
    "--qemu",
    q100("qemu-system-riscv64"),
    "--max-insns",
    "415840",
    "--extra-b=-accel",
    "--extra-b=tcg,one-insn-per-tb=on",
    "riscv64",
    g("riscv64-hello.elf"),
  ]);
  equal(riscv.code, 0, riscv.stderr);
  equal(riscv.json.stoppedBy, "max-insns");
  equal(riscv.json.fastPass.result, "match", JSON.stringify(riscv.json.fastPass));
  equal(riscv.json.sides.b.blocks, 415_840);
  ok(riscv.json.sides.a.blocks < 200_000);
  // The same to the guest's end (semihosting exit), aarch64.
  const aarch64 = await runCli([
    "--json",
    "--qemu",
    q100("qemu-system-aarch64"),
    "--extra-b=-accel",
    "--extra-b=tcg,one-insn-per-tb=on",
    "aarch64",
    g("aarch64-hello.elf"),
  ]);
  equal(aarch64.code, 0, aarch64.stderr);
  equal(aarch64.json.fastPass.result, "match", JSON.stringify(aarch64.json.fastPass));
  // The callback flavour (7.2): x86 rep re-entries count once.
  const glibc = await runCli(["--json", "--extra-b=-singlestep", "x86_64", g("x86_64-glibc")]);
  equal(glibc.code, 0, glibc.stderr);
  equal(glibc.json.fastPass.result, "match");
});

Deno.test("the fast pass's register snapshots do not depend on how QEMU splits blocks (QEMU 10.2, one instruction a block on side B)", async () => {
  // 60 M instructions: 14 checkpoints, each with a snapshot at the first
  // jump target from it on. With one instruction a block every checkpoint
  // falls between two blocks on side B, inside one on side A: both must
  // pick the same jump target (fast.c keeps where each block falls through
  // to in its callbacks, not at every block's end).
  const r = await runCli([
    "--json",
    "--qemu",
    q102("qemu-x86_64"),
    "--extra-b=-one-insn-per-tb",
    "x86_64",
    g("x86_64-loop"),
    "--",
    "20000000",
  ]);
  equal(r.code, 0, r.stderr);
  ok(r.json.compared.includes("regs"));
  equal(r.json.fastPass.result, "match", JSON.stringify(r.json.fastPass));
  equal(r.json.sides.b.blocks, 60_000_316);
  ok(r.json.sides.a.blocks < 30_000_000);
});

Deno.test("--max-insns stops the fast pass at exactly that many instructions", async () => {
  for (const qemu of ["qemu-x86_64", q102("qemu-x86_64")]) {
    const r = await runCli([
      "--json",
      "--qemu",
      qemu,
      "--max-insns",
      "10000003",
      "x86_64",
      g("x86_64-loop"),
    ]);
    equal(r.code, 0, r.stderr + r.json?.message);
    equal(r.json.stoppedBy, "max-insns");
    equal(r.json.insns, 10_000_003);
    equal(r.json.fastPass.result, "match");
  }
});

Deno.test("output that differs where no instruction does: named where values are read, inconclusive where not", async () => {
  const pair = ["x86_64", g("x86_64-hello"), "--image-b", g("x86_64-hello-label")];
  // QEMU 10.2 reads memory values: the load of the differing letter.
  const v102 = await runCli(["--json", "--qemu", q102("qemu-x86_64"), ...pair]);
  equal(v102.code, 1, v102.stderr);
  equal(v102.json.fastPass.why, "the guests' output differs");
  equal(v102.json.divergence.kind, "mem");
  equal(v102.json.divergence.events.a.value, "0x6d");
  equal(v102.json.divergence.events.b.value, "0x6e");
  // QEMU 7.2 (plugin API 1) reads no values: not a match, and not TCG's.
  const v72 = await runCli(["--json", ...pair]);
  equal(v72.code, 3, v72.stderr);
  equal(v72.json.status, "inconclusive");
  match(v72.json.message, /output differs, but no compared instruction.*plugin API 4/);
});

Deno.test("an x86 rep instruction entered again alone is no block: the inline fast pass counts as the detail pass", async () => {
  // 40 MB of rep stosb, which QEMU 10.2 enters some 640 times: the fast
  // pass counts its blocks in the low bits of its countdown, where millions
  // of such entries would carry into the instructions.
  const counts = [];
  for (const pass of [[], ["--no-fast"]]) {
    const r = await runCli([
      "--json",
      ...pass,
      "--qemu",
      q102("qemu-x86_64"),
      "x86_64",
      g("x86_64-rep"),
    ]);
    equal(r.code, 0, r.stderr);
    equal(
      r.json.fastPass.result,
      pass.length ? "not-run" : "match",
      JSON.stringify(r.json.fastPass),
    );
    counts.push([r.json.sides.a.insns, r.json.sides.a.blocks]);
  }
  deepEqual(counts[0], counts[1]);
});

Deno.test("the kernel against its trace past its long rep strings (4.6 G instructions, 10.2): inline and record flavours agree", async () => {
  // The boot's rep strings, entered again millions of times between two
  // checkpoints (under icount), once carried the inline fast pass's block
  // count into its position there (apart after instruction 4,487,905,280).
  await using tmp = await tempDir();
  const trace = `${tmp.path}/kernel.trace`;
  const kernel = [
    "--qemu",
    q102("qemu-system-x86_64"),
    "--extra=-append",
    "--extra=console=ttyS0 panic=-1",
    "x86_64",
    g("vmlinuz"),
  ];
  const rec = await runCli([
    "record",
    "--json",
    "--max-insns",
    "4613734400",
    "-o",
    trace,
    ...kernel,
  ]);
  equal(rec.code, 0, rec.stderr);
  const r = await runCli(["--json", ...kernel, "--against", trace]);
  equal(r.code, 0, r.stderr);
  equal(r.json.status, "match", r.json.message);
  equal(r.json.sides.b.insns, 4_613_734_400);
});

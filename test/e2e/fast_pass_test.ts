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
  // QEMU 7.2 (plugin API 1: no conditional callbacks, C tests at every
  // block what 9.1 on test inline): the same cuts, and x86 rep re-entries
  // counted once.
  const riscv72 = await runCli([
    "--json",
    "--qemu",
    "qemu-system-riscv64",
    "--max-insns",
    "415840",
    "--extra-b=-singlestep",
    "riscv64",
    g("riscv64-hello.elf"),
  ]);
  equal(riscv72.code, 0, riscv72.stderr);
  equal(riscv72.json.fastPass.result, "match", JSON.stringify(riscv72.json.fastPass));
  equal(riscv72.json.sides.b.blocks, 415_840);
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

Deno.test("a register difference that reaches no memory and no branch: seen where a snapshot is taken, not where none is", async () => {
  // The xmm pair differs in one immediate that goes to xmm7 and nowhere
  // else. The fast pass reads every register both sides share (x87 and
  // SSE too) at the first jump target past each checkpoint (4,194,304
  // instructions apart): a value that is still there then is seen, one
  // cleared sooner is not.
  const pair = (...args: string[]) => [
    "--json",
    "--qemu",
    q102("qemu-x86_64"),
    "x86_64",
    g("x86_64-xmm"),
    "--image-b",
    g("x86_64-xmm-variant"),
    "--",
    ...args,
  ];
  const xmm7 = { name: "xmm7", a: "0x9e3779b1", b: "0x85ebca6b" };
  // Set before the loop, read at the snapshot past the first checkpoint.
  const early = await runCli(pair("2000000"));
  equal(early.code, 1, early.stderr);
  equal(early.json.fastPass.result, "apart", JSON.stringify(early.json.fastPass));
  equal(early.json.fastPass.good, 4_194_304);
  equal(early.json.divergence.kind, "regs");
  deepEqual(early.json.divergence.regs, [xmm7]);
  // Set after that snapshot: the next checkpoint's sees it (snapshots
  // are taken again at every checkpoint).
  const late = await runCli(pair("4000000", "late"));
  equal(late.code, 1, late.stderr);
  equal(late.json.fastPass.result, "apart", JSON.stringify(late.json.fastPass));
  equal(late.json.fastPass.good, 8_388_608);
  deepEqual(late.json.divergence.regs, [xmm7]);
  ok(late.json.divergence.insn > 6_000_000, `${late.json.divergence.insn}`);
  // Cleared three instructions later: no snapshot sees it, the run matches.
  const cleared = await runCli(pair("2000000", "clear"));
  equal(cleared.code, 0, cleared.stderr);
  equal(cleared.json.fastPass.result, "match");
  // QEMU 7.2 (plugin API 1) reads no registers: not compared, said so.
  const v72 = await runCli([
    "--json",
    "x86_64",
    g("x86_64-xmm"),
    "--image-b",
    g("x86_64-xmm-variant"),
  ]);
  equal(v72.code, 0, v72.stderr);
  ok(!v72.json.compared.includes("regs"));
  ok(v72.json.notCompared.some((n: { what: string }) => n.what === "regs"));
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
  // 40 MB of rep stosb, which QEMU 10.2 enters some 640 times and 7.2
  // once an iteration (without chaining): the fast pass counts its blocks
  // in the low bits of its countdown, where millions of such entries would
  // carry into the instructions.
  for (const qemu of [q102("qemu-x86_64"), "qemu-x86_64"]) {
    const counts = [];
    for (const pass of [[], ["--no-fast"]]) {
      const r = await runCli(["--json", ...pass, "--qemu", qemu, "x86_64", g("x86_64-rep")]);
      equal(r.code, 0, r.stderr);
      equal(
        r.json.fastPass.result,
        pass.length ? "not-run" : "match",
        JSON.stringify(r.json.fastPass),
      );
      counts.push([r.json.sides.a.insns, r.json.sides.a.blocks]);
    }
    deepEqual(counts[0], counts[1], qemu);
  }
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

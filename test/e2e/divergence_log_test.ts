// --log-at-divergence through real QEMUs: both sides run again to just
// before their first differing instruction with QEMU's -d op,out_asm on
// the blocks around it; each side's log (in the JSON verdict, the text
// verdict and the HTML page) holds how its QEMU translated the divergent
// instruction. x86_64 linux-user on Debian's 7.2 and the 10.2 build,
// sparc32 system mode on 7.2.
import { QEMU_10_2_DIR } from "../../cli/setup_qemus.ts";
import { type Schema, validate } from "../_json_schema.ts";
import { GUESTS, ROOT, runCli, tempDir } from "./_cli.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

const g = (name: string) => GUESTS + name;
const schema: Schema = JSON.parse(await Deno.readTextFile(`${ROOT}docs/verdict.schema.json`));

/** How QEMU's logs name a guest instruction (zero-padded to the target's width): out_asm's marker, op's insn_start. */
function marks(pc: string): { outAsm: RegExp; op: RegExp } {
  const hex = BigInt(pc).toString(16);
  return {
    outAsm: new RegExp(`-- guest addr 0x0*${hex}\\b`),
    op: new RegExp(`^ ---- 0*${hex}\\b`, "m"),
  };
}

const runs: [string, string[]][] = [
  ["x86_64 linux-user, QEMU 7.2", [
    "x86_64",
    g("x86_64-hello"),
    "--image-b",
    g("x86_64-hello-variant"),
  ]],
  ["x86_64 linux-user, QEMU 10.2", [
    "--qemu",
    `${QEMU_10_2_DIR}qemu-x86_64`,
    "x86_64",
    g("x86_64-hello"),
    "--image-b",
    g("x86_64-hello-variant"),
  ]],
  ["sparc32 system mode, QEMU 7.2", [
    "sparc",
    g("sparc-bios.bin"),
    "--bios",
    "--image-b",
    g("sparc-bios-variant.bin"),
  ]],
];

Deno.test("--log-at-divergence op,out_asm: each side's log holds its divergent instruction's block", async (t) => {
  for (const [name, args] of runs) {
    await t.step(name, async () => {
      await using dir = await tempDir();
      const html = `${dir.path}/verdict.html`;
      const r = await runCli([
        "--json",
        "--log-at-divergence",
        "op,out_asm",
        "--html",
        html,
        ...args,
      ]);
      equal(r.code, 1, r.stderr);
      deepEqual(validate(schema, r.json, { strict: true }), []);
      const d = r.json.divergence;
      const logs = r.json.divergenceLogs;
      equal(logs.items, "op,out_asm");
      for (const role of ["a", "b"] as const) {
        const l = logs[role];
        // Stopped before the first differing instruction, the verdict's.
        equal(l.pc, d[role].pc);
        equal(l.insn, role === "a" ? d.insn : d.insnB ?? d.insn);
        ok(BigInt(l.from) <= BigInt(d[role].blockPc) && BigInt(l.to) > BigInt(l.pc));
        const m = marks(l.pc);
        match(l.text, m.outAsm, `side ${role}: no out_asm of ${l.pc}`);
        match(l.text, m.op, `side ${role}: no op of ${l.pc}`);
        equal(l.truncated, false);
        // Only the blocks -dfilter names: each block starts in [from, to].
        const starts = [...l.text.matchAll(/-- guest addr (0x[0-9a-f]+) \+ tb prologue/g)]
          .map((x) => BigInt(x[1]!));
        ok(starts.length > 0);
        for (const s of starts) {
          ok(s >= BigInt(l.from) && s <= BigInt(l.to), `block 0x${s.toString(16)}`);
        }
      }
      // The HTML page shows both.
      const page = await Deno.readTextFile(html);
      match(page, /<section id="logs">/);
      match(page, marks(logs.b.pc).outAsm);
    });
  }
  await t.step("the text verdict puts the two logs side by side", async () => {
    const r = await runCli(["--log-at-divergence", "out_asm", ...runs[0]![1]]);
    equal(r.code, 1, r.stderr);
    match(r.stderr, /QEMU's log at the divergence \(-d out_asm\):/);
    match(
      r.stderr,
      /^side a: before #3,362 at 0x40029c, blocks 0x[0-9a-f]+\.\.0x[0-9a-f]+ +side b: before #3,362 at 0x40029b/m,
    );
  });
  await t.step("items QEMU does not know: the verdict stands, exit code 2", async () => {
    for (
      const [items, says] of [["op;rm", /Invalid QEMU log items/], [
        "op,foo",
        /does not log foo/,
      ]] as const
    ) {
      const r = await runCli(["--json", "--log-at-divergence", items, ...runs[0]![1]]);
      equal(r.code, 2, r.stderr);
      equal(r.json.status, "diverged");
      equal(r.json.divergenceLogs, undefined);
      match(r.stderr, says);
    }
  });
});

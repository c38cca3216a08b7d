// Disassembly with binutils' objdump (binutils-multiarch, from set-up): one
// run for a batch of instructions at their own addresses, every preset in
// its own architecture and mode, and no failure when objdump cannot help.
import {
  containerElf,
  disassemble,
  parseObjdump,
  withDisassembly,
} from "../../harness/guest/disasm.ts";
import { PRESETS } from "../../harness/core/arch_presets.ts";
import type { RunPlan, Verdict } from "../../mod.ts";
import { base, demo, diverged } from "./_verdicts.ts";
import { equal, match, ok } from "../../deps/assert.ts";

const insn = (pc: bigint, bytes: string, thumb?: boolean) => ({
  pc,
  bytes,
  ...(thumb !== undefined ? { thumb } : {}),
});

/** What objdump made of `insns` on `arch`, in order. */
async function disas(arch: string, insns: ReturnType<typeof insn>[]) {
  const d = await disassemble(PRESETS[arch]!, insns);
  equal(d.note, undefined, d.note);
  return insns.map((x) => d.get(x.pc, x.bytes));
}

Deno.test("every preset is disassembled in its own architecture and mode", async (t) => {
  await t.step("x86_64: Intel syntax, branch targets at the real addresses", async () => {
    equal(
      (await disas("x86_64", [
        insn(0x40029cn, "e84effffff"),
        insn(0x40029bn, "7511"),
        insn(0xffffffff81000000n, "48c7c001000000"),
      ])).join(" | "),
      "call 0x4001ef | jne 0x4002ae | mov rax,0x1",
    );
  });
  await t.step("i386: 32-bit mode", async () => {
    // 48 is "dec eax" in 32-bit mode, a REX prefix in 64-bit mode.
    equal((await disas("i386", [insn(0x1000n, "48")]))[0], "dec eax");
  });
  await t.step("aarch64", async () => {
    equal(
      (await disas("aarch64", [insn(0x40080a00n, "21368fd2"), insn(0x40080a04n, "c0035fd6")]))
        .join(" | "),
      "mov x1, #0x79b1 // #31153 | ret",
    );
  });
  await t.step("riscv64: compressed and bit-manipulation (Zba) instructions", async () => {
    equal(
      (await disas("riscv64", [
        insn(0x80000018n, "73905230"),
        insn(0x80000100n, "8280"),
        insn(0x80000104n, "b3e5c520"),
      ])).join(" | "),
      "csrw mtvec,t0 | ret | sh3add a1,a1,a2",
    );
  });
  await t.step("riscv64: no comment drawn from an unrelated instruction before it", async () => {
    // lui a5,0x1000 then addw a5,a5,403: objdump would add "# 0x1000193"
    // from the lui, which in the verdict may be another side's or block's.
    equal(
      (await disas("riscv64", [insn(0x80000256n, "b7070001"), insn(0x80000258n, "9b873719")]))
        .join(" | "),
      "lui a5,0x1000 | addw a5,a5,403",
    );
  });
  await t.step("sparc: V8, big-endian", async () => {
    equal(
      (await disas("sparc", [insn(0x4000n, "9de3bfa0"), insn(0x4004n, "40000010")])).join(" | "),
      "save %sp, -96, %sp | call 0x4044",
    );
  });
  await t.step("sparc64: V9, which V8 does not know", async () => {
    const movre = insn(0x4000n, "937a2401");
    equal((await disas("sparc64", [movre]))[0], "movre %o0, 1, %o1");
    equal((await disas("sparc", [movre]))[0], undefined);
  });
  await t.step("arm: A32, and Thumb where the block says so", async () => {
    equal(
      (await disas("arm", [insn(0x8000n, "0100a0e3"), insn(0x8004n, "0120", true)])).join(" | "),
      "mov r0, #1 | movs r0, #1",
    );
  });
});

Deno.test("objdump's output: one instruction per section, at its address, or nothing", () => {
  const insns = [insn(0x10n, "90"), insn(0x20n, "4889"), insn(0x30n, "0f0b"), insn(0x40n, "ff")];
  const got = parseObjdump(
    [
      "c.o:     file format elf64-x86-64",
      "",
      "Disassembly of section .i0:",
      "",
      "0000000000000010 <.i0>:",
      "  10:\tnop",
      "Disassembly of section .i1:",
      "0000000000000020 <.i1>:",
      // Decoded as two instructions: the bytes were read another way than QEMU ran them.
      "  20:\trex.W",
      "  21:\t.byte 0x89",
      "Disassembly of section .i2:",
      "  31:\tud2",
      "Disassembly of section .i3:",
      "  40:\t(bad)",
    ].join("\n"),
    insns,
  );
  equal(got[0], "nop");
  equal(got[1], undefined);
  equal(got[2], undefined, "a line at another address");
  equal(got[3], undefined, "objdump does not know it");
});

Deno.test("the container is an ELF objdump reads, one section per instruction at its address", async () => {
  const elf = containerElf(PRESETS.riscv64!, [insn(0x80000000n, "8280"), insn(0x10n, "01000000")]);
  equal(new TextDecoder().decode(elf.subarray(1, 4)), "ELF");
  const file = await Deno.makeTempFile({ suffix: ".o" });
  try {
    await Deno.writeFile(file, elf);
    const out = await new Deno.Command("readelf", { args: ["-S", "-A", "-W", file] }).output();
    const text = new TextDecoder().decode(out.stdout);
    ok(out.success, new TextDecoder().decode(out.stderr));
    match(text, /\.i0 +PROGBITS +0000000080000000 [0-9a-f]+ 000002 00 +AX/);
    match(text, /\.i1 +PROGBITS +0000000000000010 [0-9a-f]+ 000004 00 +AX/);
    match(text, /Tag_RISCV_arch: "rv64gcv_zba_zbb_zbc_zbs"/);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("without a usable objdump: no disassembly and a note, never a failure", async () => {
  const x = [insn(0x40029cn, "e84effffff")];
  const missing = await disassemble(PRESETS.x86_64!, x, { objdump: "/nonexistent/objdump" });
  equal(missing.get(0x40029cn, "e84effffff"), undefined);
  equal(missing.command, null);
  match(missing.note!, /objdump not found \(install binutils-multiarch\)/);
  // An objdump that refuses the machine, as the host-only binutils does.
  const failing = await disassemble(PRESETS.x86_64!, x, { objdump: "false" });
  equal(failing.command, null);
  match(failing.note!, /^no disassembly: false failed/);
});

Deno.test("a verdict gets disas on every instruction it shows; QEMU's own is kept", async () => {
  const plan = {
    preset: PRESETS.x86_64!,
    a: { qemu: { path: "/usr/bin/qemu-x86_64" } },
    b: { qemu: { path: "/usr/bin/qemu-x86_64" } },
  } as unknown as RunPlan;
  const bare = (v: Verdict): Verdict => ({
    ...v,
    divergence: v.divergence && {
      ...v.divergence,
      a: v.divergence.a && { ...v.divergence.a, disas: "x" },
      history: {
        a: v.divergence.history.a.map((b) => ({
          ...b,
          insns: b.insns.map(({ pc, bytes }) => ({ pc, bytes })),
        })),
        b: [],
      },
    },
  });
  const v = await withDisassembly(bare(demo), plan);
  const d = v.divergence!;
  equal(d.a!.disas, "call 0x4001ef", "recomputed from the bytes");
  equal(d.b!.disas, "jne 0x4002ae");
  equal(d.history.a.at(-1)!.insns.at(-1)!.disas, "call 0x4001ef");
  equal(d.history.a[0]!.insns[1]!.disas, "mov ebx,0x811c9dc5");
  equal(v.disassembler!.command, "objdump -d -z -w --no-show-raw-insn -m i386:x86-64 -M intel");
  // Narrowing's steps carry QEMU's disassembly where it gave one.
  const aarch64 = { ...plan, preset: PRESETS.aarch64! } as RunPlan;
  const n = diverged.divergence!.narrow!;
  const withNarrow: Verdict = {
    ...diverged,
    divergence: { ...diverged.divergence!, narrow: { ...n, b: { ...n.b!, disas: "" } } },
  };
  const w = (await withDisassembly(withNarrow, aarch64)).divergence!.narrow!;
  equal(w.a!.disas, "mov w1, #0x79b1", "QEMU's");
  equal(w.b!.disas, "mov x1, #0x6acb // #27339", "objdump's, where QEMU gave none");
  // A match shows no instruction: nothing to disassemble, nothing said.
  equal((await withDisassembly(base, plan)).disassembler, undefined);
});

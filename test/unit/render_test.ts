// The verdict as text and JSON, held against snapshot files
// (deno test -A --update-snapshots test/unit/render_test.ts rewrites them).
import { renderJson, renderProgress, renderText } from "../../cli/render.ts";
import type { SideResult, Verdict } from "../../mod.ts";

function sideResult(role: "a" | "b", over: Partial<SideResult> = {}): SideResult {
  return {
    qemu: `/usr/bin/qemu-x86_64`,
    version: "7.2.22",
    pluginApi: 1,
    image: `/guests/x86_64-hello${role === "b" ? "-variant" : ""}`,
    mode: "user",
    argv: ["/bin/sh", "-c", "…"],
    exitCode: 0,
    signal: null,
    insns: 3362,
    blocks: 900,
    peakRssKb: 20480,
    output: "checksum 0x8346d83d\n",
    stderrTail: "",
    ...over,
  };
}

const base: Verdict = {
  version: 1,
  status: "match",
  stoppedBy: "guest-exit",
  message: "Both guests ran to their end: 322412 instructions, no divergence",
  compared: ["pc", "mem", "syscalls"],
  notCompared: [{
    what: "regs",
    why: "side a's QEMU has plugin API 1: reading registers needs API 2 (QEMU 9.0 or later)",
  }],
  registers: [],
  registersSkipped: [],
  warnings: [],
  insns: 322_412,
  blocks: 80_000,
  wallSeconds: 0.61,
  insnsPerSecond: 528_544,
  sides: { a: sideResult("a"), b: sideResult("b") },
  divergence: null,
  transients: [],
  fastPass: { result: "match", why: null, insns: 322_412, seconds: 0.5 },
  tempDir: null,
};

const diverged: Verdict = {
  ...base,
  status: "diverged",
  stoppedBy: "divergence",
  message:
    "Diverged at instruction 2349 (the registers differ): side a at 0x40080a10, side b at 0x40080a10",
  compared: ["pc", "regs", "mem"],
  notCompared: [],
  registers: ["x0", "x1", "x2"],
  insns: 2349,
  divergence: {
    insn: 2349,
    insnB: 2349,
    kind: "regs",
    events: {
      a: { kind: "regs", blockPc: 0x40080a10n, hash: 0x1234n },
      b: { kind: "regs", blockPc: 0x40080a10n, hash: 0x5678n },
    },
    regs: [{ name: "x1", a: "0x9e3779b1", b: "0x85ebca6b" }],
    narrow: {
      status: "done",
      from: 2300,
      to: 2349,
      insn: 2344,
      a: { pc: 0x40080a00n, bytes: "21368fd2", disas: "mov w1, #0x79b1", symbol: "value_step+0x8" },
      b: { pc: 0x40080a00n, bytes: "61598dd2", disas: "mov w1, #0xca6b", symbol: "value_step+0x8" },
      regs: [{ name: "x1", a: "0x79b1", b: "0xca6b" }],
      seconds: 0.42,
    },
    a: { pc: 0x40080a10n, bytes: "e00301aa", blockPc: 0x40080a10n, symbol: "main+0x20" },
    b: { pc: 0x40080a10n, bytes: "e00301aa", blockPc: 0x40080a10n, symbol: "main+0x20" },
    history: {
      a: [{
        index: 2347,
        pc: 0x40080a08n,
        symbol: "main+0x18",
        insns: [{ pc: 0x40080a08n, bytes: "1f2003d5" }, { pc: 0x40080a0cn, bytes: "1f2003d5" }],
      }],
      b: [{
        index: 2347,
        pc: 0x40080a08n,
        symbol: "main+0x18",
        insns: [{ pc: 0x40080a08n, bytes: "1f2003d5" }, { pc: 0x40080a0cn, bytes: "1f2003d5" }],
      }],
    },
  },
};

const crashed: Verdict = {
  ...base,
  status: "inconclusive",
  stoppedBy: "crash",
  message: "QEMU for side b died (signal SIGKILL) at about instruction 1000",
  insns: 1000,
  sides: {
    a: sideResult("a", { exitCode: null, signal: "SIGTERM" }),
    b: sideResult("b", { exitCode: null, signal: "SIGKILL", stderrTail: "qemu: fatal: oops\nbye" }),
  },
  warnings: ["The sides load different firmware openbios-sparc32 (…): pass the same file to both"],
};

Deno.test("text verdicts read the same as before", async (t) => {
  for (
    const [name, v] of [["match", base], ["diverged", diverged], ["crashed", crashed]] as const
  ) {
    await t.step(name, async (s) => {
      await s.assertSnapshot(renderText(v, false));
    });
  }
  await t.step("verbose lists the transient excursions", async (s) => {
    const v: Verdict = {
      ...base,
      transients: [{
        insn: 1_000_010,
        insnB: 1_000_010,
        a: { pc: 0x80000100n, bytes: "13000000", blockPc: 0x80000100n, symbol: "trap" },
        b: { pc: 0x80000200n, bytes: "13000000", blockPc: 0x80000200n, symbol: null },
        lengthA: 17,
        lengthB: 0,
      }],
    };
    await s.assertSnapshot(renderText(v, false, true));
  });
  await t.step("the progress line", async (s) => {
    await s.assertSnapshot(
      renderProgress({ insns: 12_345_678, elapsedSeconds: 2.5, insnsPerSecond: 4_938_271 }),
    );
  });
});

Deno.test("JSON verdicts: addresses as hex strings, version first", async (t) => {
  const json = renderJson(diverged);
  await t.assertSnapshot(json);
  const parsed = JSON.parse(json);
  if (Object.keys(parsed)[0] !== "version" || parsed.divergence.a.pc !== "0x40080a10") {
    throw new Error("JSON shape changed");
  }
});

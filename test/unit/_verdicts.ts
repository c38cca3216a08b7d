// Verdicts to render and validate: plain data as a run would return it.
import type { NamedBlock, SideResult, Verdict } from "../../mod.ts";

/** One side's QEMU as run; `over` changes fields. */
export function sideResult(role: "a" | "b", over: Partial<SideResult> = {}): SideResult {
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

export const base: Verdict = {
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
  sides: {
    a: sideResult("a", { insns: 322_412, blocks: 80_000 }),
    b: sideResult("b", { insns: 322_412, blocks: 80_000 }),
  },
  divergence: null,
  transients: [],
  tempDir: null,
};

/** The aarch64 value pair's last blocks before instruction 2349 (the same on both sides). */
function aarch64History(): NamedBlock[] {
  return [{
    index: 2347,
    pc: 0x40080a08n,
    symbol: "main+0x18",
    insns: [{ pc: 0x40080a08n, bytes: "1f2003d5" }, { pc: 0x40080a0cn, bytes: "1f2003d5" }],
  }, {
    index: 2349,
    pc: 0x40080a10n,
    symbol: "main+0x20",
    insns: [{ pc: 0x40080a10n, bytes: "e00301aa" }, { pc: 0x40080a14n, bytes: "c0035fd6" }],
  }];
}

export const diverged: Verdict = {
  ...base,
  sides: {
    a: sideResult("a", { insns: 131_072, blocks: 30_113 }),
    b: sideResult("b", { insns: 131_072, blocks: 30_113 }),
  },
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
    history: { a: aarch64History(), b: aarch64History() },
  },
};

export const crashed: Verdict = {
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

/** Blocks of the demo's history: side b's variant differs from 0x400291 on. */
function demoHistory(role: "a" | "b"): NamedBlock[] {
  const tail = role === "a"
    ? [
      { pc: 0x400291n, bytes: "69ff93010001", disas: "imul edi,edi,0x1000193" },
      { pc: 0x400297n, bytes: "be05000000", disas: "mov esi,0x5" },
      { pc: 0x40029cn, bytes: "e84effffff", disas: "call 0x4001ef" },
    ]
    : [
      { pc: 0x400291n, bytes: "69c793010001", disas: "imul eax,edi,0x1000193" },
      { pc: 0x400297n, bytes: "40f6c701", disas: "test dil,0x1" },
      { pc: 0x40029bn, bytes: "7511", disas: "jne 0x4002ae" },
    ];
  return [
    {
      index: 3350,
      pc: 0x40021fn,
      symbol: "guest_main+0x14",
      insns: [
        { pc: 0x40021fn, bytes: "41bc00000000", disas: "mov r12d,0x0" },
        { pc: 0x400225n, bytes: "bbc59d1c81", disas: "mov ebx,0x811c9dc5" },
        { pc: 0x40022an, bytes: "41bd00244000", disas: "mov r13d,0x402400" },
        { pc: 0x400230n, bytes: "bd00204000", disas: "mov ebp,0x402000" },
        { pc: 0x400235n, bytes: "4489e6", disas: "mov esi,r12d" },
        { pc: 0x400238n, bytes: "037500", disas: "add esi,DWORD PTR [rbp+0x0]" },
        { pc: 0x40023bn, bytes: "89df", disas: "mov edi,ebx" },
        { pc: 0x40023dn, bytes: "e849000000", disas: "call 0x40028b" },
      ],
    },
    {
      index: 3358,
      pc: 0x40028bn,
      symbol: "mix_step",
      insns: [
        { pc: 0x40028bn, bytes: "4883ec08", disas: "sub rsp,0x8" },
        { pc: 0x40028fn, bytes: "31f7", disas: "xor edi,esi" },
        ...tail,
      ],
    },
  ];
}

/** The demo's divergence: the variant on side B, QEMU 7.2 (no narrowing). */
export const demo: Verdict = {
  ...base,
  status: "diverged",
  stoppedBy: "divergence",
  message: "Diverged at instruction 3362: side a at 0x40029c, side b at 0x40029b",
  insns: 3362,
  blocks: 34_356,
  wallSeconds: 1.07,
  insnsPerSecond: 122_500,
  sides: {
    a: sideResult("a", { insns: 131_072, blocks: 34_356 }),
    b: sideResult("b", { insns: 131_074, blocks: 35_584 }),
  },
  divergence: {
    insn: 3362,
    insnB: 3362,
    kind: "pc",
    narrow: {
      status: "skipped",
      why: "side a's QEMU has plugin API 1: reading registers needs API 2 (QEMU 9.0 or later)",
    },
    a: {
      pc: 0x40029cn,
      bytes: "e84effffff",
      blockPc: 0x40028bn,
      symbol: "mix_step+0x11",
      disas: "call 0x4001ef",
    },
    b: {
      pc: 0x40029bn,
      bytes: "7511",
      blockPc: 0x40028bn,
      symbol: "mix_step+0x10",
      disas: "jne 0x4002ae",
    },
    history: { a: demoHistory("a"), b: demoHistory("b") },
  },
  disassembler: { command: "objdump -d -z -w --no-show-raw-insn -m i386:x86-64 -M intel" },
  timeline: {
    a: [[0, 0], [0.248, 131_072]],
    b: [[0, 0], [0.111, 131_074], [0.139, 262_144]],
    disagreedAt: 0.139,
  },
};

const { regs: _regs, ...withoutRegs } = diverged.divergence!;

/** A memory access differs first (QEMU 10.0: values read), narrowing done. */
export const memDiverged: Verdict = {
  ...diverged,
  message: "Diverged at instruction 2349 (a memory access differs): side a at 0x40080a10, " +
    "side b at 0x40080a10",
  divergence: {
    ...withoutRegs,
    kind: "mem",
    events: {
      a: { kind: "load", address: 0x40081000n, size: 4, value: 0x79b1n },
      b: { kind: "load", address: 0x40081000n, size: 4, value: 0xca6bn },
    },
  },
};

// Comparing more than instruction addresses: memory accesses and system
// calls, on a guest pair whose only difference is one constant that feeds
// load addresses long before it changes control flow.
import { QEMU_10_0_DIR } from "../../cli/setup_qemus.ts";
import { GUESTS, runCli, symbolRange } from "./_cli.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

const g = (name: string) => GUESTS + name;
const inRange = (hex: string, [start, end]: [bigint, bigint]) =>
  BigInt(hex) >= start && BigInt(hex) < end;

Deno.test("x86_64 value pair: memory and syscall comparison find the difference long before the addresses part", async () => {
  const args = ["--json", "x86_64", g("x86_64-value"), "--image-b", g("x86_64-value-variant")];
  const pc = await runCli(["--compare", "pc", ...args]);
  const mem = await runCli(["--compare", "mem", ...args]);
  const sys = await runCli(["--compare", "syscalls", ...args]);
  for (const r of [pc, mem, sys]) equal(r.code, 1, r.stderr);
  equal(pc.json.divergence.kind, "pc");
  deepEqual(mem.json.compared, ["pc", "mem"]);
  equal(mem.json.divergence.kind, "mem");
  equal(sys.json.divergence.kind, "syscall");
  // Memory: within a few thousand instructions; the address stream parts
  // only some 300,000 instructions later, at the very end.
  ok(mem.json.divergence.insn < 10_000, `mem at ${mem.json.divergence.insn}`);
  ok(pc.json.divergence.insn > 300_000, `pc at ${pc.json.divergence.insn}`);
  ok(sys.json.divergence.insn < pc.json.divergence.insn);
  // The same instruction on both sides, a load from `table` at different places.
  equal(mem.json.divergence.a.pc, mem.json.divergence.b.pc);
  const table = await symbolRange("nm", g("x86_64-value"), "table");
  for (const side of ["a", "b"]) {
    const e = mem.json.divergence.events[side];
    equal(e.kind, "load");
    equal(e.size, 4);
    ok(inRange(e.address, table), `${e.address} outside table`);
    equal(e.value, undefined); // QEMU 7.2 (plugin API 1) has no values
  }
  ok(mem.json.divergence.events.a.address !== mem.json.divergence.events.b.address);
  // The system call is write(): the same number, other arguments.
  equal(sys.json.divergence.events.a.kind, "syscall");
  equal(sys.json.divergence.events.a.number, sys.json.divergence.events.b.number);
});

Deno.test("identical sides match with every comparison on, also one insn per TB on side B", async () => {
  for (const extra of [[], ["--extra-b=-singlestep"], ["--extra-b=-singlestep", "--chain"]]) {
    for (const image of ["x86_64-hello", "x86_64-glibc", "x86_64-value"]) {
      // The detail pass throughout: its memory and system-call events must
      // not depend on how blocks are split either.
      const r = await runCli([
        "--json",
        "--no-fast",
        "--compare",
        "pc,mem,syscalls",
        ...extra,
        "x86_64",
        g(image),
      ]);
      equal(r.code, 0, `${image} ${extra}: ${r.stderr}${r.json?.message}`);
      deepEqual(r.json.compared, ["pc", "mem", "syscalls"]);
    }
  }
});

Deno.test("QEMU 10.0 on both sides compares memory values; 7.2 against 10.0 compares what both have", async () => {
  const q10 = `${QEMU_10_0_DIR}qemu-system-aarch64`;
  const both10 = await runCli([
    "--json",
    "--compare",
    "mem",
    "--qemu",
    q10,
    "aarch64",
    g("aarch64-value.elf"),
    "--image-b",
    g("aarch64-value-variant.elf"),
  ]);
  equal(both10.code, 1, both10.stderr);
  equal(both10.json.divergence.kind, "mem");
  ok(both10.json.divergence.insn < 10_000);
  // The first access that differs may be the value loaded, or its address.
  const a = both10.json.divergence.events.a;
  ok(a.value !== undefined, "plugin API 4 on both sides: values are compared");
  const mixed = await runCli([
    "--json",
    "--compare",
    "mem",
    "--qemu-b",
    q10,
    "aarch64",
    g("aarch64-hello.elf"),
  ]);
  equal(mixed.code, 0, mixed.stderr);
  equal(mixed.json.status, "match");
});

Deno.test("comparisons that cannot be made are named, unknown ones are an error", async () => {
  const r = await runCli([
    "--json",
    "--compare",
    "pc,regs,syscalls",
    "--max-insns",
    "1000",
    "aarch64",
    g("aarch64-hello.elf"),
  ]);
  equal(r.code, 0, r.stderr);
  deepEqual(r.json.compared, ["pc"]);
  deepEqual(r.json.notCompared.map((n: { what: string }) => n.what), ["regs", "syscalls"]);
  const bad = await runCli(["--compare", "pc,vibes", "x86_64", g("x86_64-hello")]);
  equal(bad.code, 2);
  match(bad.stderr, /Unknown comparison: vibes/);
});

// The world probe's output read back, two worlds compared, and the rule
// that puts a divergence down to them (harness/verdict/world.ts).
import {
  cpuReadBefore,
  parseWorld,
  type World,
  worldDifferenceAt,
  worldEntries,
} from "../../harness/verdict/world.ts";
import type { WorldDifference } from "../../harness/verdict/verdict.ts";
import { type DumpBlock, type DumpEvent, EventKind } from "../../harness/core/protocol.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

const probe72 = `auxv 6 0x1000
auxv 16 0xfcbfbfd
auxv 25 present
auxv 15 "x86_64"
cpuid 0x00000007 0 0x00000000 0x01d843a9 0x8001020c 0x00000000
end
`;
const probe102 = `auxv 6 0x1000
auxv 16 0xfcbfbfd
auxv 25 present
auxv 33 present
auxv 15 "x86_64"
cpuid 0x00000007 0 0x00000001 0x219c47a9 0x8041020c 0x84000010
end
`;

Deno.test("a probe's output is read entry by entry, and only when whole", () => {
  const w = parseWorld(probe72)!;
  deepEqual(w.auxv.map(([t]) => t), [6, 16, 25, 15]);
  equal(w.auxv[3]![1], '"x86_64"');
  equal(w.cpu["cpuid 0x00000007 0"], "0x00000000 0x01d843a9 0x8001020c 0x00000000");
  // Cut short (no "end"), or a line the probe never prints.
  equal(parseWorld(probe72.replace("end\n", "")), undefined);
  equal(parseWorld(probe72.replace("auxv 6", "oops 6")), undefined);
});

Deno.test("two worlds differ in the entries one lacks and the leaves whose values differ", () => {
  const d = worldEntries(parseWorld(probe72)!, parseWorld(probe102)!);
  deepEqual(d, [
    { what: "auxv", name: "AT_SYSINFO_EHDR", a: null, b: "present" },
    {
      what: "cpuid",
      name: "leaf 0x00000007 subleaf 0",
      a: "0x00000000 0x01d843a9 0x8001020c 0x00000000",
      b: "0x00000001 0x219c47a9 0x8041020c 0x84000010",
    },
  ]);
  deepEqual(worldEntries(parseWorld(probe72)!, parseWorld(probe72)!), []);
  // The same entries in another order: the walk differs.
  const w = parseWorld(probe72)!;
  const swapped: World = { ...w, auxv: [w.auxv[1]!, w.auxv[0]!, ...w.auxv.slice(2)] };
  deepEqual(worldEntries(w, swapped).map((e) => e.name), ["order"]);
});

Deno.test("cpuid and aarch64 ID register reads are found, other mrs are not", () => {
  const x86: DumpBlock[] = [{
    i: 0,
    pc: 0x1000n,
    sizes: [1, 2, 3],
    bytes: "90" + "0fa2" + "4889c3",
  }];
  deepEqual(cpuReadBefore(x86, 5, "x86_64"), { insn: 1, pc: 0x1001n, name: "cpuid" });
  equal(cpuReadBefore(x86, 0, "x86_64"), undefined);
  // mrs x0, id_aa64isar0_el1 (d5380600); mrs x1, ctr_el0 (d53b0021); mrs x0, tpidr_el0 (d53bd040).
  const le = (w: number) => w.toString(16).padStart(8, "0").match(/../g)!.reverse().join("");
  const arm = (w: number): DumpBlock[] => [{ i: 0, pc: 0x400000n, sizes: [4], bytes: le(w) }];
  equal(cpuReadBefore(arm(0xd5380600), 0, "aarch64")?.name, "mrs (an ID register)");
  equal(cpuReadBefore(arm(0xd53b0021), 0, "aarch64")?.name, "mrs ctr_el0");
  equal(cpuReadBefore(arm(0xd53bd040), 0, "aarch64"), undefined);
});

const diff: WorldDifference = {
  cpu: { a: "max", b: "max" },
  entries: worldEntries(parseWorld(probe72)!, parseWorld(probe102)!),
  suggestion: "Opteron_G3",
  remaining: [{ what: "auxv", name: "AT_SYSINFO_EHDR", a: null, b: "present" }],
  tried: 57,
};
const plain: DumpBlock[] = [{ i: 0, pc: 0x1000n, sizes: [1, 1, 1], bytes: "909090" }];
const call = (pos: number): DumpEvent => ({ pos, kind: EventKind.SYSCALL, a: 12n, size: 0, v: 0n });
const run = { arch: "x86_64", sameImage: true, syscalls: true };

Deno.test("a divergence before the first system call is the vector's, with the same image only", () => {
  const side = { blocks: plain, events: [call(2)] };
  const env = worldDifferenceAt(diff, side, side, 1, run)!;
  equal(env.what, "auxv");
  deepEqual(env.entries, [diff.entries[0]]);
  equal(env.a, "AT_SYSINFO_EHDR absent");
  match(env.hint, /--extra=-cpu --extra=Opteron_G3 makes the CPUs answer the same/);
  match(env.hint, /AT_SYSINFO_EHDR still differs/);
  // After a system call: the guest has heard from the host.
  equal(worldDifferenceAt(diff, side, side, 3, run), undefined);
  // Two images: the difference may be theirs.
  equal(worldDifferenceAt(diff, side, side, 1, { ...run, sameImage: false }), undefined);
  // Calls not compared: whether one came first is unknown.
  equal(worldDifferenceAt(diff, side, side, 1, { ...run, syscalls: false }), undefined);
  // A dump that does not reach back to the first instruction.
  const late = { blocks: [{ ...plain[0]!, i: 100 }], events: [] };
  equal(worldDifferenceAt(diff, late, late, 101, run), undefined);
});

Deno.test("a divergence after a cpuid is the CPU's, named first", () => {
  const blocks: DumpBlock[] = [{ i: 0, pc: 0x1000n, sizes: [2, 1], bytes: "0fa2" + "90" }];
  const side = { blocks, events: [] };
  const env = worldDifferenceAt(diff, side, side, 1, run)!;
  equal(env.what, "cpu");
  equal(env.insn, 0);
  deepEqual(env.entries!.map((e) => e.what), ["cpuid", "auxv"]);
  // After a system call the vector no longer counts, the CPU still does.
  const called = worldDifferenceAt(diff, { blocks, events: [call(0)] }, side, 1, run)!;
  deepEqual(called.entries!.map((e) => e.what), ["cpuid"]);
  // With no cpuid before it, only the vector rule is left.
  const none = { blocks: plain, events: [] };
  ok(worldDifferenceAt(diff, none, none, 0, run)?.what === "auxv");
});

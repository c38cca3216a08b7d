import {
  diffDumps,
  type DumpBlock,
  type DumpEvent,
  type SideDump,
} from "../../harness/verdict/dump_diff.ts";
import { deepEqual, equal, ok, throws } from "../../deps/assert.ts";

/** A block of `n` 4-byte instructions at `pc`, starting at stream index `i`. */
function blk(i: number, pc: number, n: number): DumpBlock {
  return { i, pc: BigInt(pc), sizes: Array(n).fill(4), bytes: "00000000".repeat(n) };
}

function side(blocks: readonly DumpBlock[], opts: Partial<SideDump> = {}): SideDump {
  return { good: 0, bad: 0, blocks, ended: false, ...opts };
}

Deno.test("comparator", async (t) => {
  await t.step("finds no divergence when one side splits a block in two", () => {
    const a = side([blk(0, 0x100, 6), blk(6, 0x200, 2)]);
    const b = side([blk(0, 0x100, 2), blk(2, 0x108, 4), blk(6, 0x200, 2)]);
    const r = diffDumps(a, b, 8);
    equal(r.found, false);
  });

  await t.step("finds no divergence against one instruction per block", () => {
    const a = side([blk(0, 0x100, 3), blk(3, 0x100, 3)]);
    const b = side([0, 1, 2, 3, 4, 5].map((i) => blk(i, 0x100 + 4 * (i % 3), 1)));
    equal(diffDumps(a, b, 8).found, false);
  });

  await t.step("names the first instruction whose address differs, inside a block", () => {
    const a = side([blk(0, 0x100, 4), blk(4, 0x300, 1)]);
    const b = side([blk(0, 0x100, 2), blk(2, 0x108, 1), blk(3, 0x400, 2)]);
    const r = diffDumps(a, b, 2);
    ok(r.found);
    equal(r.insn, 3);
    equal(r.a?.pc, 0x10cn);
    equal(r.a?.blockPc, 0x100n);
    equal(r.b?.pc, 0x400n);
    equal(r.b?.blockPc, 0x400n);
    deepEqual(r.history.a.map((v) => v.pc), [0x100n]);
    deepEqual(r.history.b.map((v) => v.pc), [0x108n, 0x400n]);
  });

  await t.step("starts at the later agreed position both dumps cover", () => {
    // Before 4 the streams differ, but both sides agreed up to 4 by hash.
    const a = side([blk(0, 0x100, 4), blk(4, 0x200, 2)], { good: 4 });
    const b = side([blk(0, 0x900, 4), blk(4, 0x200, 1), blk(5, 0x204, 1)], { good: 0 });
    equal(diffDumps(a, b, 8).found, false);
  });

  await t.step("reports the end of one stream while the other goes on", () => {
    const a = side([blk(0, 0x100, 3)], { ended: true });
    const b = side([blk(0, 0x100, 3), blk(3, 0x500, 2)]);
    const r = diffDumps(a, b, 8);
    ok(r.found);
    equal(r.insn, 3);
    equal(r.a, undefined);
    equal(r.b?.pc, 0x500n);
    deepEqual(r.history.a.map((v) => v.pc), [0x100n]);
  });

  await t.step("does not call a dump that merely stops a divergence", () => {
    const a = side([blk(0, 0x100, 3)]);
    const b = side([blk(0, 0x100, 3), blk(3, 0x500, 2)]);
    const r = diffDumps(a, b, 8);
    equal(r.found, false);
    ok(!r.found && /dump stops/.test(r.reason));
  });

  await t.step("handles variable-length instructions", () => {
    const a = side([{ i: 0, pc: 0x10n, sizes: [1, 5, 2], bytes: "90" + "e800000000" + "7511" }]);
    const b = side([
      { i: 0, pc: 0x10n, sizes: [1], bytes: "90" },
      { i: 1, pc: 0x11n, sizes: [4, 3], bytes: "e8000000" + "0f1f00" },
      { i: 3, pc: 0x18n, sizes: [1], bytes: "c3" },
    ]);
    const r = diffDumps(side(a.blocks, { ended: true }), b, 8);
    ok(r.found);
    equal(r.insn, 2);
    equal(r.a?.pc, 0x16n);
    equal(r.b?.pc, 0x15n);
    equal(r.a?.bytes, "7511");
    equal(r.b?.bytes, "0f1f00");
  });

  await t.step("rejects a dump with a gap", () => {
    throws(() => diffDumps(side([blk(0, 0x100, 2), blk(5, 0x200, 1)]), side([]), 8), RangeError);
  });
});

Deno.test("comparator: an event that differs before the addresses do is the divergence", () => {
  const blk = (i: number, pc: number, n: number): DumpBlock => ({
    i,
    pc: BigInt(pc),
    sizes: Array(n).fill(4),
    bytes: "00000000".repeat(n),
  });
  const load = (pos: number, a: number): DumpEvent => ({
    pos,
    kind: 1,
    a: BigInt(a),
    size: 4,
    v: 0n,
  });
  const blocks = [blk(0, 0x100, 4), blk(4, 0x200, 4)];
  const base = { good: 0, bad: 8, ended: false };
  const r = diffDumps(
    { ...base, blocks, events: [load(1, 0x1000), load(5, 0x2000)] },
    {
      ...base,
      blocks: [blk(0, 0x100, 2), blk(2, 0x108, 2), blk(4, 0x200, 4)],
      events: [load(1, 0x1000), load(5, 0x2008)],
    },
    2,
  );
  ok(r.found);
  equal(r.insn, 5);
  equal(r.a?.pc, 0x204n);
  equal(r.events?.a?.a, 0x2000n);
  equal(r.events?.b?.a, 0x2008n);
  // The same events: no divergence.
  const same = diffDumps({ ...base, blocks, events: [load(1, 0x1000)] }, {
    ...base,
    blocks,
    events: [load(1, 0x1000)],
  }, 2);
  equal(same.found, false);
});

Deno.test("comparator, several vCPUs as one stream: another vCPU at the same address differs", () => {
  // Side a switches from vCPU 0 to vCPU 1 after 4 instructions, side b
  // after 6; both run the same addresses (vCPUs idling in one loop).
  const on = (b: DumpBlock, cpu: number): DumpBlock => ({ ...b, cpu });
  const a = side([on(blk(0, 0x100, 4), 0), on(blk(4, 0x100, 4), 1)], { vcpuInsns: [10, 3] });
  const b = side([on(blk(0, 0x100, 4), 0), on(blk(4, 0x100, 2), 0), on(blk(6, 0x108, 2), 1)], {
    vcpuInsns: [10, 3],
  });
  const r = diffDumps(a, b, 8);
  ok(r.found);
  equal(r.insn, 4);
  equal(r.a?.pc, r.b?.pc);
  // Each side names the vCPU that ran it and its place in that vCPU's own count.
  deepEqual([r.a?.vcpu, r.a?.vcpuInsn], [1, 3]);
  deepEqual([r.b?.vcpu, r.b?.vcpuInsn], [0, 14]);
  deepEqual(r.history.a.map((v) => v.vcpu), [0, 1]);
  // The same addresses on the same vCPUs are no difference.
  equal(diffDumps(a, side(a.blocks, { vcpuInsns: [10, 3] }), 8).found, false);
});

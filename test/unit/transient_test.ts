// The re-convergence rule of transient excursions, on synthetic dumps.
import { findReconvergence } from "../../harness/verdict/transient.ts";
import type { DumpBlock, DumpEvent, SideDump } from "../../harness/verdict/dump_diff.ts";
import { deepEqual, equal } from "../../deps/assert.ts";

const loop = (
  i: number,
  iterations: number,
  withStores: boolean,
): { blocks: DumpBlock[]; events: DumpEvent[] } => {
  // A 4-instruction loop at 0x100; `extra` instructions of a handler at 0x900 first.
  const blocks: DumpBlock[] = [];
  const events: DumpEvent[] = [];
  for (let k = 0; k < iterations; k++) {
    blocks.push({ i: i + 4 * k, pc: 0x100n, sizes: [4, 4, 4, 4], bytes: "00".repeat(16) });
    if (withStores) {
      events.push({ pos: i + 4 * k + 1, kind: 2, a: BigInt(0x8000 + 8 * k), size: 8, v: 0n });
    }
  }
  return { blocks, events };
};

Deno.test("re-convergence: one side's extra instructions, not an alignment whole iterations apart", () => {
  for (const withStores of [false, true]) {
    // Side A: the loop from position 0. Side B: the same loop with a
    // 10-instruction handler run at position 40.
    const a = loop(0, 2000, withStores);
    const b0 = loop(0, 10, withStores);
    const handler: DumpBlock = {
      i: 40,
      pc: 0x900n,
      sizes: Array(10).fill(4),
      bytes: "00".repeat(40),
    };
    const rest = loop(50, 1990, false);
    const b: SideDump = {
      good: 0,
      bad: 8000,
      ended: false,
      blocks: [...b0.blocks, handler, ...rest.blocks],
      events: [
        ...b0.events,
        ...(withStores
          ? rest.blocks.map((blk, k) => ({
            pos: blk.i + 1,
            kind: 2,
            a: BigInt(0x8000 + 8 * (k + 10)),
            size: 8,
            v: 0n,
          }))
          : []),
      ],
    };
    const sa: SideDump = { good: 0, bad: 8000, ended: false, ...a };
    deepEqual(findReconvergence(sa, b, 40, 1000, 256), { a: 40, b: 50 }, `stores: ${withStores}`);
    // No match within a window too small for the excursion.
    equal(findReconvergence(sa, b, 40, 5, 256), undefined);
  }
});

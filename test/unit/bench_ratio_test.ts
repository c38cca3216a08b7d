import { deepEqual, equal, ok } from "../../deps/assert.ts";
import { median, pairedRatio } from "../../bench/measure.ts";
import { compressorInput } from "../../bench/workloads.ts";

const s = (...xs: number[]) => xs.map((seconds) => ({ seconds }));

Deno.test("the paired ratio is the median of each round's own ratio", () => {
  // The machine slows down in the last two rounds: both runs of a round
  // see it, so each round's ratio stays 1.2 or so.
  const count = s(10, 10, 15, 15, 10);
  const lockstep = s(12, 12.5, 18, 18, 11);
  equal(pairedRatio(lockstep, count), 1.2);
  // The ratio of the medians pairs a slow round's lockstep with a fast round's count.
  equal(median(lockstep.map((x) => x.seconds)) / median(count.map((x) => x.seconds)), 1.25);
  equal(pairedRatio(s(3), s(2)), 1.5);
});

Deno.test("the compressor's input is the same text every time, of the size asked", () => {
  const a = compressorInput(100_003);
  const b = compressorInput(100_003);
  equal(a.length, 100_003);
  deepEqual(a, b);
  // Words and numbers, spaces and newlines: printable text that compresses.
  ok(a.every((c) => c === 0x0a || (c >= 0x20 && c < 0x7f)));
  ok(a.includes(0x0a));
  deepEqual(compressorInput(4096), a.subarray(0, 4096));
});

import { equal } from "../../deps/assert.ts";
import { median, pairedRatio } from "../../bench/measure.ts";

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

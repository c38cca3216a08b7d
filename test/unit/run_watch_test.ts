import assert from "node:assert/strict";
import { StallWatch } from "../../harness/run/run_watch.ts";
import type { SidePair } from "../../harness/run/side_pair.ts";

/** A pair whose QEMUs have exited (no /proc look-up), for the stall rule alone. */
const exitedPair = {
  sides: {
    a: { plan: { role: "a" }, exitStatus: { code: 0 }, child: { pid: 0 } },
    b: { plan: { role: "b" }, exitStatus: { code: 0 }, child: { pid: 0 } },
  },
} as unknown as SidePair;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("StallWatch: only instructions that ran keep a run alive", async (t) => {
  await t.step("progress reports that repeat the same counts are a stall", async () => {
    const w = new StallWatch(exitedPair, 0.05);
    w.heard(true, { a: 100, b: 0 });
    for (let i = 0; i < 4; i++) {
      await sleep(20);
      w.heard(true, { a: 100, b: 0 });
    }
    const why = w.check();
    assert.match(
      why ?? "",
      /No instruction ran on either side for \d+ s \(side a at 100, side b at 0\)/,
    );
    assert.match(why ?? "", /side b never ran its guest/);
  });
  await t.step("a count that grows is progress", async () => {
    const w = new StallWatch(exitedPair, 0.05);
    for (let i = 1; i <= 4; i++) {
      await sleep(20);
      w.heard(true, { a: 100 * i, b: 100 * i });
    }
    assert.equal(w.check(), undefined);
  });
  await t.step("a message that is not a progress report (a dump, an end) is progress", async () => {
    const w = new StallWatch(exitedPair, 0.05);
    for (let i = 0; i < 4; i++) {
      await sleep(20);
      w.heard(false, { a: 5, b: 5 });
    }
    assert.equal(w.check(), undefined);
  });
  await t.step("both sides idle at a count: stalled, without blaming one side", async () => {
    const w = new StallWatch(exitedPair, 0.05);
    w.heard(true, { a: 7, b: 9 });
    await sleep(80);
    const why = w.check() ?? "";
    assert.match(why, /side a at 7, side b at 9/);
    assert.doesNotMatch(why, /never ran its guest/);
  });
});

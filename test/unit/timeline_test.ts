// The run's timeline: what the plugins reported, when, bounded in size.
import { TIMELINE_POINTS, TimelineRecorder } from "../../harness/verdict/timeline.ts";
import type { PluginMessage } from "../../harness/core/protocol.ts";
import { deepEqual, equal, ok } from "../../deps/assert.ts";

const counts = (insns: number) => ({ insns, blocks: insns >> 2, rss: 1 });
const progress = (insns: number) => ({ t: "progress", ...counts(insns) }) as PluginMessage;

Deno.test("the timeline records each side's count when it was reported, and the disagreement", () => {
  const t = new TimelineRecorder();
  t.hear("a", 0.25, progress(131_072));
  t.hear("b", 0.2504, progress(131_072));
  t.hear("a", 0.3, { t: "blk" } as unknown as PluginMessage); // not a count: ignored
  t.hear("a", 0.5, {
    t: "diverged",
    good: 131_072,
    bad: 262_144,
    insns: 262_144,
    origin: 0,
    complete: true,
  });
  t.hear("b", 0.6, { t: "limit", at: 300_000, atHash: "0x1", ...counts(300_000) });
  t.hear("b", 0.7, { t: "end", hash: "0x1", tail: 0, ...counts(300_001) });
  deepEqual(t.result(), {
    a: [[0, 0], [0.25, 131_072], [0.5, 262_144]],
    b: [[0, 0], [0.25, 131_072], [0.6, 300_000], [0.7, 300_001]],
    disagreedAt: 0.5,
  });
});

Deno.test("a long run keeps at most TIMELINE_POINTS a side, the first and the latest among them", () => {
  const t = new TimelineRecorder();
  for (let i = 1; i <= 10_000; i++) t.hear("a", i * 0.25, progress(i * 131_072));
  const a = t.result().a;
  ok(a.length <= TIMELINE_POINTS, `${a.length} points`);
  ok(a.length >= TIMELINE_POINTS / 2, `${a.length} points`);
  deepEqual(a[0], [0, 0]);
  deepEqual(a.at(-1), [2500, 10_000 * 131_072]);
  // Still in time order, spread over the whole run.
  ok(a.every((p, i) => i === 0 || p[0] > a[i - 1]![0]));
  ok(a.some(([s]) => s > 1000 && s < 1500));
  equal(t.result().disagreedAt, null);
});

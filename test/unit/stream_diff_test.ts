// Comparing a live record stream with a trace: real traces of the bundled
// guest and its variant (testdata/, recorded by the plugin on QEMU 7.2),
// one played as the live stream through the comparer's sink.
import { chunkDifference, StreamDiffer } from "../../harness/golden/stream_diff.ts";
import { openTrace, readChunk, type Trace, traceBytes } from "../../harness/trace/reader.ts";
import { deepEqual, equal, ok } from "../../deps/assert.ts";

const TESTDATA = new URL("./testdata/", import.meta.url).pathname;
const open = async (name: string) =>
  openTrace(traceBytes(await Deno.readFile(`${TESTDATA}${name}`)), name);

/** Plays `live`'s chunks into the comparer as the record stream would, in frames of `frame` bytes. */
async function play(c: StreamDiffer, live: Trace, frame = 64): Promise<void> {
  for (const e of live.chunks) {
    const raw = await readChunk(live, e);
    await c.chunk(e.index, e.p0, e.t0);
    for (let o = 0; o < raw.jumpBytes.length; o += frame) {
      await c.jumps(
        o + frame >= raw.jumpBytes.length ? raw.jumps : 0,
        raw.jumpBytes.subarray(o, o + frame),
      );
    }
    if (raw.jumpBytes.length === 0) await c.jumps(raw.jumps, new Uint8Array(0));
    await c.detail(raw.detailBytes);
  }
  await c.finish(Infinity);
}

Deno.test("the same stream compares equal, chunk by chunk", async () => {
  const t = await open("hello-7.2.trace");
  const c = new StreamDiffer(t, 0);
  await play(c, t);
  equal(c.diff, undefined);
});

Deno.test("the variant's stream differs first where the straight run before the jump at 3363 ends elsewhere", async () => {
  const t = await open("hello-7.2.trace");
  const v = await open("hello-variant-7.2.trace");
  let called = 0;
  const c = new StreamDiffer(t, 0);
  c.onDiff = () => called++;
  await play(c, v);
  equal(called, 1);
  const d = c.diff!;
  equal(d.kind, "jump");
  if (d.kind !== "jump") return;
  equal(d.pos, 3363);
  // Both jump there, from where each side's instruction 3362 was: the
  // live pair names 3362 (0x40029c against 0x40029b).
  equal(d.trace?.src, 0x40029cn);
  equal(d.live?.src, 0x40029bn);
  deepEqual(d.before, { pos: 3358, target: 0x40028bn });
});

Deno.test("a difference past where the live run stopped is none", async () => {
  const t = await open("hello-7.2.trace");
  const v = await open("hello-variant-7.2.trace");
  const [rt, rv] = [await readChunk(t, t.chunks[0]!), await readChunk(v, v.chunks[0]!)];
  equal(chunkDifference(rt, rv, 3363, "t"), undefined);
  ok(chunkDifference(rt, rv, 3364, "t"));
});

Deno.test("a system call that differs is named at its instruction", async () => {
  const t = await open("hello-7.2.trace");
  const raw = await readChunk(t, t.chunks[0]!);
  // The same stream, its first system call's argument hash changed.
  const detail = raw.detailBytes.slice();
  const at = detail.length - 20;
  detail[at] = detail[at]! ^ 1;
  const d = chunkDifference(raw, { ...raw, detailBytes: detail }, Infinity, "t");
  equal(d?.kind, "detail");
  ok(d && d.pos > 315_000 && d.pos < 315_802);
});

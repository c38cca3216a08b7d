// Comparing a live record stream with a trace: real traces of the bundled
// guest and its variant (testdata/, recorded by the plugin on QEMU 7.2),
// one played as the live stream through the comparer's sink; then the diff
// core (chunkDifference) on chunks written for each case.
import {
  chunkDifference,
  type StreamDiff,
  StreamDiffer,
} from "../../harness/golden/stream_diff.ts";
import type { ChunkStart, Detail, Jump } from "../../harness/trace/codec.ts";
import {
  openTrace,
  type RawChunk,
  readChunk,
  type Trace,
  traceBytes,
} from "../../harness/trace/reader.ts";
import { encodeDetail, encodeJumps } from "./_trace_encode.ts";
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

// The diff core on chunks written for the case (the encoder of
// _trace_encode.ts): which difference is the first, and what each side had.
const START: ChunkStart = { index: 0, size: 1000, p0: 0, t0: 0x1000n };

/** A chunk holding `jumps` and `details`, encoded as record.c does. */
function chunk(jumps: readonly Jump[], details: readonly Detail[] = [], start = START): RawChunk {
  return {
    start,
    jumps: jumps.length,
    jumpBytes: encodeJumps(start, jumps),
    detailBytes: encodeDetail(start, details),
  };
}

/** A loop of 4 instructions at 0x1000, jumping back from 0x100c every 4 from position 10. */
const loop = (n: number, from = 10): Jump[] =>
  Array.from({ length: n }, (_, i) => ({ pos: from + 4 * i, src: 0x100cn, target: 0x1000n }));

const sys = (pos: number, number = 1n): Detail[] => [
  { kind: "syscall", pos, number, args: 0xabcdn },
  { kind: "sysout", pos, number, offset: 0, value: 0x6f6c6c6568n },
  { kind: "sysret", pos, number, ret: 5n },
];
const regs = (...at: number[]): Detail[] => at.map((pos) => ({ kind: "regs", pos, hash: 0x5555n }));

/** The jump difference `d` is (fails on another kind). */
function jumpDiff(d: StreamDiff | undefined): Extract<StreamDiff, { kind: "jump" }> {
  ok(d?.kind === "jump", `expected a jump difference, got ${d?.kind}`);
  return d;
}

/** The detail difference `d` is (fails on another kind). */
function detailDiff(d: StreamDiff | undefined): Extract<StreamDiff, { kind: "detail" }> {
  ok(d?.kind === "detail", `expected a detail difference, got ${d?.kind}`);
  return d;
}

Deno.test("the first difference between two chunks names each side's jump and the last one both agree on", async (t) => {
  const base = loop(5);
  await t.step("chunks that agree have none", () => {
    equal(chunkDifference(chunk(base, sys(30)), chunk(base, sys(30)), Infinity, "t"), undefined);
    equal(chunkDifference(chunk([]), chunk([]), Infinity, "t"), undefined);
  });

  await t.step("the same bytes from another start are not the same jumps", () => {
    const other = { ...START, t0: 0x2000n };
    const live = { ...chunk(base), start: other };
    const d = jumpDiff(chunkDifference(chunk(base), live, Infinity, "t"));
    equal(d.pos, 10);
    equal(d.trace?.src, 0x100cn);
    equal(d.live?.src, 0x200cn);
    deepEqual(d.before, { pos: 0, target: 0x2000n });
  });

  await t.step("a jump elsewhere at the same position: both, after the last that agrees", () => {
    const live = [...base.slice(0, 3), { pos: 22, src: 0x100cn, target: 0x3000n }, ...loop(1, 26)];
    const d = jumpDiff(chunkDifference(chunk(base), chunk(live), Infinity, "t"));
    equal(d.pos, 22);
    deepEqual(d.trace, base[3]);
    deepEqual(d.live, live[3]);
    deepEqual(d.before, { pos: 18, target: 0x1000n });
  });

  await t.step("the first jump differs: what both agree on is the chunk's start", () => {
    const live = [{ pos: 10, src: 0x100cn, target: 0x3000n }];
    const d = jumpDiff(chunkDifference(chunk(base), chunk(live), Infinity, "t"));
    deepEqual(d.before, { pos: START.p0, target: START.t0 });
  });

  await t.step("a jump one side has and the other does not: none on that side", () => {
    // The live loop runs 5 instructions once (its jump at 19, not 18).
    const live = [...base.slice(0, 2), ...loop(3, 19)];
    const d = jumpDiff(chunkDifference(chunk(base), chunk(live), Infinity, "t"));
    equal(d.pos, 18);
    deepEqual(d.trace, base[2]);
    equal(d.live, undefined);
    // The other way round.
    const r = jumpDiff(chunkDifference(chunk(live), chunk(base), Infinity, "t"));
    equal(r.pos, 18);
    equal(r.trace, undefined);
    deepEqual(r.live, base[2]);
  });

  await t.step("a live run that stops early, or a trace with nothing in the chunk", () => {
    const d = jumpDiff(chunkDifference(chunk(base), chunk(base.slice(0, 2)), Infinity, "t"));
    equal(d.pos, 18);
    equal(d.live, undefined);
    deepEqual(d.before, { pos: 14, target: 0x1000n });
    const e = jumpDiff(chunkDifference(chunk([]), chunk(base), Infinity, "t"));
    equal(e.pos, 10);
    equal(e.trace, undefined);
    deepEqual(e.before, { pos: START.p0, target: START.t0 });
  });

  await t.step("a difference at or past upTo is none", () => {
    const live = base.slice(0, 2);
    equal(chunkDifference(chunk(base), chunk(live), 18, "t"), undefined);
    equal(jumpDiff(chunkDifference(chunk(base), chunk(live), 19, "t")).pos, 18);
  });
});

Deno.test("the first detail record that differs is named, with the last register snapshot both agree on", async (t) => {
  const jumps = loop(5);
  await t.step("each field of a system call's records counts", () => {
    const trace = sys(30);
    const changed: Detail[][] = [
      [{ ...trace[0]!, number: 2n } as Detail, ...trace.slice(1)],
      [{ ...trace[0]!, args: 0xabcen } as Detail, ...trace.slice(1)],
      [trace[0]!, { ...trace[1]!, offset: 8 } as Detail, trace[2]!],
      [trace[0]!, { ...trace[1]!, value: 0x6f6c6c6569n } as Detail, trace[2]!],
      [...trace.slice(0, 2), { ...trace[2]!, ret: 4n } as Detail],
    ];
    for (const [k, live] of changed.entries()) {
      const d = detailDiff(chunkDifference(chunk(jumps, trace), chunk(jumps, live), Infinity, "t"));
      equal(d.pos, 30, `change ${k}`);
      const at = k < 2 ? 0 : k < 4 ? 1 : 2;
      deepEqual(d.trace, trace[at], `change ${k}`);
      deepEqual(d.live, live[at], `change ${k}`);
    }
  });

  await t.step("a record of another kind at the same position", () => {
    const trace = sys(30);
    const live = [trace[0]!, trace[2]!];
    const d = detailDiff(chunkDifference(chunk(jumps, trace), chunk(jumps, live), Infinity, "t"));
    deepEqual([d.trace?.kind, d.live?.kind], ["sysout", "sysret"]);
  });

  await t.step("a record one side lacks at the end", () => {
    const d = detailDiff(
      chunkDifference(chunk(jumps, sys(30)), chunk(jumps, sys(30).slice(0, 2)), Infinity, "t"),
    );
    equal(d.trace?.kind, "sysret");
    equal(d.live, undefined);
  });

  await t.step("a register snapshot: the last one both agree on, if any", () => {
    const trace = regs(10, 18, 26);
    const late = [...regs(10, 18), { kind: "regs", pos: 26, hash: 0x6666n } as Detail];
    const d = detailDiff(chunkDifference(chunk(jumps, trace), chunk(jumps, late), Infinity, "t"));
    equal(d.pos, 26);
    equal(d.lastRegs, 18);
    const first = [{ kind: "regs", pos: 10, hash: 0x6666n } as Detail, ...regs(18, 26)];
    const e = detailDiff(chunkDifference(chunk(jumps, trace), chunk(jumps, first), Infinity, "t"));
    equal(e.pos, 10);
    equal(e.lastRegs, undefined);
  });

  await t.step("a difference at or past upTo is none", () => {
    const live = [...sys(30).slice(0, 2), { ...sys(30)[2]!, ret: 4n } as Detail];
    equal(chunkDifference(chunk(jumps, sys(30)), chunk(jumps, live), 30, "t"), undefined);
    equal(detailDiff(chunkDifference(chunk(jumps, sys(30)), chunk(jumps, live), 31, "t")).pos, 30);
  });
});

Deno.test("of a differing jump and a differing detail record, the earlier is the answer", async (t) => {
  const base = loop(5);
  const moved = [...base.slice(0, 3), { pos: 22, src: 0x100cn, target: 0x3000n }];
  const other = (pos: number) => sys(pos).map((d) => ({ ...d, number: 2n }) as Detail);
  await t.step("the record before the jump", () => {
    const d = chunkDifference(chunk(base, sys(20)), chunk(moved, other(20)), Infinity, "t");
    equal(detailDiff(d).pos, 20);
  });
  await t.step("the jump before the record", () => {
    const d = chunkDifference(chunk(base, sys(24)), chunk(moved, other(24)), Infinity, "t");
    equal(jumpDiff(d).pos, 22);
  });
  await t.step("at the same instruction, the jump: where control went comes first", () => {
    const d = chunkDifference(chunk(base, sys(22)), chunk(moved, other(22)), Infinity, "t");
    equal(jumpDiff(d).pos, 22);
  });
});

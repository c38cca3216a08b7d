// The trace file: written and read back whole, jumps decoded as record.c
// encodes them, and a file that is not a whole trace refused with a
// sentence that says what is wrong.
import { DecisionLog, eachDecision } from "../../harness/trace/decisions.ts";
import { decodeDetail, decodeJumps, type Jump } from "../../harness/trace/codec.ts";
import { TraceError, type TraceHeader, type TraceSummary } from "../../harness/trace/format.ts";
import { openTrace, readChunk, traceBytes, traceFile } from "../../harness/trace/reader.ts";
import { TraceWriter } from "../../harness/trace/writer.ts";
import { encodeJumps } from "./_trace_encode.ts";
import { deepEqual, equal, match, rejects } from "../../deps/assert.ts";

const TESTDATA = new URL("./testdata/", import.meta.url).pathname;

const header: TraceHeader = {
  format: 1,
  tool: "qemu-lockstep test",
  created: "2026-11-29T00:00:00.000Z",
  host: { hostname: "test", os: "linux", arch: "x86_64" },
  qemu: { path: "/usr/bin/qemu-x86_64", version: "7.2.22", pluginApi: 1 },
  arch: "x86_64",
  mode: "user",
  image: { name: "hello", sha256: "0".repeat(64), bytes: 1 },
  options: {
    bios: false,
    extra: [],
    guestArgs: [],
    guestName: "hello",
    maxInsns: null,
    maskRegs: [],
  },
  argv: ["qemu-x86_64", "hello"],
  compared: ["pc", "syscalls"],
  outputs: false,
  registers: [],
  interval: 1000,
  chunk: 1000,
  detail: 0,
};

const summary = (insns: number): TraceSummary => ({
  end: { kind: "end", insns, hash: "0x00000000000000ff", tail: 0 },
  blocks: 10,
  jumps: 0,
  exit: { code: 0, signal: null },
  output: { text: "hi\n", bytes: 3, sha256: "", truncated: false },
  seconds: 1,
  peakRssKb: 1,
});

/** A loop: a run of 3 from 0x1000 back to itself, n times, then out. */
function loopJumps(from: number, n: number): Jump[] {
  const out: Jump[] = [];
  for (let i = 0; i < n; i++) out.push({ pos: from + 3 * i, src: 0x1008n, target: 0x1000n });
  out.push({ pos: from + 3 * n, src: 0x1008n, target: 0x2000n });
  return out;
}

Deno.test("jumps round trip through the encoding: loops, alternating runs, new and known targets, addresses that go down", () => {
  const start = { index: 2, size: 1 << 20, p0: 2 * (1 << 20) - 5, t0: 0xffff_ffff_8000_0000n };
  const jumps: Jump[] = [
    { pos: start.index * start.size, src: 0xffff_ffff_8000_0010n, target: 0x1000n },
    ...loopJumps(start.index * start.size + 10, 100),
  ];
  // Two runs from 0x2000 that alternate (the second way), and a jump back down.
  let p = jumps.at(-1)!.pos;
  for (let i = 0; i < 50; i++) {
    p += 2;
    jumps.push({ pos: p, src: 0x2004n, target: i % 3 ? 0x2000n : 0x3000n });
    if (i % 3 === 0) {
      p += 1;
      jumps.push({ pos: p, src: 0x3000n, target: 0x2000n });
    }
  }
  jumps.push({ pos: p + 7, src: 0x2010n, target: 0x10n });
  const bytes = encodeJumps(start, jumps);
  deepEqual([...decodeJumps(start, bytes, jumps.length, "test")], jumps);
  // A loop's repeats cost nothing: far fewer bytes than jumps.
  equal(bytes.length < jumps.length, true);
});

/** Decisions packed from [position, thread] pairs. */
function decisions(pairs: readonly [number, number][]): Uint8Array {
  const log = new DecisionLog();
  for (const [pos, thread] of pairs) log.push(pos, thread);
  return log.bytes.slice();
}

/** A guest threads' order: thread 1 from 10, thread 0 from 25, on at a quantum point (70). */
const order = decisions([[10, 1], [25, 0], [70, 0]]);

Deno.test("a version 2 trace (before the threads' order) reads as one with no decisions", async () => {
  const t = await openTrace(await traceFile(`${TESTDATA}hello-7.2.trace`), "hello-7.2.trace");
  equal(t.header.format, 2);
  equal(t.decisions.length, 0);
});

Deno.test("a trace whose threads' order goes back is a TraceError", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lockstep-test-" });
  try {
    const path = `${dir}/t.trace`;
    {
      await using w = await TraceWriter.create(path);
      await w.finish(header, [1n, 2n, 3n], decisions([[25, 0], [10, 1]]), summary(3500));
    }
    await rejects(
      async () => await openTrace(await traceFile(path), path),
      TraceError,
      "its threads' decision 1 is out of order",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a trace is written under a temporary name, read back whole, and chunks decode alone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lockstep-test-" });
  try {
    const path = `${dir}/t.trace`;
    const chunks = [0, 3].map((index) => {
      const start = { index, size: 1000, p0: index * 1000 - (index ? 1 : 0), t0: 0x1000n };
      const jumps = loopJumps(index * 1000, 50);
      return { start, jumps, bytes: encodeJumps(start, jumps) };
    });
    {
      await using w = await TraceWriter.create(path);
      await w.header(header);
      for (const c of chunks) {
        await w.beginChunk(c.start.index, c.start.p0, c.start.t0);
        await w.jumps(c.jumps.length, c.bytes);
      }
      // Nothing at `path` until the trace is whole.
      await rejects(() => Deno.stat(path), Deno.errors.NotFound);
      await w.finish(header, [1n, 2n, 3n], order, summary(3500));
    }
    deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["t.trace"]);
    const t = await openTrace(await traceFile(path), path);
    deepEqual(t.header, header);
    deepEqual(t.summary, summary(3500));
    deepEqual(t.checkpoints, [1n, 2n, 3n]);
    deepEqual([...t.decisions], [...order]);
    deepEqual([...eachDecision(t.decisions)][1], { pos: 25n, thread: 0n });
    equal(t.chunks.length, 2);
    const raw = await readChunk(t, t.chunks[1]!);
    deepEqual([...decodeJumps(raw.start, raw.jumpBytes, raw.jumps, "t")], chunks[1]!.jumps);
    deepEqual([...decodeDetail(raw.start, raw.detailBytes, "t")], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a trace writer disposed before finishing leaves no file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lockstep-test-" });
  try {
    {
      await using w = await TraceWriter.create(`${dir}/t.trace`);
      await w.header(header);
      await w.beginChunk(0, 0, 0n);
      await w.jumps(1, new Uint8Array([0, 1, 0, 0, 2]));
    }
    deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a file that is not a whole trace is a TraceError that says what is wrong", async (t) => {
  const real = await Deno.readFile(`${TESTDATA}hello-7.2.trace`);
  const open = (bytes: Uint8Array) => openTrace(traceBytes(bytes), "t.trace");
  const fails = async (bytes: Uint8Array, text: RegExp) => {
    const e = await open(bytes).then(() => undefined, (x) => x as Error);
    equal(e instanceof TraceError, true, String(e));
    match(e!.message, text);
  };
  await t.step("a real trace opens", async () => {
    const tr = await open(real);
    equal(tr.summary.end.insns, 315_802);
    deepEqual(tr.header.compared, ["pc", "syscalls"]);
  });
  await t.step(
    "cut short",
    () => fails(real.slice(0, real.length - 10), /t\.trace is truncated: its end is missing/),
  );
  await t.step(
    "empty",
    () => fails(new Uint8Array(0), /t\.trace is truncated: it has only 0 bytes/),
  );
  await t.step(
    "another file",
    () =>
      fails(
        new TextEncoder().encode("#!/bin/sh\necho hello, this is no trace at all\n"),
        /is not a trace: it does not start with QLSTRACE/,
      ),
  );
  await t.step("a newer format", () => {
    const b = real.slice();
    b[8] = 4;
    return fails(b, /format version 4; this qemu-lockstep reads versions 2 and 3/);
  });
  await t.step("an older format (system calls hashed otherwise)", () => {
    const b = real.slice();
    b[8] = 1;
    return fails(b, /format version 1; this qemu-lockstep reads versions 2 and 3/);
  });
  await t.step("a damaged header", () => {
    const b = real.slice();
    b[30] = b[30]! ^ 0x20;
    return fails(b, /is damaged: its header does not match its checksum/);
  });
  await t.step("a damaged chunk is found when read", async () => {
    const tr = await open(real);
    const b = real.slice();
    const at = tr.chunks[0]!.jumpsAt + 1;
    b[at] = b[at]! ^ 1;
    const damaged = await open(b);
    const e = await readChunk(damaged, damaged.chunks[0]!).catch((x) => x as Error);
    equal(e instanceof TraceError, true);
    match((e as Error).message, /chunk 0 is damaged: its jumps do not match their checksum/);
  });
});

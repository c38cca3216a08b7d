// The trace reader against damaged files: thousands of real traces
// (testdata/, recorded by the plugin) with bytes flipped, inserted,
// deleted or cut off, and raw chunks damaged past their checksums. Each
// must come to an answer or a TraceError, never another exception, a
// hang or an answer of absurd size, and quickly.
import { decodeDetail, decodeJumps } from "../../harness/trace/codec.ts";
import { TraceError } from "../../harness/trace/format.ts";
import { openTrace, readChunk, type Trace, traceBytes } from "../../harness/trace/reader.ts";
import { equal, ok } from "../../deps/assert.ts";

const TESTDATA = new URL("./testdata/", import.meta.url).pathname;
const TRACES = [
  "hello-7.2.trace",
  "hello-variant-7.2.trace",
  "value-10.2.trace",
  "sparc-bios-7.2.trace",
];

/** A small seeded generator (xorshift32): the same cases every run. */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

/** Everything a reader can be asked of a trace: open it and decode every chunk. */
async function readAll(bytes: Uint8Array): Promise<number> {
  const t = await openTrace(traceBytes(bytes), "fuzz.trace");
  let n = 0;
  for (const c of t.chunks) {
    const raw = await readChunk(t, c);
    for (const _ of decodeJumps(raw.start, raw.jumpBytes, raw.jumps, "fuzz")) n++;
    for (const _ of decodeDetail(raw.start, raw.detailBytes, "fuzz")) n++;
  }
  return n;
}

/** One damaged copy of `real`. */
function damage(real: Uint8Array, r: (n: number) => number): Uint8Array {
  const b = real.slice();
  switch (r(4)) {
    case 0: // bytes flipped
      for (let k = 1 + r(4); k > 0; k--) {
        const i = r(b.length);
        b[i] = b[i]! ^ (1 + r(255));
      }
      return b;
    case 1: // cut short
      return b.slice(0, r(b.length));
    case 2: { // bytes inserted
      const i = r(b.length);
      const extra = Uint8Array.from({ length: 1 + r(16) }, () => r(256));
      const out = new Uint8Array(b.length + extra.length);
      out.set(b.subarray(0, i));
      out.set(extra, i);
      out.set(b.subarray(i), i + extra.length);
      return out;
    }
    default: { // bytes deleted
      const i = r(b.length);
      return new Uint8Array([...b.subarray(0, i), ...b.subarray(i + 1 + r(16))]);
    }
  }
}

Deno.test("thousands of damaged real traces: each an answer or a TraceError, and fast", async () => {
  const r = rng(14);
  let errors = 0;
  let answers = 0;
  const started = performance.now();
  for (const name of TRACES) {
    const real = await Deno.readFile(`${TESTDATA}${name}`);
    const whole = await readAll(real);
    for (let i = 0; i < 1000; i++) {
      const b = damage(real, r);
      const t0 = performance.now();
      try {
        const n = await readAll(b);
        // An answer is only possible when the damage missed every checked byte.
        equal(n, whole, `${name} case ${i}: a damaged trace read as another`);
        answers++;
      } catch (e) {
        if (!(e instanceof TraceError)) throw new Error(`${name} case ${i}: ${(e as Error).stack}`);
        errors++;
      }
      ok(performance.now() - t0 < 1000, `${name} case ${i} took too long`);
    }
  }
  ok(errors > 3900, `${errors} errors, ${answers} answers`);
  ok(performance.now() - started < 60_000);
});

Deno.test("raw chunks damaged past their checksums: the decoders answer or throw a TraceError, within the chunk's bounds", async () => {
  const r = rng(41);
  let checked = 0;
  for (const name of TRACES) {
    const real = await Deno.readFile(`${TESTDATA}${name}`);
    const t: Trace = await openTrace(traceBytes(real), name);
    for (const c of t.chunks) {
      const raw = await readChunk(t, c);
      const end = (raw.start.index + 1) * raw.start.size;
      for (let i = 0; i < 100; i++) {
        const jumps = raw.jumpBytes.slice(0, raw.jumpBytes.length - r(3));
        for (let k = 1 + r(3); k > 0 && jumps.length; k--) {
          const at = r(jumps.length);
          jumps[at] = r(256);
        }
        const detail = raw.detailBytes.slice();
        if (detail.length) detail[r(detail.length)] = r(256);
        const count = raw.jumps + r(3) - 1;
        try {
          let n = 0;
          let last = -1;
          for (const j of decodeJumps(raw.start, jumps, Math.max(0, count), "fuzz")) {
            ok(j.pos >= last && j.pos < end, `jump at ${j.pos} outside the chunk`);
            last = j.pos;
            n++;
          }
          ok(n <= Math.max(0, count));
          for (const d of decodeDetail(raw.start, detail, "fuzz")) ok(d.pos < end);
        } catch (e) {
          if (!(e instanceof TraceError)) throw new Error(`${name}: ${(e as Error).stack}`);
        }
        checked++;
      }
    }
  }
  ok(checked >= 400);
});

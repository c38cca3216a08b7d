/**
 * Comparing a live run's record stream with a trace, chunk by chunk, as
 * the live run records: chunks whose bytes are the same hold the same
 * jumps and detail records (the encoding depends on nothing else), so
 * only the first chunk that differs is decoded, and the first jump or
 * detail record that differs in it is the answer. Memory holds one live
 * chunk at a time.
 */
import type { RecordSink } from "./record_stream.ts";
import {
  type ChunkStart,
  decodeDetail,
  decodeJumps,
  type Detail,
  type Jump,
} from "../trace/codec.ts";
import { type RawChunk, readChunk, type Trace } from "../trace/reader.ts";
import { concat } from "../trace/writer.ts";

/** The first difference between the trace's stream and the live one. */
export type StreamDiff =
  | {
    readonly kind: "jump";
    /** The earlier of the two differing jumps' positions. */
    readonly pos: number;
    /** Each side's jump there (undefined: its next one is later, or none). */
    readonly trace: Jump | undefined;
    readonly live: Jump | undefined;
    /** The last jump both agree on: its position and target (the chunk's start state if none). */
    readonly before: { readonly pos: number; readonly target: bigint };
  }
  | {
    readonly kind: "detail";
    readonly pos: number;
    readonly trace: Detail | undefined;
    readonly live: Detail | undefined;
    /** The last register snapshot both agree on in the chunk, if any. */
    readonly lastRegs: number | undefined;
  };

const sameJump = (x: Jump, y: Jump) => x.pos === y.pos && x.src === y.src && x.target === y.target;

function sameDetail(x: Detail, y: Detail): boolean {
  if (x.kind !== y.kind || x.pos !== y.pos) return false;
  switch (x.kind) {
    case "syscall":
      return y.kind === "syscall" && x.number === y.number && x.args === y.args;
    case "sysret":
      return y.kind === "sysret" && x.number === y.number && x.ret === y.ret;
    case "sysout":
      return y.kind === "sysout" && x.number === y.number && x.offset === y.offset &&
        x.value === y.value;
    case "regs":
      return y.kind === "regs" && x.hash === y.hash;
  }
}

/** An empty chunk with another's start (a side that has nothing there). */
function empty(like: ChunkStart): RawChunk {
  return { start: like, jumps: 0, jumpBytes: new Uint8Array(0), detailBytes: new Uint8Array(0) };
}

function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * The first difference between two chunks of the same index, ignoring
 * positions at or past `upTo`; undefined when they agree.
 */
export function chunkDifference(
  trace: RawChunk,
  live: RawChunk,
  upTo: number,
  what: string,
): StreamDiff | undefined {
  if (
    trace.start.p0 === live.start.p0 && trace.start.t0 === live.start.t0 &&
    trace.jumps === live.jumps && sameBytes(trace.jumpBytes, live.jumpBytes) &&
    sameBytes(trace.detailBytes, live.detailBytes)
  ) {
    return undefined;
  }
  let jump: StreamDiff | undefined;
  const tj = decodeJumps(
    trace.start,
    trace.jumpBytes,
    trace.jumps,
    `${what}'s chunk ${trace.start.index}`,
  );
  const lj = decodeJumps(
    live.start,
    live.jumpBytes,
    live.jumps,
    `the live run's chunk ${live.start.index}`,
  );
  let before = { pos: live.start.p0, target: live.start.t0 };
  for (;;) {
    const x = tj.next().value as Jump | undefined;
    const y = lj.next().value as Jump | undefined;
    const tx = x && x.pos < upTo ? x : undefined;
    const ly = y && y.pos < upTo ? y : undefined;
    if (!tx && !ly) break;
    if (tx && ly && sameJump(tx, ly)) {
      before = { pos: tx.pos, target: tx.target };
      continue;
    }
    const pos = Math.min(tx?.pos ?? Infinity, ly?.pos ?? Infinity);
    jump = {
      kind: "jump",
      pos,
      trace: tx?.pos === pos ? tx : undefined,
      live: ly?.pos === pos ? ly : undefined,
      before,
    };
    break;
  }
  let detail: StreamDiff | undefined;
  const td = decodeDetail(trace.start, trace.detailBytes, `${what}'s chunk ${trace.start.index}`);
  const ld = decodeDetail(live.start, live.detailBytes, `the live run's chunk ${live.start.index}`);
  let lastRegs: number | undefined;
  for (;;) {
    const x = td.next().value as Detail | undefined;
    const y = ld.next().value as Detail | undefined;
    const tx = x && x.pos < upTo ? x : undefined;
    const ly = y && y.pos < upTo ? y : undefined;
    if (!tx && !ly) break;
    if (tx && ly && sameDetail(tx, ly)) {
      if (tx.kind === "regs") lastRegs = tx.pos;
      continue;
    }
    const pos = Math.min(tx?.pos ?? Infinity, ly?.pos ?? Infinity);
    detail = { kind: "detail", pos, trace: tx, live: ly, lastRegs };
    break;
  }
  if (jump && detail) return detail.pos < jump.pos ? detail : jump;
  return jump ?? detail;
}

/** A live chunk being collected from the record stream. */
interface LiveChunk {
  readonly start: ChunkStart;
  jumps: number;
  readonly jumpParts: Uint8Array[];
  readonly detailParts: Uint8Array[];
}

/**
 * A record sink that compares each live chunk, once complete, with the
 * trace's chunk of the same index, from the chunk holding `from` on, and
 * stops at the first difference (`diff`; `onDiff` is called then).
 */
export class StreamDiffer implements RecordSink {
  readonly #trace: Trace;
  readonly #fromChunk: number;
  /** Where the trace's stream ends: past it, the ends say what differs (against.ts). */
  readonly #traceEnd: number;
  #next = 0;
  #open: LiveChunk | undefined;
  /** The first difference, once found. */
  diff: StreamDiff | undefined;
  /** Called once, when the difference is found. */
  onDiff: () => void = () => {};

  constructor(trace: Trace, from: number) {
    this.#trace = trace;
    this.#traceEnd = trace.summary.end.insns;
    this.#fromChunk = Math.floor(from / trace.header.chunk);
    this.#next = trace.chunks.findIndex((c) => c.index >= this.#fromChunk);
    if (this.#next < 0) this.#next = trace.chunks.length;
  }

  async chunk(index: number, p0: number, t0: bigint): Promise<void> {
    await this.#complete(this.#traceEnd);
    if (this.diff || index < this.#fromChunk) return;
    this.#open = {
      start: { index, size: this.#trace.header.chunk, p0, t0 },
      jumps: 0,
      jumpParts: [],
      detailParts: [],
    };
  }

  jumps(count: number, bytes: Uint8Array): Promise<void> {
    if (this.#open) {
      this.#open.jumps = count;
      this.#open.jumpParts.push(bytes);
    }
    return Promise.resolve();
  }

  detail(bytes: Uint8Array): Promise<void> {
    this.#open?.detailParts.push(bytes);
    return Promise.resolve();
  }

  /**
   * The live stream ended (the run is over): compares its last chunk and
   * whatever the trace has after it, up to position `upTo` (where the live
   * run stopped, Infinity when its guest ended).
   */
  async finish(upTo: number): Promise<void> {
    upTo = Math.min(upTo, this.#traceEnd);
    await this.#complete(upTo);
    const size = this.#trace.header.chunk;
    while (!this.diff && this.#next < this.#trace.chunks.length) {
      const c = this.#trace.chunks[this.#next++]!;
      if (c.index * size >= upTo) break;
      const t = await readChunk(this.#trace, c);
      this.#found(chunkDifference(t, empty(t.start), upTo, `Trace ${this.#trace.name}`));
    }
  }

  #found(d: StreamDiff | undefined): void {
    if (!d || this.diff) return;
    this.diff = d;
    this.onDiff();
  }

  async #complete(upTo: number): Promise<void> {
    const o = this.#open;
    if (!o || this.diff) return;
    this.#open = undefined;
    const live: RawChunk = {
      start: o.start,
      jumps: o.jumps,
      jumpBytes: concat(o.jumpParts),
      detailBytes: concat(o.detailParts),
    };
    const what = `Trace ${this.#trace.name}`;
    // Trace chunks before this one that the live run has nothing in.
    while (!this.diff && this.#next < this.#trace.chunks.length) {
      const c = this.#trace.chunks[this.#next]!;
      if (c.index > o.start.index) break;
      this.#next++;
      const t = await readChunk(this.#trace, c);
      this.#found(
        chunkDifference(t, c.index === o.start.index ? live : empty(t.start), upTo, what),
      );
      if (c.index === o.start.index) return;
    }
    // The trace has nothing in this chunk.
    if (!this.diff) this.#found(chunkDifference(empty(live.start), live, upTo, what));
  }
}

/**
 * Decoding a chunk's jumps and detail records, as plugin-src/record.c
 * encodes them (docs/trace-format.md). The decoder keeps the same state as
 * the encoder: a number for each target address seen in the chunk, and for
 * each the last RUN_WAYS different runs that started there, most recent
 * first, so a "hit" needs no bytes. Every value read is checked: a damaged
 * chunk is a TraceError, never a wrong answer, an endless loop or an
 * exception of another kind.
 */
import { DetailKind } from "../core/protocol.ts";
import { TraceError } from "./format.ts";

/**
 * A jump: the instruction at `pos` does not follow the one before it in
 * memory. `src` is the address of the instruction before it, `target` its own.
 */
export interface Jump {
  readonly pos: number;
  readonly src: bigint;
  readonly target: bigint;
}

/**
 * A detail record at `pos`: a system call, its result (as the 64 bits the
 * event holds), 8 bytes it wrote, or a register snapshot.
 */
export type Detail =
  | {
    readonly kind: "syscall";
    readonly pos: number;
    readonly number: bigint;
    readonly args: bigint;
  }
  | { readonly kind: "sysret"; readonly pos: number; readonly number: bigint; readonly ret: bigint }
  | {
    readonly kind: "sysout";
    readonly pos: number;
    readonly number: bigint;
    readonly offset: number;
    readonly value: bigint;
  }
  | { readonly kind: "regs"; readonly pos: number; readonly hash: bigint };

/** Where a chunk starts: its index and size, and the jump before it. */
export interface ChunkStart {
  readonly index: number;
  readonly size: number;
  readonly p0: number;
  readonly t0: bigint;
}

const MASK64 = (1n << 64n) - 1n;

/** Reads varints from bytes; what: names the chunk in errors. */
class Reader {
  #o = 0;
  constructor(readonly bytes: Uint8Array, readonly what: string) {}

  get done(): boolean {
    return this.#o >= this.bytes.length;
  }

  bad(why: string): TraceError {
    return new TraceError(`${this.what} is damaged: ${why}`);
  }

  byte(): number {
    if (this.#o >= this.bytes.length) throw this.bad("a record ends early");
    return this.bytes[this.#o++]!;
  }

  /** A varint as a number; it must be below 2^53. */
  num(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.byte();
      v += (b & 0x7f) * mul;
      if (!(b & 0x80)) return v;
      mul *= 128;
    }
    throw this.bad("a count is out of range");
  }

  /** A varint of up to 64 bits. */
  big(): bigint {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const b = this.byte();
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        if (v > MASK64) throw this.bad("a value is out of range");
        return v;
      }
    }
    throw this.bad("a value is out of range");
  }

  /** A zigzag varint: the signed difference it stands for. */
  signed(): bigint {
    const z = this.big();
    return z & 1n ? -(z >> 1n) - 1n : z >> 1n;
  }

  u64(): bigint {
    let v = 0n;
    for (let i = 0n; i < 8n; i++) v |= BigInt(this.byte()) << (8n * i);
    return v;
  }
}

/** Adds a signed difference to an address, modulo 2^64 as the plugin does. */
function offset(addr: bigint, diff: bigint): bigint {
  return (addr + diff) & MASK64;
}

/** Runs the encoder remembers per start (record.c's REC_WAYS). */
export const RUN_WAYS = 4;

/** A run from one start: its length, its last instruction's offset, its target's number. */
interface Run {
  readonly d: number;
  readonly srcOff: bigint;
  readonly tid: number;
}

/**
 * The jumps of one chunk, in order: `count` of them (the chunk's index
 * says how many), decoded from `bytes`. Positions must stay inside the
 * chunk; anything else is a TraceError.
 */
export function* decodeJumps(
  start: ChunkStart,
  bytes: Uint8Array,
  count: number,
  what: string,
): Generator<Jump> {
  const r = new Reader(bytes, what);
  const end = (start.index + 1) * start.size;
  const ids: bigint[] = [start.t0];
  const runs: Run[][] = [[]];
  let pos = start.p0;
  let runId = 0;
  let lastNew = 0n;
  let made = 0;
  const jump = (d: number, srcOff: bigint, tid: number): Jump => {
    const p = pos + d;
    if (p >= end || p < start.index * start.size) {
      throw r.bad(`a jump lies outside its chunk (position ${p})`);
    }
    if (++made > count) throw r.bad("it holds more jumps than its index says");
    const j = { pos: p, src: offset(ids[runId]!, srcOff), target: ids[tid]! };
    pos = p;
    runId = tid;
    return j;
  };
  const hits = function* (n: number): Generator<Jump> {
    if (n > count - made) throw r.bad("it holds more jumps than its index says");
    for (let i = 0; i < n; i++) {
      const run = runs[runId]![0];
      if (!run) throw r.bad("a repeated jump has nothing to repeat");
      yield jump(run.d, run.srcOff, run.tid);
    }
  };
  while (!r.done) {
    const token = r.num();
    const k = token % RUN_WAYS;
    yield* hits((token - k) / RUN_WAYS);
    const ways = runs[runId]!;
    let run: Run;
    if (k > 0) {
      if (k >= ways.length) throw r.bad("a jump repeats a run it has not seen");
      run = ways.splice(k, 1)[0]!;
    } else {
      const d = r.num();
      const srcOff = r.signed();
      const code = r.num();
      let tid: number;
      if (code === 0) {
        lastNew = offset(lastNew, r.signed());
        tid = ids.length;
        ids.push(lastNew);
        runs.push([]);
      } else {
        tid = code - 1;
        if (tid >= ids.length) throw r.bad("a jump names a target it has not seen");
      }
      run = { d, srcOff, tid };
      if (ways.length === RUN_WAYS) ways.pop();
    }
    ways.unshift(run);
    yield jump(run.d, run.srcOff, run.tid);
  }
  yield* hits(count - made);
}

/** The detail records of one chunk, in order. */
export function* decodeDetail(
  start: ChunkStart,
  bytes: Uint8Array,
  what: string,
): Generator<Detail> {
  const r = new Reader(bytes, what);
  const end = (start.index + 1) * start.size;
  let pos = start.index * start.size;
  while (!r.done) {
    const kind = r.byte();
    pos += r.num();
    if (pos >= end) throw r.bad(`a record lies outside its chunk (position ${pos})`);
    switch (kind) {
      case DetailKind.SYSCALL:
        yield { kind: "syscall", pos, number: r.big(), args: r.u64() };
        break;
      case DetailKind.SYSRET:
        yield { kind: "sysret", pos, number: r.big(), ret: r.u64() };
        break;
      case DetailKind.SYSOUT:
        yield { kind: "sysout", pos, number: r.big(), offset: r.num(), value: r.u64() };
        break;
      case DetailKind.REGS:
        yield { kind: "regs", pos, hash: r.u64() };
        break;
      default:
        throw r.bad(`a record has an unknown kind ${kind}`);
    }
  }
}

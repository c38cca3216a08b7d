// The jump and detail encodings of plugin-src/record.c, again in
// TypeScript, for tests of the decoder: a second writing of the same rules
// (docs/trace-format.md) that round trips with it. The plugin's own output is checked by the
// end-to-end tests and the real traces in testdata/.
import type { ChunkStart, Detail, Jump } from "../../harness/trace/codec.ts";
import { RUN_WAYS } from "../../harness/trace/codec.ts";
import { DetailKind } from "../../harness/core/protocol.ts";

const MASK64 = (1n << 64n) - 1n;

class Bytes {
  readonly out: number[] = [];
  varint(v: bigint | number): void {
    let x = BigInt(v);
    while (x >= 0x80n) {
      this.out.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.out.push(Number(x));
  }
  u64(v: bigint): void {
    for (let i = 0n; i < 8n; i++) this.out.push(Number((v >> (8n * i)) & 0xffn));
  }
  zigzag(diff: bigint): void {
    const v = BigInt.asIntN(64, diff & MASK64);
    this.varint(v >= 0n ? v * 2n : -v * 2n - 1n);
  }
}

interface Run {
  d: number;
  src: bigint;
  target: bigint;
}

/** Encodes one chunk's jumps as record.c does; they must lie in the chunk, in order. */
export function encodeJumps(start: ChunkStart, jumps: readonly Jump[]): Uint8Array {
  const b = new Bytes();
  const ids = new Map<bigint, number>([[start.t0, 0]]);
  const runs = new Map<bigint, Run[]>();
  let pos = start.p0;
  let runPc = start.t0;
  let hits = 0;
  let lastNew = 0n;
  for (const j of jumps) {
    const d = j.pos - pos;
    const ways = runs.get(runPc) ?? [];
    runs.set(runPc, ways);
    const k = ways.findIndex((r) => r.d === d && r.src === j.src && r.target === j.target);
    if (k === 0) {
      hits++;
    } else if (k > 0) {
      b.varint(hits * RUN_WAYS + k);
      ways.unshift(...ways.splice(k, 1));
      hits = 0;
    } else {
      b.varint(hits * RUN_WAYS);
      b.varint(d);
      b.zigzag(j.src - runPc);
      const id = ids.get(j.target);
      if (id !== undefined) {
        b.varint(id + 1);
      } else {
        b.varint(0);
        b.zigzag(j.target - lastNew);
        lastNew = j.target;
        ids.set(j.target, ids.size);
      }
      ways.unshift({ d, src: j.src, target: j.target });
      if (ways.length > RUN_WAYS) ways.pop();
      hits = 0;
    }
    pos = j.pos;
    runPc = j.target;
  }
  return new Uint8Array(b.out);
}

/** Encodes one chunk's detail records as record.c does; they must lie in the chunk, in order. */
export function encodeDetail(start: ChunkStart, details: readonly Detail[]): Uint8Array {
  const b = new Bytes();
  let pos = start.index * start.size;
  for (const d of details) {
    b.out.push(
      d.kind === "syscall"
        ? DetailKind.SYSCALL
        : d.kind === "sysret"
        ? DetailKind.SYSRET
        : d.kind === "sysout"
        ? DetailKind.SYSOUT
        : DetailKind.REGS,
    );
    b.varint(d.pos - pos);
    pos = d.pos;
    switch (d.kind) {
      case "syscall":
        b.varint(d.number);
        b.u64(d.args);
        break;
      case "sysret":
        b.varint(d.number);
        b.u64(d.ret);
        break;
      case "sysout":
        b.varint(d.number);
        b.varint(d.offset);
        b.u64(d.value);
        break;
      case "regs":
        b.u64(d.hash);
        break;
    }
  }
  return new Uint8Array(b.out);
}

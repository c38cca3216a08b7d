/**
 * Reading a trace file: the header and the trailer (index, checkpoints,
 * summary) at once, the chunks only when a window of the stream is asked
 * for. Every part is checked against its CRC-32 and its stated size before
 * it is decompressed or parsed; a truncated, damaged or foreign file is a
 * TraceError (exit 2) that says which.
 */
import type { Decisions } from "./decisions.ts";
import {
  type ChunkEntry,
  crc32,
  decodeFooter,
  decodeHeader,
  decodePrefix,
  decodeTrailer,
  FOOTER_SIZE,
  PREFIX_SIZE,
  TRACE_MAGIC,
  TraceError,
  type TraceHeader,
  type TraceSummary,
} from "./format.ts";
import { type ChunkStart, decodeDetail, decodeJumps, type Detail, type Jump } from "./codec.ts";
import { fromOsError } from "../core/errors.ts";

/** Where a trace's bytes come from: a file, or memory (tests). */
export interface TraceSource {
  readonly size: number;
  read(at: number, len: number): Promise<Uint8Array>;
}

/** A trace file's bytes, read as needed. */
export async function traceFile(path: string): Promise<TraceSource> {
  let size: number;
  try {
    const st = await Deno.stat(path);
    if (!st.isFile) {
      throw new TraceError(`Trace ${path} is not a file`, "give --against a trace file");
    }
    size = st.size;
  } catch (e) {
    if (e instanceof TraceError) throw e;
    if (e instanceof Deno.errors.NotFound) {
      throw new TraceError(
        `Trace not found: ${path}`,
        "check the path (record one with qemu-lockstep record)",
      );
    }
    throw fromOsError(`Cannot read the trace ${path}`, e);
  }
  return {
    size,
    async read(at: number, len: number): Promise<Uint8Array> {
      try {
        using file = await Deno.open(path, { read: true });
        await file.seek(at, Deno.SeekMode.Start);
        const out = new Uint8Array(len);
        let o = 0;
        while (o < len) {
          const n = await file.read(out.subarray(o));
          if (n === null) break;
          o += n;
        }
        if (o < len) {
          throw new TraceError(
            `Trace ${path} changed while it was read`,
            "do not write to it during a run",
          );
        }
        return out;
      } catch (e) {
        if (e instanceof TraceError) throw e;
        throw fromOsError(`Cannot read the trace ${path}`, e);
      }
    },
  };
}

/** Bytes in memory as a trace source. */
export function traceBytes(bytes: Uint8Array): TraceSource {
  return {
    size: bytes.length,
    read: (at, len) => Promise.resolve(bytes.slice(at, at + len)),
  };
}

/** An opened trace: what it says of itself; chunks are read on demand. */
export interface Trace {
  /** How the trace is named in messages (its path). */
  readonly name: string;
  readonly bytes: number;
  readonly header: TraceHeader;
  readonly summary: TraceSummary;
  /** Hash at each checkpoint: checkpoint k (from 1) at position k × interval. */
  readonly checkpoints: readonly bigint[];
  /** The guest threads' order the recording took (empty single-threaded). */
  readonly decisions: Decisions;
  readonly chunks: readonly ChunkEntry[];
  readonly source: TraceSource;
}

/**
 * Inflates deflate-raw `data` that must come to exactly `expected` bytes;
 * anything else is a TraceError `what` names.
 */
export async function inflate(
  data: Uint8Array,
  expected: number,
  what: string,
): Promise<Uint8Array> {
  const bad = (why: string) => new TraceError(`${what} is damaged: ${why}`);
  const ds = new DecompressionStream("deflate-raw");
  const writer = ds.writable.getWriter();
  writer.write(data.slice()).catch(() => {});
  writer.close().catch(() => {});
  const out = new Uint8Array(expected);
  let n = 0;
  try {
    for await (const part of ds.readable as unknown as AsyncIterable<Uint8Array>) {
      if (n + part.length > expected) throw bad("it holds more than its index says");
      out.set(part, n);
      n += part.length;
    }
  } catch (e) {
    if (e instanceof TraceError) throw e;
    throw bad("its compressed data is corrupt");
  }
  if (n !== expected) throw bad("it holds less than its index says");
  return out;
}

/** Opens a trace: reads and checks its header and trailer. */
export async function openTrace(source: TraceSource, name: string): Promise<Trace> {
  const what = `Trace ${name}`;
  // Another kind of file is said as such, however short.
  const magic = await source.read(0, Math.min(source.size, TRACE_MAGIC.length));
  if (magic.length === TRACE_MAGIC.length && new TextDecoder().decode(magic) !== TRACE_MAGIC) {
    decodePrefix(magic, what);
  }
  if (source.size < PREFIX_SIZE + FOOTER_SIZE) {
    throw new TraceError(`${what} is truncated: it has only ${source.size} bytes`);
  }
  const prefix = await source.read(0, PREFIX_SIZE);
  const { version, headerLen, crc } = decodePrefix(prefix, what);
  const dataStart = PREFIX_SIZE + headerLen;
  if (dataStart + FOOTER_SIZE > source.size) {
    throw new TraceError(`${what} is truncated: it ends inside its header`);
  }
  const header = decodeHeader(prefix, await source.read(PREFIX_SIZE, headerLen), crc, what);
  const footer = decodeFooter(
    await source.read(source.size - FOOTER_SIZE, FOOTER_SIZE),
    source.size,
    what,
  );
  if (footer.trailerAt < dataStart) {
    throw new TraceError(`${what} is damaged: its index overlaps its header`);
  }
  const packed = await source.read(footer.trailerAt, footer.trailerLen);
  if (crc32(packed) !== footer.trailerCrc) {
    throw new TraceError(`${what} is damaged: its index does not match its checksum`);
  }
  const raw = await inflate(packed, footer.trailerRaw, `${what}'s index`);
  const t = decodeTrailer(raw, header, dataStart, footer.trailerAt, what, version);
  return { name, bytes: source.size, header, ...t, source };
}

/** Opens the trace file at `path`. */
export async function readTrace(path: string): Promise<Trace> {
  return openTrace(await traceFile(path), path);
}

/** A chunk's raw (decompressed, checked) jumps and detail bytes. */
export interface RawChunk {
  readonly start: ChunkStart;
  readonly jumps: number;
  readonly jumpBytes: Uint8Array;
  readonly detailBytes: Uint8Array;
}

/** Reads and checks one chunk. */
export async function readChunk(trace: Trace, c: ChunkEntry): Promise<RawChunk> {
  const what = `Trace ${trace.name}'s chunk ${c.index}`;
  const part = async (at: number, len: number, raw: number, crc: number, kind: string) => {
    const packed = await trace.source.read(at, len);
    if (crc32(packed) !== crc) {
      throw new TraceError(`${what} is damaged: its ${kind} do not match their checksum`);
    }
    return await inflate(packed, raw, `${what} (${kind})`);
  };
  return {
    start: { index: c.index, size: trace.header.chunk, p0: c.p0, t0: c.t0 },
    jumps: c.jumps,
    jumpBytes: await part(c.jumpsAt, c.jumpsLen, c.jumpsRaw, c.jumpsCrc, "jumps"),
    detailBytes: await part(c.detailAt, c.detailLen, c.detailRaw, c.detailCrc, "detail records"),
  };
}

/** The chunks holding positions [from, to). */
export function chunksBetween(trace: Trace, from: number, to: number): ChunkEntry[] {
  const size = trace.header.chunk;
  return trace.chunks.filter((c) => (c.index + 1) * size > from && c.index * size < to);
}

/** The jumps of raw chunks, in order, with positions in [from, to). */
export function* jumpsOf(
  chunks: readonly RawChunk[],
  from: number,
  to: number,
  what: string,
): Generator<Jump> {
  for (const c of chunks) {
    for (
      const j of decodeJumps(c.start, c.jumpBytes, c.jumps, `${what}'s chunk ${c.start.index}`)
    ) {
      if (j.pos >= to) return;
      if (j.pos >= from) yield j;
    }
  }
}

/** The detail records of raw chunks, in order, with positions in [from, to). */
export function* detailOf(
  chunks: readonly RawChunk[],
  from: number,
  to: number,
  what: string,
): Generator<Detail> {
  for (const c of chunks) {
    for (const d of decodeDetail(c.start, c.detailBytes, `${what}'s chunk ${c.start.index}`)) {
      if (d.pos >= to) return;
      if (d.pos >= from) yield d;
    }
  }
}

/** Reads the chunks of a trace holding [from, to). */
export async function readWindow(trace: Trace, from: number, to: number): Promise<RawChunk[]> {
  const out: RawChunk[] = [];
  for (const c of chunksBetween(trace, from, to)) out.push(await readChunk(trace, c));
  return out;
}

/**
 * Writing a trace file as the recording runs: chunks are compressed as
 * they arrive (deflate-raw, the platform's CompressionStream) and written
 * one after the other, so memory holds one chunk's compressed bytes, never
 * the run. The file is an output like any other (core/output_file.ts):
 * written under a temporary name next to its place and renamed there only
 * once complete, so an interrupted recording leaves nothing behind, and
 * never half a trace; a device or fifo (`-o /dev/null`) is written into.
 */
import type { Decisions } from "./decisions.ts";
import {
  type ChunkEntry,
  crc32,
  encodeFooter,
  encodePrefix,
  encodeTrailer,
  type TraceHeader,
  type TraceSummary,
} from "./format.ts";
import { OutputFile } from "../core/output_file.ts";

/** Compresses a stream of bytes; finish() gives the result. */
export class Deflater {
  readonly #writer: WritableStreamDefaultWriter<BufferSource>;
  readonly #out: Promise<Uint8Array[]>;
  #raw = 0;

  constructor() {
    const cs = new CompressionStream("deflate-raw");
    this.#writer = cs.writable.getWriter();
    this.#out = Array.fromAsync(cs.readable as unknown as AsyncIterable<Uint8Array>);
    // Awaited by finish(); an aborted one has nobody to tell.
    this.#out.catch(() => {});
  }

  /** Bytes written so far, before compression. */
  get raw(): number {
    return this.#raw;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return;
    this.#raw += bytes.length;
    await this.#writer.ready;
    // The stream may keep the buffer: give it its own copy.
    await this.#writer.write(bytes.slice());
  }

  async finish(): Promise<Uint8Array> {
    await this.#writer.close();
    return concat(await this.#out);
  }

  /** Drops what was written. */
  async abort(): Promise<void> {
    await this.#writer.abort().catch(() => {});
  }
}

/** Compresses `bytes` whole. */
export async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  const d = new Deflater();
  await d.write(bytes);
  return await d.finish();
}

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** One chunk being written. */
interface OpenChunk {
  readonly index: number;
  readonly p0: number;
  readonly t0: bigint;
  jumps: number;
  readonly jumpBytes: Deflater;
  readonly detailBytes: Deflater;
}

/** A trace being written; see the module comment. */
export class TraceWriter implements AsyncDisposable {
  readonly path: string;
  readonly #out: OutputFile;
  #chunk: OpenChunk | undefined;
  readonly #chunks: ChunkEntry[] = [];
  #headerWritten = false;
  #jumps = 0;

  private constructor(out: OutputFile) {
    this.path = out.path;
    this.#out = out;
  }

  /**
   * Opens the trace that will be at `path`. Found before the run: a
   * directory in its place, a missing directory, a planted link. `signal`
   * ends a wait for a fifo's reader.
   */
  static async create(path: string, signal?: AbortSignal): Promise<TraceWriter> {
    return new TraceWriter(await OutputFile.open(path, "the trace", { signal }));
  }

  /** Jumps in the chunks written so far. */
  get totalJumps(): number {
    return this.#jumps + (this.#chunk?.jumps ?? 0);
  }

  /** Chunks written so far. */
  get chunks(): number {
    return this.#chunks.length + (this.#chunk ? 1 : 0);
  }

  /** Where the next bytes go in the file. */
  get #at(): number {
    return this.#out.written;
  }

  #write(bytes: Uint8Array): Promise<void> {
    return this.#out.write(bytes);
  }

  /** Writes the header; once, before any chunk. */
  async header(h: TraceHeader): Promise<void> {
    if (this.#headerWritten) return;
    this.#headerWritten = true;
    await this.#write(encodePrefix(h));
  }

  /** Ends the open chunk, if any, and begins chunk `index`. */
  async beginChunk(index: number, p0: number, t0: bigint): Promise<void> {
    await this.endChunk();
    this.#chunk = {
      index,
      p0,
      t0,
      jumps: 0,
      jumpBytes: new Deflater(),
      detailBytes: new Deflater(),
    };
  }

  /** More of the open chunk's jumps; `count`: its jumps so far. */
  async jumps(count: number, bytes: Uint8Array): Promise<void> {
    if (!this.#chunk) return;
    this.#chunk.jumps = count;
    await this.#chunk.jumpBytes.write(bytes);
  }

  /** More of the open chunk's detail records. */
  async detail(bytes: Uint8Array): Promise<void> {
    await this.#chunk?.detailBytes.write(bytes);
  }

  /** Compresses the open chunk's rest and writes it. */
  async endChunk(): Promise<void> {
    const c = this.#chunk;
    if (!c) return;
    this.#chunk = undefined;
    const [j, d] = await Promise.all([c.jumpBytes.finish(), c.detailBytes.finish()]);
    const jumpsAt = this.#at;
    await this.#write(j);
    const detailAt = this.#at;
    await this.#write(d);
    this.#jumps += c.jumps;
    this.#chunks.push({
      index: c.index,
      p0: c.p0,
      t0: c.t0,
      jumps: c.jumps,
      jumpsAt,
      jumpsLen: j.length,
      jumpsRaw: c.jumpBytes.raw,
      jumpsCrc: crc32(j),
      detailAt,
      detailLen: d.length,
      detailRaw: c.detailBytes.raw,
      detailCrc: crc32(d),
    });
  }

  /**
   * Writes the trailer and the footer, and puts the file in its place.
   * Returns its size in bytes.
   */
  async finish(
    header: TraceHeader,
    checkpoints: readonly bigint[],
    decisions: Decisions,
    summary: TraceSummary,
  ): Promise<number> {
    await this.header(header);
    await this.endChunk();
    const raw = encodeTrailer({ chunks: this.#chunks, checkpoints, decisions, summary });
    const trailer = await deflate(raw);
    const trailerAt = this.#at;
    await this.#write(trailer);
    await this.#write(encodeFooter({
      trailerAt,
      trailerLen: trailer.length,
      trailerRaw: raw.length,
      trailerCrc: crc32(trailer),
    }));
    await this.#out.commit();
    return this.#at;
  }

  /** Unless finished: drops the open chunk, and what was written. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#chunk?.jumpBytes.abort();
    await this.#chunk?.detailBytes.abort();
    this.#chunk = undefined;
    await this.#out[Symbol.asyncDispose]();
  }
}

/**
 * The golden trace's file format (docs/trace-format.md), version 3: the
 * layout, its fixed-size parts and their checks. Pure: bytes in, bytes
 * out; writer.ts and reader.ts do the file work. Every integer
 * is little-endian whatever the host, and every byte of the file is
 * covered by a CRC-32, so a truncated or damaged trace is found before
 * anything in it is believed.
 *
 *   prefix  "QLSTRACE", u32 version, u32 header length, u32 CRC-32 of the
 *           first 16 bytes and the header
 *   header  JSON (TraceHeader): what was run, where, what is compared
 *   chunks  per chunk, its jumps then its detail records, each deflate-raw
 *   trailer deflate-raw of: u32 chunk count and a ChunkEntry each, u32
 *           checkpoint count and a u64 hash each, u32 decision count and
 *           a u64 position and a u64 thread each (the guest threads'
 *           order, decisions.ts; from version 3), u32 length and the
 *           summary JSON (TraceSummary)
 *   footer  u64 trailer offset, u32 its length, u32 its raw length, u32
 *           its CRC-32, u32 CRC-32 of these 20 bytes, "QLSTREND"
 */
import { checkHeader, checkSummary, parseJson } from "./checks.ts";
import { DECISION_BYTES, decisionCount, type Decisions, eachDecision } from "./decisions.ts";
import { SetupError } from "../core/errors.ts";

/** The first and last eight bytes of every trace. */
export const TRACE_MAGIC = "QLSTRACE";
export const TRACE_END_MAGIC = "QLSTREND";
/**
 * The format version this code writes and reads. 2: a system call's
 * argument hash covers the arguments it takes (version 1 hashed six
 * registers, so its calls would differ from every newer recording).
 */
export const TRACE_VERSION = 3;
/**
 * The versions this code reads: 3 adds the guest threads' order to the
 * trailer; a version 2 trace is a single-threaded recording, read as one
 * with no decisions.
 */
export const READ_VERSIONS: readonly number[] = [2, 3];
export const PREFIX_SIZE = 20;
export const FOOTER_SIZE = 32;
/** One ChunkEntry in the trailer. */
export const CHUNK_ENTRY_SIZE = 72;
/** The largest header or summary accepted (a guest's output is kept up to 1 MB). */
export const MAX_JSON = 8 << 20;

/** A trace that cannot be read: truncated, damaged, or not a trace. */
export class TraceError extends SetupError {
  constructor(message: string, hint = "record the trace again (qemu-lockstep record)") {
    super(message, hint);
    this.name = "TraceError";
  }
}

/** What the recorded stream depends on besides the image and the QEMU. */
export interface TraceOptions {
  /** System mode: the image was loaded with -bios. */
  readonly bios: boolean;
  /** Extra QEMU arguments of the recorded side (--extra, then --extra-a). */
  readonly extra: readonly string[];
  /** linux-user: the guest's arguments, and the name it saw as its own. */
  readonly guestArgs: readonly string[];
  readonly guestName: string;
  /** The recording stopped here (--max-insns), or ran to the guest's end. */
  readonly maxInsns: number | null;
  /** Registers left out of the snapshots (--mask-reg). */
  readonly maskRegs: readonly string[];
}

/** The self-describing header: written before the stream, read first. */
export interface TraceHeader {
  readonly format: number;
  /** "qemu-lockstep 0.1.0". */
  readonly tool: string;
  /** ISO date of the recording. */
  readonly created: string;
  readonly host: { readonly hostname: string; readonly os: string; readonly arch: string };
  readonly qemu: { readonly path: string; readonly version: string; readonly pluginApi: number };
  readonly arch: string;
  readonly mode: "system" | "user";
  readonly image: { readonly name: string; readonly sha256: string; readonly bytes: number };
  readonly options: TraceOptions;
  /** The recorded QEMU's command line, as run (its plugin argument included). */
  readonly argv: readonly string[];
  /** What the checkpoints and detail records hold: "pc", "syscalls", "regs". */
  readonly compared: readonly string[];
  /** With "syscalls": they hold what the environment's calls wrote too (plugin API 4). */
  readonly outputs: boolean;
  /** The registers a snapshot hashes, in order. */
  readonly registers: readonly string[];
  /** Instructions between checkpoints, per chunk, and between register snapshots (0: none). */
  readonly interval: number;
  readonly chunk: number;
  readonly detail: number;
}

/** How the recorded run ended, and what the guest did: the trailer's JSON. */
export interface TraceSummary {
  /** "end": the guest ended (its length); "limit": --max-insns. Hash as "0x…" (16 digits). */
  readonly end: {
    readonly kind: "end" | "limit";
    readonly insns: number;
    readonly hash: string;
    /** Instructions of the last block not known to have run (the uncertain tail). */
    readonly tail: number;
  };
  readonly blocks: number;
  readonly jumps: number;
  readonly exit: { readonly code: number | null; readonly signal: string | null };
  /** The guest's output (QEMU's stdout), kept up to 1 MB, and its digest. */
  readonly output: {
    readonly text: string;
    readonly bytes: number;
    readonly sha256: string;
    readonly truncated: boolean;
  };
  readonly seconds: number;
  readonly peakRssKb: number;
}

/** Where one chunk is, and what it holds. */
export interface ChunkEntry {
  /** It covers positions [index × chunk, (index + 1) × chunk). */
  readonly index: number;
  /** The position and target of the last jump before it. */
  readonly p0: number;
  readonly t0: bigint;
  /** Jumps in it. */
  readonly jumps: number;
  readonly jumpsAt: number;
  readonly jumpsLen: number;
  readonly jumpsRaw: number;
  readonly jumpsCrc: number;
  readonly detailAt: number;
  readonly detailLen: number;
  readonly detailRaw: number;
  readonly detailCrc: number;
}

/** The trailer, decompressed. */
export interface Trailer {
  readonly chunks: readonly ChunkEntry[];
  /** Hash at each checkpoint: checkpoint k (from 1) at position k × interval. */
  readonly checkpoints: readonly bigint[];
  /**
   * linux-user guest threads: the recording's order, packed (decisions.ts).
   * Empty single-threaded.
   */
  readonly decisions: Decisions;
  readonly summary: TraceSummary;
}

/** The footer: where the trailer is. */
export interface Footer {
  readonly trailerAt: number;
  readonly trailerLen: number;
  readonly trailerRaw: number;
  readonly trailerCrc: number;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as zlib's), continued from `crc` over `bytes`. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const enc = new TextEncoder();

/** Whether bytes are exactly the ASCII text. */
function sameText(bytes: Uint8Array, text: string): boolean {
  return bytes.length === text.length && bytes.every((b, i) => b === text.charCodeAt(i));
}

/** The prefix and header of a trace. */
export function encodePrefix(header: TraceHeader): Uint8Array {
  const json = enc.encode(JSON.stringify(header));
  const out = new Uint8Array(PREFIX_SIZE + json.length);
  const v = new DataView(out.buffer);
  out.set(enc.encode(TRACE_MAGIC), 0);
  v.setUint32(8, TRACE_VERSION, true);
  v.setUint32(12, json.length, true);
  out.set(json, PREFIX_SIZE);
  v.setUint32(16, crc32(json, crc32(out.subarray(0, 16))), true);
  return out;
}

/** Reads the fixed prefix: the header's length and CRC; throws TraceError. */
export function decodePrefix(
  bytes: Uint8Array,
  what: string,
): { version: number; headerLen: number; crc: number } {
  if (bytes.length >= 8 && !sameText(bytes.subarray(0, 8), TRACE_MAGIC)) {
    throw new TraceError(
      `${what} is not a trace: it does not start with ${TRACE_MAGIC}`,
      "give --against a file written by qemu-lockstep record",
    );
  }
  if (bytes.length < PREFIX_SIZE) throw new TraceError(`${what} is not a trace: it is too short`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = v.getUint32(8, true);
  if (!READ_VERSIONS.includes(version)) {
    throw new TraceError(
      `${what} is a trace of format version ${version}; this qemu-lockstep reads versions ${
        READ_VERSIONS.join(" and ")
      }`,
      "record it again with this version, or use the qemu-lockstep that wrote it",
    );
  }
  const headerLen = v.getUint32(12, true);
  if (headerLen > MAX_JSON) throw new TraceError(`${what} is damaged: its header length is absurd`);
  return { version, headerLen, crc: v.getUint32(16, true) };
}

/** Checks and parses the header (prefix: the first 16 bytes). */
export function decodeHeader(
  prefix: Uint8Array,
  json: Uint8Array,
  crc: number,
  what: string,
): TraceHeader {
  if (crc32(json, crc32(prefix.subarray(0, 16))) !== crc) {
    throw new TraceError(`${what} is damaged: its header does not match its checksum`);
  }
  const h = parseJson(json, `${what}'s header`);
  return checkHeader(h, what);
}

/** The footer's 32 bytes. */
export function encodeFooter(f: Footer): Uint8Array {
  const out = new Uint8Array(FOOTER_SIZE);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, BigInt(f.trailerAt), true);
  v.setUint32(8, f.trailerLen, true);
  v.setUint32(12, f.trailerRaw, true);
  v.setUint32(16, f.trailerCrc, true);
  v.setUint32(20, crc32(out.subarray(0, 20)), true);
  out.set(enc.encode(TRACE_END_MAGIC), 24);
  return out;
}

/** Reads the footer of a file of `size` bytes; throws TraceError. */
export function decodeFooter(bytes: Uint8Array, size: number, what: string): Footer {
  const truncated = new TraceError(
    `${what} is truncated: its end is missing (the recording was cut short, or the copy is incomplete)`,
  );
  if (bytes.length !== FOOTER_SIZE) throw truncated;
  if (!sameText(bytes.subarray(24), TRACE_END_MAGIC)) throw truncated;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (crc32(bytes.subarray(0, 20)) !== v.getUint32(20, true)) {
    throw new TraceError(`${what} is damaged: its footer does not match its checksum`);
  }
  const f = {
    trailerAt: safe(v.getBigUint64(0, true), what),
    trailerLen: v.getUint32(8, true),
    trailerRaw: v.getUint32(12, true),
    trailerCrc: v.getUint32(16, true),
  };
  if (f.trailerAt < PREFIX_SIZE || f.trailerAt + f.trailerLen !== size - FOOTER_SIZE) {
    throw new TraceError(`${what} is damaged: its footer points outside the file`);
  }
  if (f.trailerRaw > 1 << 30) throw new TraceError(`${what} is damaged: its trailer is absurd`);
  return f;
}

/** The trailer's bytes before compression. */
export function encodeTrailer(t: Trailer): Uint8Array {
  const summary = enc.encode(JSON.stringify(t.summary));
  const size = 4 + t.chunks.length * CHUNK_ENTRY_SIZE + 4 + t.checkpoints.length * 8 + 4 +
    t.decisions.length + 4 + summary.length;
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  let o = 0;
  v.setUint32(o, t.chunks.length, true);
  o += 4;
  for (const c of t.chunks) {
    for (const x of [c.index, c.p0]) {
      v.setBigUint64(o, BigInt(x), true);
      o += 8;
    }
    v.setBigUint64(o, c.t0, true);
    o += 8;
    v.setBigUint64(o, BigInt(c.jumps), true);
    o += 8;
    for (
      const [at, len, raw, crc] of [
        [c.jumpsAt, c.jumpsLen, c.jumpsRaw, c.jumpsCrc],
        [c.detailAt, c.detailLen, c.detailRaw, c.detailCrc],
      ]
    ) {
      v.setBigUint64(o, BigInt(at!), true);
      v.setUint32(o + 8, len!, true);
      v.setUint32(o + 12, raw!, true);
      v.setUint32(o + 16, crc!, true);
      o += 20;
    }
  }
  v.setUint32(o, t.checkpoints.length, true);
  o += 4;
  for (const h of t.checkpoints) {
    v.setBigUint64(o, h, true);
    o += 8;
  }
  v.setUint32(o, decisionCount(t.decisions), true);
  out.set(t.decisions.subarray(0, decisionCount(t.decisions) * DECISION_BYTES), o + 4);
  o += 4 + decisionCount(t.decisions) * DECISION_BYTES;
  v.setUint32(o, summary.length, true);
  out.set(summary, o + 4);
  return out;
}

/**
 * Parses the decompressed trailer of a trace of format `version` whose
 * data ends at `dataEnd`; every chunk must lie between the header and
 * there, in order.
 */
export function decodeTrailer(
  raw: Uint8Array,
  header: TraceHeader,
  dataStart: number,
  dataEnd: number,
  what: string,
  version: number,
): Trailer {
  const bad = (why: string) => new TraceError(`${what} is damaged: ${why}`);
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let o = 0;
  const need = (n: number) => {
    if (o + n > raw.length) throw bad("its index ends early");
  };
  const u32 = () => {
    need(4);
    o += 4;
    return v.getUint32(o - 4, true);
  };
  const u64 = () => {
    need(8);
    o += 8;
    return v.getBigUint64(o - 8, true);
  };
  const n = u32();
  if (n * CHUNK_ENTRY_SIZE > raw.length) throw bad("its index counts more chunks than it holds");
  const chunks: ChunkEntry[] = [];
  let at = dataStart;
  let lastIndex = -1;
  for (let i = 0; i < n; i++) {
    const index = safe(u64(), what);
    const p0 = safe(u64(), what);
    const t0 = u64();
    const jumps = safe(u64(), what);
    const part = () => ({ at: safe(u64(), what), len: u32(), raw: u32(), crc: u32() });
    const j = part();
    const d = part();
    if (index <= lastIndex) throw bad("its chunks are out of order");
    if (p0 > (index + 1) * header.chunk) throw bad(`chunk ${index} starts after its own end`);
    if (jumps > 2 * header.chunk + 1) {
      throw bad(`chunk ${index} counts more jumps than it can hold`);
    }
    for (const p of [j, d]) {
      if (p.at !== at || p.at + p.len > dataEnd) throw bad(`chunk ${index} lies outside its place`);
      if (p.raw > 64 * header.chunk + 64) throw bad(`chunk ${index} is absurdly large`);
      at += p.len;
    }
    lastIndex = index;
    chunks.push({
      index,
      p0,
      t0,
      jumps,
      jumpsAt: j.at,
      jumpsLen: j.len,
      jumpsRaw: j.raw,
      jumpsCrc: j.crc,
      detailAt: d.at,
      detailLen: d.len,
      detailRaw: d.raw,
      detailCrc: d.crc,
    });
  }
  if (at !== dataEnd) throw bad("its index does not account for all of its data");
  const k = u32();
  if (k * 8 > raw.length - o) throw bad("its index counts more checkpoints than it holds");
  const checkpoints: bigint[] = [];
  for (let i = 0; i < k; i++) checkpoints.push(u64());
  let decisions: Decisions = new Uint8Array(0);
  if (version >= 3) {
    const m = u32();
    if (m * DECISION_BYTES > raw.length - o) {
      throw bad("its index counts more decisions than it holds");
    }
    decisions = raw.slice(o, o + m * DECISION_BYTES);
    o += m * DECISION_BYTES;
    let last = 0n;
    let i = 0;
    for (const d of eachDecision(decisions)) {
      if (d.pos < last || d.thread >= 64n) throw bad(`its threads' decision ${i} is out of order`);
      last = d.pos;
      i++;
    }
  }
  const len = u32();
  need(len);
  if (o + len !== raw.length) throw bad("its index has bytes left over");
  const summary = checkSummary(parseJson(raw.subarray(o, o + len), `${what}'s summary`), what);
  if (k !== Math.floor(summary.end.insns / header.interval)) {
    throw bad(`it has ${k} checkpoints for ${summary.end.insns} instructions`);
  }
  const last = chunks.at(-1);
  if (last && last.index * header.chunk >= Math.max(1, summary.end.insns)) {
    throw bad("a chunk lies past the end of the recorded stream");
  }
  return { chunks, checkpoints, decisions, summary };
}

function safe(x: bigint, what: string): number {
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new TraceError(`${what} is damaged: a position is out of range`);
  }
  return Number(x);
}

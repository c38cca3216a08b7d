/**
 * The harness as a plugin's peer: when one QEMU runs alone against a
 * trace, or records one, the harness listens on the peer socket in side
 * a's place and speaks the plugins' own binary messages (24 bytes: u32
 * type, u32 epoch, u64 a, u64 b, in host byte order; lockstep.h's
 * PeerMsg). The plugin cannot tell it from a second QEMU:
 *
 * - "echo" (recording): every checkpoint, end or limit the plugin sends
 *   comes back unchanged, so it always agrees; the harness keeps them.
 * - "feed" (comparing): the trace's checkpoints, a bounded number ahead of
 *   the plugin (its ring holds 4096), then the trace's end or limit. The
 *   plugin compares them with its own, as it would a live peer's, and says
 *   "apart" when they part.
 * - "stop" (naming an instruction): a STOP at once, so the detail pass's
 *   plugin dumps its blocks around the given positions.
 */
import { SingleClientSocket } from "./single_client_socket.ts";
import { TraceError } from "../trace/format.ts";

/** Peer message types (lockstep.h). */
export const PeerMsgType = { CKPT: 1, END: 2, LIMIT: 3, STOP: 4 } as const;

/** One peer message. */
export interface PeerMsg {
  readonly type: number;
  readonly epoch: number;
  readonly a: bigint;
  readonly b: bigint;
}

/** The plugins use the host's byte order. */
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const MSG_SIZE = 24;

/** Encodes a peer message. */
export function encodePeerMsg(m: PeerMsg): Uint8Array {
  const out = new Uint8Array(MSG_SIZE);
  const v = new DataView(out.buffer);
  v.setUint32(0, m.type, LITTLE);
  v.setUint32(4, m.epoch, LITTLE);
  v.setBigUint64(8, m.a, LITTLE);
  v.setBigUint64(16, m.b, LITTLE);
  return out;
}

/** Decodes one peer message from 24 bytes. */
export function decodePeerMsg(bytes: Uint8Array): PeerMsg {
  const v = new DataView(bytes.buffer, bytes.byteOffset, MSG_SIZE);
  return {
    type: v.getUint32(0, LITTLE),
    epoch: v.getUint32(4, LITTLE),
    a: v.getBigUint64(8, LITTLE),
    b: v.getBigUint64(16, LITTLE),
  };
}

/** An end or limit: position and hash. */
export interface PeerEnd {
  readonly type: typeof PeerMsgType.END | typeof PeerMsgType.LIMIT;
  readonly pos: number;
  readonly hash: bigint;
}

/** What the harness plays; see the module comment. */
export type PeerPart =
  | { readonly kind: "echo" }
  | { readonly kind: "feed"; readonly checkpoints: readonly bigint[]; readonly end: PeerEnd }
  | { readonly kind: "stop"; readonly good: number; readonly bad: number };

/** Checkpoints the harness sends ahead of the plugin's own (its ring holds 4096). */
export const FEED_AHEAD = 1024;

/** A listening peer socket playing one part; see the module comment. */
export class TracePeer implements AsyncDisposable {
  readonly #socket: SingleClientSocket;
  readonly #part: PeerPart;
  readonly #done: Promise<void>;
  #conn: Deno.UnixConn | undefined;
  #sent = 0;
  #endSent = false;
  /** The plugin's checkpoint hashes, in order (echo). */
  readonly checkpoints: bigint[] = [];
  /** The plugin's end or limit, once sent. */
  end: PeerEnd | undefined;
  /** The plugin's STOP: the streams part between these positions. */
  stopped: { good: number; bad: number } | undefined;
  /** A malformed message, or a write that failed. */
  error: Error | undefined;

  constructor(path: string, part: PeerPart) {
    this.#part = part;
    this.#socket = new SingleClientSocket(path);
    this.#done = this.#run();
  }

  async #send(m: PeerMsg): Promise<void> {
    const bytes = encodePeerMsg(m);
    let o = 0;
    while (o < bytes.length) o += await this.#conn!.write(bytes.subarray(o));
  }

  /** Feeds checkpoints up to `upTo` (counted from 1), then the end once all are out. */
  async #feed(upTo: number, force: boolean): Promise<void> {
    const part = this.#part;
    if (part.kind !== "feed") return;
    const until = Math.min(upTo, part.checkpoints.length);
    while (this.#sent < until) {
      const hash = part.checkpoints[this.#sent]!;
      this.#sent++;
      await this.#send({ type: PeerMsgType.CKPT, epoch: 0, a: BigInt(this.#sent), b: hash });
    }
    if (!this.#endSent && (this.#sent === part.checkpoints.length || force)) {
      this.#endSent = true;
      await this.#send({
        type: part.end.type,
        epoch: 0,
        a: BigInt(part.end.pos),
        b: part.end.hash,
      });
    }
  }

  async #run(): Promise<void> {
    this.#conn = await this.#socket.accept();
    if (!this.#conn) return; // closed before the plugin connected
    const part = this.#part;
    const buf = new Uint8Array(MSG_SIZE * 256);
    let have = 0;
    try {
      if (part.kind === "stop") {
        await this.#send({
          type: PeerMsgType.STOP,
          epoch: 0,
          a: BigInt(part.good),
          b: BigInt(part.bad),
        });
      }
      await this.#feed(FEED_AHEAD, false);
      for (;;) {
        const n = await this.#conn.read(buf.subarray(have));
        if (n === null) break;
        have += n;
        let o = 0;
        for (; have - o >= MSG_SIZE; o += MSG_SIZE) {
          await this.#message(decodePeerMsg(buf.subarray(o, o + MSG_SIZE)));
        }
        buf.copyWithin(0, o, have);
        have -= o;
      }
    } catch (e) {
      // A plugin that ends its QEMU leaves our last messages unread: its
      // socket is reset, and that is no trouble.
      const gone = e instanceof Deno.errors.BrokenPipe || e instanceof Deno.errors.ConnectionReset;
      if (!this.#socket.closed && !gone) this.error = e as Error;
    }
  }

  async #message(m: PeerMsg): Promise<void> {
    const part = this.#part;
    if (m.epoch !== 0) throw new TraceError("The plugin resumed a comparison: not with a trace");
    switch (m.type) {
      case PeerMsgType.CKPT: {
        const k = Number(m.a);
        if (part.kind === "echo") {
          if (k !== this.checkpoints.length + 1) {
            throw new RangeError(`checkpoint ${k} out of order`);
          }
          this.checkpoints.push(m.b);
          await this.#send(m);
        } else {
          await this.#feed(k + FEED_AHEAD, false);
        }
        return;
      }
      case PeerMsgType.END:
      case PeerMsgType.LIMIT:
        this.end = { type: m.type, pos: Number(m.a), hash: m.b };
        if (part.kind === "echo") await this.#send(m);
        // It ended: every checkpoint it took has its counterpart already
        // (they came before this message); the trace's end settles it.
        else await this.#feed(0, true);
        return;
      case PeerMsgType.STOP:
        this.stopped = { good: Number(m.a), bad: Number(m.b) };
        return;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#socket.close()) await this.#done;
  }
}

/**
 * The record stream: the socket a recording plugin (record=PATH) writes
 * its chunks to, and the reader that turns its frames into calls on a
 * sink (the trace writer, or a window kept in memory). The frames are
 * protocol.ts's RecFrame; the reader waits for each call, so a slow sink
 * slows the plugin down instead of filling memory.
 */
import { SingleClientSocket } from "./single_client_socket.ts";
import { RecFrame } from "../core/protocol.ts";

/** What the reader hands the frames to. */
export interface RecordSink {
  /** Chunk `index` begins; (p0, t0): the position and target of the jump before it. */
  chunk(index: number, p0: number, t0: bigint): Promise<void>;
  /** More of the chunk's encoded jumps; `count`: its jumps so far. */
  jumps(count: number, bytes: Uint8Array): Promise<void>;
  /** More of the chunk's encoded detail records. */
  detail(bytes: Uint8Array): Promise<void>;
}

/** The largest frame a plugin sends (its buffers are 64 KiB). */
const MAX_FRAME = 1 << 20;

/** A listening record socket; see the module comment. */
export class RecordStream implements AsyncDisposable {
  readonly #socket: SingleClientSocket;
  readonly #done: Promise<void>;
  /** Set when the stream broke (a bad frame, a sink that failed). */
  error: Error | undefined;
  /** Bytes received. */
  received = 0;

  constructor(path: string, sink: RecordSink) {
    this.#socket = new SingleClientSocket(path);
    this.#done = this.#run(sink);
  }

  /** Resolves when the plugin closed the stream and the sink took all of it. */
  finished(): Promise<void> {
    return this.#done;
  }

  async #run(sink: RecordSink): Promise<void> {
    const conn = await this.#socket.accept();
    if (!conn) return; // closed before the plugin connected
    // Room for an incomplete frame and a whole one after it.
    const buf = new Uint8Array(2 * (8 + MAX_FRAME));
    let have = 0;
    try {
      for (;;) {
        const n = await conn.read(buf.subarray(have));
        if (n === null) break;
        have += n;
        this.received += n;
        let o = 0;
        while (have - o >= 8) {
          const v = new DataView(buf.buffer, o, 8);
          const kind = v.getUint8(0);
          const len = v.getUint32(4, true);
          if (len > MAX_FRAME) throw new RangeError(`a record frame of ${len} bytes`);
          if (have - o < 8 + len) break;
          await this.#frame(sink, kind, buf.subarray(o + 8, o + 8 + len));
          o += 8 + len;
        }
        buf.copyWithin(0, o, have);
        have -= o;
      }
      if (have > 0) throw new RangeError("the record stream ends inside a frame");
    } catch (e) {
      if (!this.#socket.closed) this.error = e as Error;
    }
  }

  async #frame(sink: RecordSink, kind: number, p: Uint8Array): Promise<void> {
    const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
    switch (kind) {
      case RecFrame.CHUNK:
        if (p.length !== 24) throw new RangeError("a bad chunk frame");
        await sink.chunk(
          Number(v.getBigUint64(0, true)),
          Number(v.getBigUint64(8, true)),
          v.getBigUint64(16, true),
        );
        return;
      case RecFrame.JUMPS:
        if (p.length < 8) throw new RangeError("a bad jumps frame");
        await sink.jumps(Number(v.getBigUint64(0, true)), p.slice(8));
        return;
      case RecFrame.DETAIL:
        await sink.detail(p.slice());
        return;
      default:
        throw new RangeError(`an unknown record frame kind ${kind}`);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#socket.close()) await this.#done;
  }
}

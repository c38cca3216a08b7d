/**
 * The control channel: a Unix socket in the run's private directory to
 * which both plugins report (hello, progress, end, limit, dumps). It is the
 * plugins' own channel, apart from the guest's stdout/stderr.
 */
import { parseMessage, type PluginMessage } from "./protocol.ts";

/** What a control connection yields: a plugin's message, or its end. */
export type ControlMessage = PluginMessage | { t: "closed" };

/** A listening control socket; `next()` gives the messages of every connection, in arrival order, with its id. */
export class ControlServer implements AsyncDisposable {
  readonly #listener: Deno.Listener<Deno.UnixConn>;
  readonly #conns = new Map<number, Deno.UnixConn>();
  readonly #queue: Array<[number, ControlMessage]> = [];
  #wake: (() => void) | undefined;
  #nextId = 0;
  #closed = false;
  readonly #accepting: Promise<void>;
  readonly #readers: Promise<void>[] = [];

  constructor(path: string) {
    this.#listener = Deno.listen({ transport: "unix", path });
    this.#accepting = this.#accept();
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        const id = this.#nextId++;
        this.#conns.set(id, conn);
        this.#readers.push(this.#read(id, conn));
      }
    } catch {
      // Listener closed.
    }
  }

  async #read(id: number, conn: Deno.UnixConn): Promise<void> {
    const decoder = new TextDecoder();
    let buf = "";
    const chunk = new Uint8Array(1 << 16);
    try {
      for (;;) {
        const n = await conn.read(chunk);
        if (n === null) break;
        buf += decoder.decode(chunk.subarray(0, n), { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim()) this.#push(id, parseMessage(line));
        }
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.ConnectionReset)) {
        this.#push(id, { t: "error", msg: `Bad control message: ${(e as Error).message}` });
      }
    }
    this.#push(id, { t: "closed" });
  }

  #push(id: number, msg: ControlMessage): void {
    this.#queue.push([id, msg]);
    this.#wake?.();
  }

  /** Waits for the next message, or resolves undefined when `wakeup` fires. */
  async next(
    wakeup: Promise<unknown>,
  ): Promise<[number, ControlMessage] | undefined> {
    if (this.#queue.length === 0) {
      const arrived = new Promise<void>((r) => (this.#wake = r));
      await Promise.race([arrived, wakeup]);
      this.#wake = undefined;
    }
    return this.#queue.shift();
  }

  /** Sends a command line to one connection (ignores a closed one). */
  async send(id: number, line: string): Promise<void> {
    const conn = this.#conns.get(id);
    if (!conn) return;
    try {
      await conn.write(new TextEncoder().encode(line + "\n"));
    } catch {
      // The plugin is gone already.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    for (const conn of this.#conns.values()) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    await this.#accepting;
    await Promise.all(this.#readers);
  }
}

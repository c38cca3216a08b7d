/**
 * The TCP port a user's debugger attaches to, in front of one QEMU's
 * gdbstub: the harness holds the stub's connection (it drove the stub
 * there itself, and a linux-user stub takes one connection only), listens
 * on a port the system picks, and passes bytes both ways for one debugger
 * at a time. It answers two packets itself: a detach ("D"), so that the
 * QEMU stays where it is for the next debugger instead of running on (the
 * session ends once every side's debugger has come and gone), and
 * "QStartNoAckMode", so that the stub keeps the acknowledgements a later
 * debugger starts with.
 */
import { bytesOf, frame, latin1, PacketSplitter } from "./rsp.ts";

/** What happens at a port (for the session's bookkeeping). */
export type PortEvent = "attached" | "detached";

/** One side's port; owns the stub connection and the listener. */
export class GdbPort implements AsyncDisposable {
  readonly #stub: Deno.Conn;
  readonly #listener: Deno.Listener;
  #client: Deno.Conn | undefined;
  /** The target runs (a debugger resumed it), as far as the packets tell. */
  #running = false;
  /** Swallow the stop reply of the interrupt sent for a debugger that left. */
  #swallowStop = false;
  #closed = false;
  readonly #onEvent: (e: PortEvent) => void;
  readonly #tasks: Promise<void>[] = [];
  /** Debuggers that attached so far. */
  sessions = 0;

  /** The port, on 127.0.0.1. */
  readonly port: number;

  /** `stub`: the gdbstub's connection, idle (no reply due). */
  constructor(stub: Deno.Conn, onEvent: (e: PortEvent) => void) {
    this.#stub = stub;
    this.#onEvent = onEvent;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#tasks.push(this.#accept(), this.#fromStub());
  }

  /** A debugger is attached now. */
  get attached(): boolean {
    return this.#client !== undefined;
  }

  async #accept(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return; // closed
      }
      if (this.#client || this.#closed) {
        // One debugger at a time: the stub has one conversation.
        conn.close();
        continue;
      }
      this.#client = conn;
      this.sessions++;
      this.#onEvent("attached");
      this.#tasks.push(this.#fromClient(conn));
    }
  }

  async #fromClient(conn: Deno.Conn): Promise<void> {
    const split = new PacketSplitter();
    const buf = new Uint8Array(65536);
    let detached = false;
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        for (const unit of split.push(latin1(buf.subarray(0, n)))) {
          const p = unit.payload;
          if (p !== undefined && (p === "D" || p.startsWith("D;"))) {
            detached = true;
            await write(conn, `+${frame("OK")}`);
          } else if (p === "QStartNoAckMode") {
            await write(conn, `+${frame("")}`);
          } else {
            if (p !== undefined && /^([cCsS]|vCont;[cCsS])/.test(p)) this.#running = true;
            await write(this.#stub, unit.raw);
          }
        }
        if (detached) break;
      }
    } catch {
      // The debugger went away: as a detach.
    } finally {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      this.#client = undefined;
      // A debugger that left a running target: stop it, for the next one.
      if (this.#running && !this.#closed) {
        this.#swallowStop = true;
        await write(this.#stub, "\x03").catch(() => {});
      }
      this.#onEvent("detached");
    }
  }

  async #fromStub(): Promise<void> {
    const split = new PacketSplitter();
    const buf = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await this.#stub.read(buf);
        if (n === null) return;
        for (const unit of split.push(latin1(buf.subarray(0, n)))) {
          const stop = unit.payload !== undefined && /^[TSWX][0-9a-fA-F]{2}/.test(unit.payload);
          if (stop) this.#running = false;
          if (stop && this.#swallowStop) {
            this.#swallowStop = false;
            await write(this.#stub, "+").catch(() => {});
            continue;
          }
          // Nobody attached: nothing to pass it to.
          if (this.#client) await write(this.#client, unit.raw).catch(() => {});
        }
      }
    } catch {
      // The stub is gone (its QEMU exited): the session sees the exit.
    }
  }

  /** Closes the port, any debugger's connection and the stub's. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of [this.#listener, this.#client, this.#stub]) {
      try {
        c?.close();
      } catch {
        // Already closed.
      }
    }
    await Promise.allSettled(this.#tasks);
  }
}

async function write(conn: Deno.Conn, text: string): Promise<void> {
  const bytes = bytesOf(text);
  for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
}

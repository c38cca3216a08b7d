/**
 * The control channel: a Unix socket in the run's private directory to
 * which both plugins report (hello, progress, end, limit, dumps). It is the
 * plugins' own channel, apart from the guest's stdout/stderr.
 */
import { readLines } from "../core/lines.ts";
import { parseMessage, type PluginMessage, type Role } from "../core/protocol.ts";

/** The longest line a plugin may send (a register list, a dump line). */
const MAX_LINE = 1 << 24;

/**
 * The first line of the harness's own probe connection (see barrier()): a
 * NUL byte, so no plugin message can be mistaken for it.
 */
const PROBE = "\u0000probe";

/** What a control connection yields: a plugin's message, or its end. */
export type ControlMessage = PluginMessage | { t: "closed" };

/** A listening control socket; `next()` gives the messages of every connection, in arrival order, with its id. */
export class ControlServer implements AsyncDisposable {
  readonly #listener: Deno.Listener<Deno.UnixConn>;
  readonly #conns = new Map<number, Deno.UnixConn>();
  // Messages read and not yet taken: #queue[#head] is the next one. A dump is
  // hundreds of thousands of lines, so taking one must not move the rest
  // (Array.shift() does, which makes a dump quadratic; docs/performance.md).
  #queue: Array<[number, ControlMessage]> = [];
  #head = 0;
  #wake: (() => void) | undefined;
  #nextId = 0;
  #closed = false;
  readonly #accepting: Promise<void>;
  readonly #readers: Promise<void>[] = [];
  readonly #path: string;
  /** Per connection: resolved at its first message or its end. */
  readonly #first = new Map<number, Promise<void>>();
  readonly #firstSeen = new Map<number, () => void>();
  /** The role each connection said hello as, as soon as it was read. */
  readonly #roles = new Map<number, Role>();
  /** barrier() calls waiting for their probe, by token. */
  readonly #probes = new Map<string, (id: number) => void>();
  /** Resolves (to undefined) when the server closes. */
  readonly #closing: Promise<undefined>;
  #close!: () => void;

  constructor(path: string) {
    this.#path = path;
    this.#closing = new Promise<undefined>((r) => (this.#close = () => r(undefined)));
    this.#listener = Deno.listen({ transport: "unix", path });
    this.#accepting = this.#accept();
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        const id = this.#nextId++;
        this.#conns.set(id, conn);
        this.#first.set(id, new Promise<void>((r) => this.#firstSeen.set(id, r)));
        this.#readers.push(this.#read(id, conn));
      }
    } catch {
      // Listener closed.
    }
  }

  async #read(id: number, conn: Deno.UnixConn): Promise<void> {
    try {
      for await (const line of readLines(conn, MAX_LINE)) {
        if (line.startsWith(PROBE)) {
          this.#probeRead(id, line);
          return;
        }
        if (line.trim()) this.#push(id, parseMessage(line));
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.ConnectionReset)) {
        this.#push(id, { t: "error", msg: `Bad control message: ${(e as Error).message}` });
      }
    }
    this.#push(id, { t: "closed" });
  }

  #push(id: number, msg: ControlMessage): void {
    if (msg.t === "hello") this.#roles.set(id, msg.role);
    this.#firstSeen.get(id)?.();
    this.#queue.push([id, msg]);
    this.#wake?.();
  }

  #probeRead(id: number, line: string): void {
    this.#firstSeen.get(id)?.();
    this.#first.delete(id);
    try {
      this.#conns.get(id)?.close();
    } catch {
      // already closed
    }
    this.#conns.delete(id);
    this.#probes.get(line.slice(PROBE.length + 1))?.(id);
  }

  /** Whether a connection has said hello as `role` (read, perhaps not yet taken by next()). */
  saidHello(role: Role): boolean {
    return [...this.#roles.values()].includes(role);
  }

  /**
   * Resolves once every connection made before the call has been accepted
   * and has delivered its first message (or ended). A QEMU that has exited
   * made its connection, if it made one, before it exited: after a barrier,
   * saidHello() tells whether its plugin started.
   */
  async barrier(): Promise<void> {
    if (this.#closed) return;
    const token = crypto.randomUUID();
    const accepted = new Promise<number>((r) => this.#probes.set(token, r));
    let probe: Deno.UnixConn | undefined;
    try {
      probe = await Deno.connect({ transport: "unix", path: this.#path });
      await probe.write(new TextEncoder().encode(`${PROBE} ${token}\n`));
      // The listener accepts in order: once the probe is read, every earlier
      // connection has been accepted; then wait for each one's first message.
      const id = await Promise.race([accepted, this.#closing]);
      if (id === undefined) return;
      await Promise.race([
        Promise.all([...this.#first].filter(([k]) => k < id).map(([, p]) => p)),
        this.#closing,
      ]);
    } catch {
      // The server is closing: nothing more will be accepted.
    } finally {
      this.#probes.delete(token);
      try {
        probe?.close();
      } catch {
        // already closed
      }
    }
  }

  /** Waits for the next message, or resolves undefined when `wakeup` fires. */
  async next(
    wakeup: Promise<unknown>,
  ): Promise<[number, ControlMessage] | undefined> {
    if (this.#head === this.#queue.length) {
      const arrived = new Promise<void>((r) => (this.#wake = r));
      await Promise.race([arrived, wakeup]);
      this.#wake = undefined;
    }
    if (this.#head === this.#queue.length) return undefined;
    const msg = this.#queue[this.#head++];
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= 4096 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return msg;
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
    this.#close();
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

/**
 * The control channel: a Unix socket in the run's private directory to
 * which both plugins report (hello, progress, end, limit, dumps). It is the
 * plugins' own channel, apart from the guest's stdout/stderr.
 */
import type { DumpBlock, DumpEvent } from "./compare.ts";
import type { RegInfo } from "./registers.ts";

/** One instruction of a narrowing run (see narrow.ts). */
export interface Step {
  readonly pos: number;
  readonly pc: bigint;
  readonly bytes: string;
  /** QEMU's disassembly ("" where it has none). */
  readonly disas: string;
  /** Registers that changed since the previous step (all at the first), by index in the agreed list: hex bytes, target order. */
  readonly regs: ReadonlyMap<number, string>;
}

/** A message from a plugin. */
export type PluginMessage =
  | {
    t: "hello";
    role: "a" | "b";
    target: string;
    api: number;
    pid: number;
    memValues: boolean;
  }
  | { t: "regs"; regs: RegInfo[] }
  | { t: "step"; step: Step }
  | { t: "progress" | "peer-lost" | "narrowed"; insns: number; blocks: number; rss: number }
  | { t: "end"; insns: number; blocks: number; hash: string; rss: number; tail: number }
  | { t: "limit"; insns: number; blocks: number; rss: number; at: number; atHash: string }
  | {
    t: "diverged";
    good: number;
    bad: number;
    insns: number;
    /** Where this side's comparison restarted after the last transient excursion. */
    origin: number;
    complete: boolean;
  }
  | { t: "blk"; block: DumpBlock }
  | { t: "ev"; event: DumpEvent }
  | { t: "dumped" }
  | { t: "error"; msg: string };

/** Parses one line a plugin sent; throws SyntaxError when it is not one. */
export function parseMessage(line: string): PluginMessage {
  const raw = JSON.parse(line) as Record<string, unknown>;
  if (raw.t === "blk") {
    const sz = String(raw.sz);
    return {
      t: "blk",
      block: {
        i: Number(raw.i),
        pc: BigInt(String(raw.pc)),
        sizes: Array.from(sz, (c) => parseInt(c, 16)),
        bytes: String(raw.b),
      },
    };
  }
  if (raw.t === "ev") {
    return {
      t: "ev",
      event: {
        pos: Number(raw.p),
        kind: Number(raw.k),
        a: BigInt(String(raw.a)),
        size: Number(raw.s),
        v: BigInt(String(raw.v)),
      },
    };
  }
  if (raw.t === "regs") {
    const list = raw.regs as [string, string, number][];
    return { t: "regs", regs: list.map(([name, feature, size]) => ({ name, feature, size })) };
  }
  if (raw.t === "step") {
    const r = raw.r as Record<string, string>;
    return {
      t: "step",
      step: {
        pos: Number(raw.p),
        pc: BigInt(String(raw.pc)),
        bytes: String(raw.b),
        disas: String(raw.d ?? "").trim().replace(/\s+/g, " "),
        regs: new Map(Object.entries(r).map(([k, v]) => [Number(k), v])),
      },
    };
  }
  const known = [
    "hello",
    "progress",
    "end",
    "peer-lost",
    "limit",
    "diverged",
    "dumped",
    "error",
    "narrowed",
  ];
  if (typeof raw.t !== "string" || !known.includes(raw.t)) {
    throw new SyntaxError(`Unknown plugin message: ${line.slice(0, 80)}`);
  }
  return raw as PluginMessage;
}

/** A listening control socket; `messages` yields [connection id, message]. */
export class ControlServer implements AsyncDisposable {
  readonly #listener: Deno.Listener<Deno.UnixConn>;
  readonly #conns = new Map<number, Deno.UnixConn>();
  readonly #queue: Array<[number, PluginMessage | { t: "closed" }]> = [];
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

  #push(id: number, msg: PluginMessage | { t: "closed" }): void {
    this.#queue.push([id, msg]);
    this.#wake?.();
  }

  /** Waits for the next message, or resolves undefined when `wakeup` fires. */
  async next(
    wakeup: Promise<unknown>,
  ): Promise<[number, PluginMessage | { t: "closed" }] | undefined> {
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

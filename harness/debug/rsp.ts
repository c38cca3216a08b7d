/**
 * The GDB remote serial protocol, as little of it as the harness speaks to
 * a QEMU gdbstub: packet framing and checksums, acknowledgements (always
 * on: a debugger that attaches later expects them, see gdb_port.ts), and
 * the stop replies. The client drives a stub to the divergence, then hands
 * its connection to the port the user's debugger attaches to.
 */

/** `$payload#checksum`: one packet as sent on the wire. */
export function frame(payload: string): string {
  let sum = 0;
  for (const c of new TextEncoder().encode(payload)) sum = (sum + c) & 0xff;
  return `$${payload}#${sum.toString(16).padStart(2, "0")}`;
}

/** A packet's payload with its run-length encoding (`x*n`) expanded. */
export function expandRunLength(payload: string): string {
  return payload.replace(
    /(.)\*(.)/g,
    (_, c: string, n: string) => c.repeat(n.charCodeAt(0) - 29 + 1),
  );
}

/** What a stop reply says. */
export type StopReply =
  /** Stopped by a signal (5, SIGTRAP: a breakpoint or a step). */
  | { readonly kind: "signal"; readonly signal: number }
  /** The guest exited with a code, or was ended by a signal. */
  | { readonly kind: "exited"; readonly code: number }
  | { readonly kind: "killed"; readonly signal: number };

/** Parses a stop reply (`T05…`, `S05`, `W00`, `X09`); SyntaxError for anything else. */
export function parseStopReply(payload: string): StopReply {
  const m = /^([TSWX])([0-9a-fA-F]{2})/.exec(payload);
  if (!m) throw new SyntaxError(`Not a stop reply: ${payload.slice(0, 40)}`);
  const n = parseInt(m[2]!, 16);
  if (m[1] === "W") return { kind: "exited", code: n };
  if (m[1] === "X") return { kind: "killed", signal: n };
  return { kind: "signal", signal: n };
}

/** The signal a stop reply reports for a breakpoint or a finished step. */
export const SIGTRAP = 5;

/**
 * Splits bytes a debugger sends into its units: packets (`$…#xx`, with
 * their payload), acknowledgements (`+`, `-`) and interrupts (0x03).
 * Anything else between packets is passed on as it came.
 */
export class PacketSplitter {
  #pending = "";

  /** Feeds bytes (as Latin-1 text, one character a byte); returns the complete units. */
  push(text: string): ({ readonly raw: string; readonly payload?: string })[] {
    this.#pending += text;
    const out: { raw: string; payload?: string }[] = [];
    for (;;) {
      if (this.#pending.length === 0) break;
      if (this.#pending[0] !== "$") {
        const next = this.#pending.indexOf("$");
        const raw = next < 0 ? this.#pending : this.#pending.slice(0, next);
        out.push({ raw });
        this.#pending = this.#pending.slice(raw.length);
        continue;
      }
      const hash = this.#pending.indexOf("#");
      if (hash < 0 || this.#pending.length < hash + 3) break;
      const raw = this.#pending.slice(0, hash + 3);
      out.push({ raw, payload: raw.slice(1, hash) });
      this.#pending = this.#pending.slice(raw.length);
    }
    return out;
  }
}

/** Bytes as Latin-1 text: one character a byte, whatever they are. */
export function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

/** Latin-1 text back to bytes. */
export function bytesOf(text: string): Uint8Array {
  const b = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) b[i] = text.charCodeAt(i) & 0xff;
  return b;
}

/** A client of one gdbstub, on a connection it owns until release(). */
export class RspClient {
  readonly #conn: Deno.Conn;
  #buffer = "";
  #released = false;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /**
   * Connects to the stub listening on the Unix socket `path`, retrying
   * while the socket does not exist yet (QEMU is starting) until `signal`
   * aborts.
   */
  static async connect(path: string, signal: AbortSignal): Promise<RspClient> {
    for (;;) {
      try {
        return new RspClient(await Deno.connect({ transport: "unix", path }));
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.ConnectionRefused)) {
          throw e;
        }
      }
      if (signal.aborted) throw signal.reason;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Sends one packet and returns the stub's reply (stop replies may take long). */
  async request(payload: string): Promise<string> {
    await this.#write(frame(payload));
    for (;;) {
      const unit = await this.#nextUnit();
      if (unit === "-") {
        await this.#write(frame(payload)); // a garbled packet: again
      } else if (unit.startsWith("$")) {
        await this.#write("+");
        const body = expandRunLength(unit.slice(1, unit.indexOf("#")));
        // Console output while the target runs; the stop reply follows.
        if (body.startsWith("O") && body !== "OK") continue;
        return body;
      }
    }
  }

  /** One unit the stub sent: an acknowledgement, or a whole packet. */
  async #nextUnit(): Promise<string> {
    for (;;) {
      const b = this.#buffer;
      if (b.length > 0 && b[0] !== "$") {
        this.#buffer = b.slice(1);
        return b[0]!;
      }
      const hash = b.indexOf("#");
      if (hash >= 0 && b.length >= hash + 3) {
        this.#buffer = b.slice(hash + 3);
        return b.slice(0, hash + 3);
      }
      const chunk = new Uint8Array(65536);
      const n = await this.#conn.read(chunk);
      if (n === null) throw new Deno.errors.ConnectionReset("the gdbstub closed its connection");
      this.#buffer += latin1(chunk.subarray(0, n));
    }
  }

  async #write(text: string): Promise<void> {
    const bytes = bytesOf(text);
    for (let done = 0; done < bytes.length;) {
      done += await this.#conn.write(bytes.subarray(done));
    }
  }

  /**
   * Hands the connection on (to the debugger's port), between requests:
   * no reply is due, and what the stub sent unasked (a stray
   * acknowledgement) is dropped.
   */
  release(): Deno.Conn {
    this.#released = true;
    return this.#conn;
  }

  /** Closes the connection unless it was handed on. */
  close(): void {
    if (this.#released) return;
    this.#released = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}

/**
 * A Unix socket that takes one connection: the plugin's record stream
 * (record_stream.ts) and the peer socket the harness answers in side A's
 * place (trace_peer.ts). It stops listening once the plugin connected, and
 * close() ends both the listener and the connection, once.
 */
export class SingleClientSocket {
  readonly #listener: Deno.Listener<Deno.UnixConn>;
  #conn: Deno.UnixConn | undefined;
  #closed = false;

  constructor(path: string) {
    this.#listener = Deno.listen({ transport: "unix", path });
  }

  /** Whether close() ran: a read that fails after it is no error. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The plugin's connection, or undefined when closed before it connected. */
  async accept(): Promise<Deno.UnixConn | undefined> {
    try {
      this.#conn = await this.#listener.accept();
    } catch {
      return undefined;
    }
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    return this.#conn;
  }

  /** Closes the listener and the connection; false when it had already run. */
  close(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    for (const c of [this.#listener, this.#conn]) {
      try {
        c?.close();
      } catch {
        // already closed
      }
    }
    return true;
  }
}

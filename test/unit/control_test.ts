/**
 * The control server over a real Unix socket: every line a plugin sends
 * comes out of next() once, in order, however many are waiting (a dump is
 * hundreds of thousands of lines, taken while more arrive).
 */
import { equal } from "../../deps/assert.ts";
import { join } from "../../deps/path.ts";
import { ControlServer } from "../../harness/run/control_socket.ts";

Deno.test("control: 100,000 event lines come out once each, in order, while more arrive", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qemu-lockstep-unit-" });
  try {
    const path = join(dir, "ctl.sock");
    await using server = new ControlServer(path);
    const conn = await Deno.connect({ transport: "unix", path });
    let open = true;
    using _client = { [Symbol.dispose]: () => open && conn.close() };
    const total = 100_000;
    const line = (i: number) => `{"t":"ev","p":${i},"k":1,"a":"0x10","s":4,"v":"0x0"}\n`;
    const send = async (from: number, to: number) => {
      let text = "";
      for (let i = from; i < to; i++) text += line(i);
      // A socket write may take part of it: write the rest.
      let bytes = new TextEncoder().encode(text);
      while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
    };
    // A message that never comes (lost by the queue) fails the test, not hangs it.
    const next = async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((r) => (timer = setTimeout(r, 10_000)));
      try {
        return await server.next(late);
      } finally {
        clearTimeout(timer);
      }
    };
    const seen: number[] = [];
    const take = async (n: number) => {
      for (let k = 0; k < n; k++) {
        const got = await next();
        if (got?.[1].t !== "ev") {
          throw new Error(`message ${seen.length}: not an event but ${JSON.stringify(got)}`);
        }
        seen.push(got[1].event.pos);
      }
    };
    // Sends and takes in uneven steps, so the queue is both drained and
    // compacted with messages still waiting.
    let sent = 0;
    for (const [s, t] of [[30_000, 10_000], [30_000, 45_000], [40_000, 40_000], [0, 5_000]]) {
      await send(sent, sent + s!);
      sent += s!;
      await take(t!);
    }
    equal(sent, total);
    equal(seen.length, total);
    equal(seen.every((p, i) => p === i), true);
    conn.close();
    open = false;
    const last = await next();
    equal(last?.[1].t, "closed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// The harness in side A's place on the peer socket: the plugin's own
// 24-byte messages, checkpoints fed no further ahead than the plugin's
// ring holds, the trace's end only once every checkpoint is out.
import {
  decodePeerMsg,
  encodePeerMsg,
  FEED_AHEAD,
  type PeerMsg,
  PeerMsgType,
  TracePeer,
} from "../../harness/golden/trace_peer.ts";
import { deepEqual, equal } from "../../deps/assert.ts";

/** A plugin's end of the socket: sends and receives whole messages. */
async function client(path: string) {
  const conn = await Deno.connect({ transport: "unix", path });
  let buf = new Uint8Array(0);
  // One read in flight at a time: one left behind by a quiet spell would
  // take the next bytes with it.
  let pending: Promise<Uint8Array | null> | undefined;
  const read = () => {
    const chunk = new Uint8Array(1 << 16);
    return conn.read(chunk).then((n) => (n === null ? null : chunk.subarray(0, n)));
  };
  return {
    conn,
    send: (m: PeerMsg) => conn.write(encodePeerMsg(m)),
    /** Everything received until `ms` of quiet. */
    async drain(ms = 200): Promise<PeerMsg[]> {
      const out: PeerMsg[] = [];
      for (;;) {
        pending ??= read();
        const got = await Promise.race([
          pending,
          new Promise<"quiet">((r) => setTimeout(() => r("quiet"), ms)),
        ]);
        if (got === "quiet") break;
        pending = undefined;
        if (got === null) break;
        const all = new Uint8Array(buf.length + got.length);
        all.set(buf);
        all.set(got, buf.length);
        let o = 0;
        for (; all.length - o >= 24; o += 24) out.push(decodePeerMsg(all.subarray(o, o + 24)));
        buf = all.slice(o);
      }
      return out;
    },
  };
}

Deno.test("feed: checkpoints FEED_AHEAD ahead of the plugin's, the end after the last", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lockstep-test-" });
  try {
    const checkpoints = Array.from({ length: FEED_AHEAD + 100 }, (_, i) => BigInt(i) * 7n);
    const end = { type: PeerMsgType.END, pos: 12345, hash: 99n } as const;
    await using _peer = new TracePeer(`${dir}/peer.sock`, { kind: "feed", checkpoints, end });
    const c = await client(`${dir}/peer.sock`);
    let got = await c.drain(500);
    equal(got.length, FEED_AHEAD);
    deepEqual(got.at(-1), {
      type: PeerMsgType.CKPT,
      epoch: 0,
      a: BigInt(FEED_AHEAD),
      b: checkpoints[FEED_AHEAD - 1],
    });
    await c.send({ type: PeerMsgType.CKPT, epoch: 0, a: 50n, b: 0n });
    got = await c.drain();
    equal(got.length, 50);
    equal(got[0]!.a, BigInt(FEED_AHEAD + 1));
    await c.send({ type: PeerMsgType.CKPT, epoch: 0, a: 100n, b: 0n });
    got = await c.drain();
    // The last 50 checkpoints, then the end.
    equal(got.length, 51);
    deepEqual(got.at(-1), { type: PeerMsgType.END, epoch: 0, a: 12345n, b: 99n });
    c.conn.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("feed: a plugin that ends early gets the trace's end at once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lockstep-test-" });
  try {
    const checkpoints = Array.from({ length: 3 * FEED_AHEAD }, () => 1n);
    const end = { type: PeerMsgType.END, pos: 1 << 30, hash: 5n } as const;
    await using _peer = new TracePeer(`${dir}/peer.sock`, { kind: "feed", checkpoints, end });
    const c = await client(`${dir}/peer.sock`);
    equal((await c.drain(500)).length, FEED_AHEAD);
    await c.send({ type: PeerMsgType.END, epoch: 0, a: 1000n, b: 3n });
    deepEqual(await c.drain(), [{ type: PeerMsgType.END, epoch: 0, a: BigInt(1 << 30), b: 5n }]);
    c.conn.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("echo: every checkpoint and the end come back, and are kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lockstep-test-" });
  try {
    const peer = new TracePeer(`${dir}/peer.sock`, { kind: "echo" });
    const c = await client(`${dir}/peer.sock`);
    const sent = [
      { type: PeerMsgType.CKPT, epoch: 0, a: 1n, b: 0xfeedn },
      { type: PeerMsgType.CKPT, epoch: 0, a: 2n, b: 0xbeefn },
      { type: PeerMsgType.LIMIT, epoch: 0, a: 2500n, b: 0xcafen },
    ];
    for (const m of sent) await c.send(m);
    deepEqual(await c.drain(), sent);
    deepEqual(peer.checkpoints, [0xfeedn, 0xbeefn]);
    deepEqual(peer.end, { type: PeerMsgType.LIMIT, pos: 2500, hash: 0xcafen });
    c.conn.close();
    await peer[Symbol.asyncDispose]();
    equal(peer.error, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

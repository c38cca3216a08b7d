// The GDB remote protocol as the harness speaks it (harness/debug/rsp.ts),
// and the port a user's debugger attaches to (harness/debug/gdb_port.ts),
// against a stand-in for QEMU's gdbstub on a socket pair: no QEMU.
import { expandRunLength, frame, PacketSplitter, parseStopReply } from "../../harness/debug/rsp.ts";
import { GdbPort, type PortEvent } from "../../harness/debug/gdb_port.ts";
import { deepEqual, equal, throws } from "../../deps/assert.ts";

Deno.test("packets carry their checksum, and run-length encoding expands", () => {
  equal(frame("OK"), "$OK#9a");
  equal(frame(""), "$#00");
  equal(frame("Z0,4001c5,1"), "$Z0,4001c5,1#70");
  // "0* " is 0 and 3 more ("*" then " ", 32 - 29 = 3).
  equal(expandRunLength("10* 2"), "100002");
});

Deno.test("stop replies say a signal, an exit or a kill", () => {
  deepEqual(parseStopReply("T05thread:p01.01;"), { kind: "signal", signal: 5 });
  deepEqual(parseStopReply("S0b"), { kind: "signal", signal: 11 });
  deepEqual(parseStopReply("W00"), { kind: "exited", code: 0 });
  deepEqual(parseStopReply("X09"), { kind: "killed", signal: 9 });
  throws(() => parseStopReply("OK"), SyntaxError);
});

Deno.test("a debugger's bytes split into packets, acknowledgements and interrupts", () => {
  const s = new PacketSplitter();
  deepEqual(s.push("+$qSupp"), [{ raw: "+" }]);
  deepEqual(s.push("orted#37\x03$D#4"), [
    { raw: "$qSupported#37", payload: "qSupported" },
    { raw: "\x03" },
  ]);
  deepEqual(s.push("4"), [{ raw: "$D#44", payload: "D" }]);
});

/** A stand-in stub: one end of a Unix socket pair; the GdbPort gets the other. */
async function stubPair(): Promise<{ stub: Deno.Conn; port: Deno.Conn } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "lockstep-test-" });
  const listener = Deno.listen({ transport: "unix", path: `${dir}/s` });
  const [port, stub] = await Promise.all([
    Deno.connect({ transport: "unix", path: `${dir}/s` }),
    listener.accept(),
  ]);
  listener.close();
  return {
    stub,
    port,
    [Symbol.asyncDispose]: async () => {
      try {
        stub.close();
      } catch { /* closed */ }
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const dec = new TextDecoder();
const enc = new TextEncoder();

/** Reads from `conn` until `want` has come (or the connection ends). */
async function readUntil(conn: Deno.Conn, want: string): Promise<string> {
  let got = "";
  const buf = new Uint8Array(4096);
  while (!got.includes(want)) {
    const n = await conn.read(buf);
    if (n === null) break;
    got += dec.decode(buf.subarray(0, n));
  }
  return got;
}

Deno.test("the debugger's port passes packets both ways and keeps the QEMU on a detach", async () => {
  await using pair = await stubPair();
  const events: PortEvent[] = [];
  let changed = () => {};
  await using port = new GdbPort(pair.port, (e) => {
    events.push(e);
    changed();
  });
  const gdb = await Deno.connect({ hostname: "127.0.0.1", port: port.port });
  // A packet goes to the stub as it came, and the stub's answer back.
  await gdb.write(enc.encode("+$g#67"));
  equal(await readUntil(pair.stub, "$g#67"), "+$g#67");
  await pair.stub.write(enc.encode("+$00112233#8c"));
  equal(await readUntil(gdb, "#8c"), "+$00112233#8c");
  // A second debugger is turned away while the first is attached.
  const second = await Deno.connect({ hostname: "127.0.0.1", port: port.port });
  equal(await second.read(new Uint8Array(1)), null);
  second.close();
  // The port answers these two itself: the stub keeps its acknowledgements
  // and stays stopped.
  await gdb.write(enc.encode("$QStartNoAckMode#b0"));
  equal(await readUntil(gdb, "#00"), "+$#00");
  await gdb.write(enc.encode("$D;1#b0"));
  equal(await readUntil(gdb, "#9a"), "+$OK#9a");
  equal(await gdb.read(new Uint8Array(1)), null, "the port hangs up after the detach");
  gdb.close();
  while (port.attached) await new Promise<void>((r) => (changed = r));
  deepEqual(events, ["attached", "detached"]);
  equal(port.sessions, 1);
  // Nothing of that reached the stub: the next thing it reads is the next debugger's.
  const next = await Deno.connect({ hostname: "127.0.0.1", port: port.port });
  await next.write(enc.encode("$?#3f"));
  equal(await readUntil(pair.stub, "#3f"), "$?#3f");
  next.close();
});

Deno.test("a debugger that leaves a running target: the port stops it for the next one", async () => {
  await using pair = await stubPair();
  await using port = new GdbPort(pair.port, () => {});
  const gdb = await Deno.connect({ hostname: "127.0.0.1", port: port.port });
  await gdb.write(enc.encode("$c#63"));
  equal(await readUntil(pair.stub, "$c#63"), "$c#63");
  gdb.close();
  // An interrupt, and the stop reply it brings is not passed on to anyone.
  equal(await readUntil(pair.stub, "\x03"), "\x03");
  await pair.stub.write(enc.encode("$T02thread:01;#04"));
  equal(await readUntil(pair.stub, "+"), "+");
  const next = await Deno.connect({ hostname: "127.0.0.1", port: port.port });
  await next.write(enc.encode("$?#3f"));
  equal(await readUntil(pair.stub, "#3f"), "$?#3f");
  await pair.stub.write(enc.encode("+$T02thread:01;#04"));
  equal(await readUntil(next, "#04"), "+$T02thread:01;#04");
  next.close();
});

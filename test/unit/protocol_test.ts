// The plugin protocol: parsing what a plugin writes, formatting what the
// harness sends, and the C mirror (plugin-src/protocol.h) agreeing with both.
import {
  COMMANDS,
  DetailKind,
  EventKind,
  MESSAGES,
  parseMessage,
  RecFrame,
  regsCommand,
  resyncCommand,
} from "../../harness/core/protocol.ts";
import { PLUGIN_ARGS } from "../../harness/plan/plugin_args.ts";
import { deepEqual, equal, throws } from "../../deps/assert.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("protocol.h names the same messages, commands, event kinds and arguments", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lockstep-test-" });
  try {
    const exe = `${dir}/tables`;
    const cc = await new Deno.Command(Deno.env.get("CC") ?? "cc", {
      args: [
        "-Wall",
        "-Werror",
        `-I${ROOT}plugin-src`,
        "-o",
        exe,
        `${ROOT}test/unit/testdata/protocol_tables.c`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    equal(cc.code, 0, new TextDecoder().decode(cc.stderr));
    const out = await new Deno.Command(exe, { stdout: "piped" }).output();
    const c = JSON.parse(new TextDecoder().decode(out.stdout));
    deepEqual(c.messages, MESSAGES);
    deepEqual(c.commands, COMMANDS);
    deepEqual(c.events, EventKind);
    deepEqual(c.args, PLUGIN_ARGS);
    deepEqual(c.recFrames, RecFrame);
    deepEqual(c.detailKinds, DetailKind);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plugin messages parse into their shapes", async (t) => {
  await t.step("a dumped block: sizes from hex digits, bytes kept", () => {
    deepEqual(parseMessage('{"t":"blk","i":12,"pc":"0x4000","sz":"4a1","b":"00112233"}'), {
      t: "blk",
      block: { i: 12, pc: 0x4000n, sizes: [4, 10, 1], bytes: "00112233" },
    });
  });
  await t.step("an event: addresses and values as bigints", () => {
    deepEqual(
      parseMessage('{"t":"ev","p":7,"k":2,"a":"0xffffffffffff0000","s":8,"v":"0x1"}'),
      { t: "ev", event: { pos: 7, kind: 2, a: 0xffffffffffff0000n, size: 8, v: 1n } },
    );
  });
  await t.step("a register list", () => {
    deepEqual(parseMessage('{"t":"regs","regs":[["x0","org.gnu.gdb.aarch64.core",8]]}'), {
      t: "regs",
      regs: [{ name: "x0", feature: "org.gnu.gdb.aarch64.core", size: 8 }],
    });
  });
  await t.step("a narrowing step: disassembly tidied, changed registers by index", () => {
    const m = parseMessage(
      '{"t":"step","p":3,"pc":"0x10","b":"d503201f","d":"nop  \\t ","r":{"2":"0100"}}',
    );
    equal(m.t, "step");
    if (m.t !== "step") return;
    equal(m.step.disas, "nop");
    deepEqual([...m.step.regs], [[2, "0100"]]);
  });
  await t.step("counts pass through", () => {
    deepEqual(
      parseMessage('{"t":"end","insns":5,"blocks":2,"hash":"0x0000000000000001","rss":9,"tail":0}'),
      { t: "end", insns: 5, blocks: 2, hash: "0x0000000000000001", rss: 9, tail: 0 },
    );
  });
  await t.step("an unknown kind or text that is not JSON is a SyntaxError", () => {
    throws(() => parseMessage('{"t":"hullo"}'), SyntaxError);
    throws(() => parseMessage("{"), SyntaxError);
    throws(() => parseMessage("[1]"), SyntaxError);
  });
});

Deno.test("commands are one line of words", () => {
  equal(regsCommand([3, 0, 12]), "regs 3 0 12");
  equal(regsCommand([]), "regs");
  equal(
    resyncCommand({ epoch: 2, origin: 1000, limit: 0, regsNext: 4096 }),
    "resync 2 1000 0 4096",
  );
});

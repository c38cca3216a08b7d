// Where the debuggers stop (harness/debug/target.ts), from a verdict in
// memory or read back from its JSON (harness/debug/verdict_file.ts).
import { debugTarget } from "../../harness/debug/target.ts";
import { parseVerdict } from "../../harness/debug/verdict_file.ts";
import { renderJson } from "../../cli/render.ts";
import { base, demo, diverged, memDiverged } from "./_verdicts.ts";
import type { Verdict } from "../../mod.ts";
import { deepEqual, equal, throws } from "../../deps/assert.ts";

/** What throws() checks of a DebugError: its class and what its message says. */
const refused = (message: RegExp) => ({ name: "DebugError", message });

Deno.test("the debuggers stop at the first differing instruction, each side at its own", () => {
  const t = debugTarget(demo, "before");
  equal(t.what, "divergence");
  deepEqual(t.a, { insn: 3362, pc: 0x40029cn, symbol: "mix_step+0x11", disas: "call 0x4001ef" });
  deepEqual(t.b, { insn: 3362, pc: 0x40029bn, symbol: "mix_step+0x10", disas: "jne 0x4002ae" });
  equal(debugTarget(demo, "after").when, "after");
});

Deno.test("with narrowing done, the debuggers stop at the instruction it named", () => {
  const t = debugTarget(diverged, "after");
  equal(t.what, "narrowed");
  deepEqual(t.a, {
    insn: 2344,
    pc: 0x40080a00n,
    symbol: "value_step+0x8",
    disas: "mov w1, #0x79b1",
  });
  equal(t.b.disas, "mov w1, #0xca6b");
});

Deno.test("side B's positions follow its own count after transient excursions", () => {
  const shifted: Verdict = {
    ...memDiverged,
    divergence: { ...memDiverged.divergence!, insnB: 2349 + 70 },
  };
  equal(debugTarget(shifted, "before").b.insn, 2344 + 70);
  const unnarrowed: Verdict = { ...demo, divergence: { ...demo.divergence!, insnB: 3400 } };
  equal(debugTarget(unnarrowed, "before").b.insn, 3400);
});

Deno.test("a verdict that names no instruction is a DebugError that says why", async (t) => {
  await t.step("no divergence", () => {
    throws(() => debugTarget(base, "before"), refused(/names no divergence.*status match/));
  });
  await t.step("a side whose stream ended", () => {
    const ended: Verdict = { ...demo, divergence: { ...demo.divergence!, b: null } };
    throws(() => debugTarget(ended, "before"), refused(/^Side b's stream ended/));
  });
  await t.step("against a trace", () => {
    const traced: Verdict = {
      ...demo,
      trace: { path: "t", bytes: 1, created: "2026-01-01", host: "h" },
    };
    throws(() => debugTarget(traced, "before"), refused(/compares with a trace/));
  });
});

Deno.test("a verdict read back from its JSON has its addresses as bigints again", () => {
  for (const v of [demo, diverged, memDiverged]) deepEqual(parseVerdict(renderJson(v)), v);
});

Deno.test("what is not a verdict is refused with the reason", async (t) => {
  await t.step("not JSON", () => {
    throws(() => parseVerdict("{"), refused(/not JSON/));
  });
  await t.step("another document", () => {
    throws(
      () => parseVerdict('{"version": 2, "status": "match"}'),
      refused(/not a qemu-lockstep verdict/),
    );
  });
  await t.step("no command lines", () => {
    throws(
      () => parseVerdict('{"version": 1, "status": "match", "sides": {}}'),
      refused(/no command lines/),
    );
  });
  await t.step("an address that is not one", () => {
    const text = renderJson(demo).replace('"pc": "0x40029c"', '"pc": "here"');
    throws(() => parseVerdict(text), refused(/divergence\.a\.pc is not an address/));
  });
});

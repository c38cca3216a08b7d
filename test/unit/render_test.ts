// The verdict as text and JSON, held against snapshot files
// (deno test -A --update-snapshots test/unit/render_test.ts rewrites them).
import { renderJson, renderProgress, renderText } from "../../cli/render.ts";
import type { Verdict } from "../../mod.ts";
import { equal, match, ok } from "../../deps/assert.ts";
import { base, crashed, demo, diverged, memDiverged } from "./_verdicts.ts";

Deno.test("text verdicts, one column per side (not a terminal)", async (t) => {
  for (
    const [name, v] of [
      ["match", base],
      ["diverged", diverged],
      ["crashed", crashed],
      ["the demo", demo],
      ["a memory access", memDiverged],
    ] as const
  ) {
    await t.step(name, async (s) => {
      await s.assertSnapshot(renderText(v));
    });
  }
  await t.step("verbose lists the transient excursions", async (s) => {
    const v: Verdict = {
      ...base,
      transients: [{
        insn: 1_000_010,
        insnB: 1_000_010,
        a: {
          pc: 0x80000100n,
          bytes: "13000000",
          blockPc: 0x80000100n,
          symbol: "trap",
          disas: "nop",
        },
        b: { pc: 0x80000200n, bytes: "13000000", blockPc: 0x80000200n, symbol: null },
        lengthA: 17,
        lengthB: 0,
      }],
    };
    await s.assertSnapshot(renderText(v, { verbose: true }));
  });
  await t.step("the progress line", async (s) => {
    await s.assertSnapshot(
      renderProgress({ insns: 12_345_678, elapsedSeconds: 2.5, insnsPerSecond: 4_938_271 }),
    );
  });
});

Deno.test("text verdicts on a terminal: side by side where two columns fit", async (t) => {
  await t.step("the demo on 120 columns", async (s) => {
    await s.assertSnapshot(renderText(demo, { width: 120 }));
  });
  await t.step("the demo on 80 columns falls back to one column per side", () => {
    equal(renderText(demo, { width: 80 }), renderText(demo));
  });
  await t.step("--history-lines 3", async (s) => {
    await s.assertSnapshot(renderText(demo, { width: 120, lines: 3 }));
  });
  await t.step("colour marks the divergent row and the rows that differ", () => {
    const text = renderText(demo, { width: 120, color: true });
    // deno-lint-ignore no-control-regex
    const red = text.split("\n").filter((l) => /^\x1b\[31m.*=>/.test(l));
    equal(red.length, 1);
    match(red[0]!, /3,362 +0x40029c +call 0x4001ef +│ +0x40029b +jne 0x4002ae/);
  });
});

Deno.test("the first line is the status and the message; what explains the verdict comes next", () => {
  const text = renderText({
    ...demo,
    warnings: ["The sides load different firmware openbios-sparc32: pass the same file to both"],
    disassembler: { command: null, note: "no disassembly: objdump not found" },
  });
  const lines = text.split("\n");
  equal(lines[0], `DIVERGED  ${demo.message}`);
  match(lines[1]!, /^ {2}warning: The sides load different firmware/);
  match(lines[2]!, /^ {2}not compared: regs: /);
  match(lines[3]!, /^ {2}note: no disassembly: objdump not found/);
  equal(lines[4], "");
});

Deno.test("the numbers say what they count", async (t) => {
  await t.step("a divergence: what agrees, then what each side ran", () => {
    const text = renderText(demo);
    match(
      text,
      /compared pc, mem, syscalls: the first 3,362 instructions agree; stopped by divergence after 1.07 s \(122.5 k insns\/s a side\)/,
    );
    match(text, /side a: .*exit 0; 131,072 instructions in 34,356 blocks at its last report/);
    match(text, /side b: .*exit 0; 131,074 instructions in 35,584 blocks at its last report/);
  });
  await t.step("no rate for a run shorter than a second", () => {
    const text = renderText(base);
    match(text, /all 322,412 instructions agree; stopped by guest-exit after 0.61 s\n/);
    ok(!/insns\/s/.test(text));
  });
});
Deno.test("JSON verdicts: addresses as hex strings, version first", async (t) => {
  const json = renderJson(diverged);
  await t.assertSnapshot(json);
  const parsed = JSON.parse(json);
  if (Object.keys(parsed)[0] !== "version" || parsed.divergence.a.pc !== "0x40080a10") {
    throw new Error("JSON shape changed");
  }
});

// Transient excursions: the riscv64 tick guest takes a timer interrupt every
// 1,000,000 instructions with -icount shift=0, every 500,000 with shift=1 on
// side B; its handler only re-arms the timer. With --transient-window the
// excursions are recognised and the run goes on; a real difference after
// them (the variant changes the result once, at the end) is still found.
import { QEMU_10_0_DIR } from "../../cli/setup_qemus.ts";
import { GUESTS, runCli } from "./_cli.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

const g = (name: string) => GUESTS + name;
const q10 = `${QEMU_10_0_DIR}qemu-system-riscv64`;
const slowTimerB = ["--extra-b=-icount", "--extra-b=shift=1,sleep=off"];
const tick = ["riscv64", g("riscv64-tick.elf")];
/** The tick guest on QEMU 10.0, side B's timer twice as fast, excursions recognised. */
const windowed = (...opts: string[]) =>
  runCli([...opts, "--qemu", q10, "--transient-window", "50000", ...slowTimerB, ...tick]);

Deno.test("tick guest, timers apart: without a transient window the first interrupt is the divergence", async () => {
  const r = await runCli(["--json", "--qemu", q10, ...slowTimerB, ...tick]);
  equal(r.code, 1, r.stderr);
  const d = r.json.divergence;
  equal(d.kind, "pc");
  match(d.b.symbol, /^tick_handler/);
  deepEqual(r.json.transients, []);
});

Deno.test("tick guest, timers apart: --transient-window goes past every excursion and matches", async () => {
  const r = await windowed("--json");
  equal(r.code, 0, r.stderr + r.json?.message);
  equal(r.json.status, "match");
  const xs = r.json.transients;
  ok(xs.length >= 5, `${xs.length} excursions`);
  for (const x of xs) {
    // Each is one of the two shapes: side B took an interrupt side A did not,
    // or both took it at different points (the same length each).
    ok(x.lengthA === 0 || x.lengthA === x.lengthB, JSON.stringify(x));
    ok(x.lengthB > 0 && x.lengthB < 1000);
    ok([x.a?.symbol, x.b?.symbol].some((s) => /^tick_handler/.test(s ?? "")), JSON.stringify(x));
    ok(x.insnB >= x.insn);
  }
  // Listed with --verbose only.
  const quiet = await windowed("--color", "never");
  match(quiet.stderr, /\d+ transient excursion\(s\).*--verbose lists them/);
  const loud = await windowed("--verbose", "--color", "never");
  match(
    loud.stderr,
    /#[\d,]+: side a ran \d+ from 0x[0-9a-f]+ <.*>.*; side b ran \d+ from 0x[0-9a-f]+ <tick_handler/,
  );
});

Deno.test("tick pair, timers apart: the real difference after the excursions is found and narrowed", async () => {
  const r = await windowed("--json", "--image-b", g("riscv64-tick-variant.elf"));
  equal(r.code, 1, r.stderr);
  const d = r.json.divergence;
  ok(r.json.transients.length >= 5);
  // Side B ran the handler more often: its count is ahead.
  ok(d.insnB > d.insn, `${d.insn} / ${d.insnB}`);
  equal(d.narrow.status, "done", d.narrow.why);
  match(d.narrow.b.disas, /^xori a0,s0,1$/);
  deepEqual(d.narrow.regs.map((x: { name: string }) => x.name), ["a0"]);
  // On QEMU 7.2 (no registers) the excursions are recognised all the same.
  const old = await runCli(["--json", "--transient-window", "50000", ...slowTimerB, ...tick]);
  equal(old.code, 0, old.stderr + old.json?.message);
  ok(old.json.transients.length >= 5);
});

Deno.test("tick guest, timers apart: --max-insns with excursions, also one under way at the limit", async () => {
  // 2,700,000 lies between excursions; at 3,000,000 one is under way (it
  // starts at 2,999,982 and the streams meet again 71 instructions later).
  for (const limit of [2_700_000, 3_000_000]) {
    const r = await windowed("--json", "--max-insns", String(limit));
    equal(r.code, 0, r.stderr + r.json?.message);
    equal(r.json.stoppedBy, "max-insns");
    equal(r.json.insns, limit);
    ok(r.json.transients.length >= 5);
    if (limit === 3_000_000) match(r.json.message, /under way at the limit/);
  }
});

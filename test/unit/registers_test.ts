// Which registers both sides compare, and how their bytes read.
import { chooseRegisters, regValue } from "../../harness/plan/registers.ts";
import { narrowBudget } from "../../harness/run/narrow.ts";
import { deepEqual, equal } from "../../deps/assert.ts";

const core = "org.gnu.gdb.aarch64.core";

Deno.test("registers both sides describe alike are compared, in side A's order", () => {
  const a = [
    { name: "x0", feature: core, size: 8 },
    { name: "x1", feature: core, size: 8 },
    { name: "pc", feature: core, size: 8 },
    { name: "v0", feature: "org.gnu.gdb.aarch64.fpu", size: 16 },
    { name: "MIDR_EL1", feature: "org.qemu.gdb.aarch64.sys.regs", size: 8 },
    { name: "only_a", feature: core, size: 8 },
    { name: "bad", feature: core, size: -1 },
  ];
  const b = [
    { name: "x1", feature: core, size: 8 },
    { name: "x0", feature: core, size: 8 },
    { name: "pc", feature: core, size: 8 },
    { name: "v0", feature: "org.gnu.gdb.aarch64.fpu", size: 32 },
    { name: "only_b", feature: core, size: 8 },
    { name: "bad", feature: core, size: -1 },
  ];
  const c = chooseRegisters(a, b, ["X1"]);
  deepEqual(c.names, ["x0"]);
  deepEqual(c.a, [0]);
  deepEqual(c.b, [1]);
  deepEqual(c.skipped.map((s) => s.name), [
    "x1",
    "pc",
    "v0",
    "only_a",
    "bad",
    "1 system registers",
    "only_b",
  ]);
  equal(c.skipped[0]!.why, "masked (--mask-reg)");
  equal(c.skipped[2]!.why, "sizes differ (16 and 32 bytes)");
});

Deno.test("register bytes read in target byte order", () => {
  equal(regValue("b1797900", false), "0x7979b1");
  equal(regValue("0000007f", true), "0x7f");
  equal(regValue("00000000", false), "0x0");
});

Deno.test("narrowing's re-runs get what --timeout leaves, a minute or three runs' time otherwise", () => {
  equal(narrowBudget(0.4, undefined), 60);
  equal(narrowBudget(30, undefined), 90);
  equal(narrowBudget(5, 10), 5);
  equal(narrowBudget(0.4, 1), undefined);
  equal(narrowBudget(2, 1), undefined);
});

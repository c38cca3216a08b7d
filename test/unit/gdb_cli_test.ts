// The CLI's part of debugging a divergence (cli/gdb.ts): --gdb,
// --gdb-batch and --log-at-divergence taken out of a run's arguments, and
// two gdb outputs side by side.
import { sideBySide, takeGdbOptions } from "../../cli/gdb.ts";
import { deepEqual, equal, throws } from "../../deps/assert.ts";

Deno.test("--gdb, --gdb=after and --gdb-batch are taken out of a run's arguments", () => {
  deepEqual(takeGdbOptions(["x86_64", "g", "--gdb"]), {
    argv: ["x86_64", "g"],
    gdb: { when: "before", batch: undefined },
  });
  deepEqual(takeGdbOptions(["--gdb=after", "x86_64", "g", "--gdb-batch", "s.gdb"]), {
    argv: ["x86_64", "g"],
    gdb: { when: "after", batch: "s.gdb" },
  });
  // --gdb-batch alone stops before the instruction.
  deepEqual(takeGdbOptions(["--gdb-batch=s.gdb", "a", "b"]).gdb, {
    when: "before",
    batch: "s.gdb",
  });
  // The guest's own arguments are the guest's.
  deepEqual(takeGdbOptions(["a", "b", "--", "--gdb"]), {
    argv: ["a", "b", "--", "--gdb"],
    gdb: undefined,
  });
  throws(() => takeGdbOptions(["--gdb=later"]), { name: "UsageError", message: /before or after/ });
  throws(() => takeGdbOptions(["--gdb-batch"]), {
    name: "UsageError",
    message: /Missing the gdb script/,
  });
});

Deno.test("--log-at-divergence ITEMS is taken out of a run's arguments, with or without --gdb", () => {
  deepEqual(takeGdbOptions(["--log-at-divergence", "op,out_asm", "x86_64", "g"]), {
    argv: ["x86_64", "g"],
    gdb: undefined,
    log: "op,out_asm",
  });
  deepEqual(takeGdbOptions(["--gdb", "--log-at-divergence=in_asm", "a", "b"]), {
    argv: ["a", "b"],
    gdb: { when: "before", batch: undefined },
    log: "in_asm",
  });
  throws(() => takeGdbOptions(["a", "--log-at-divergence"]), {
    name: "UsageError",
    message: /Missing QEMU's log items/,
  });
});

Deno.test("two outputs side by side: lines that differ marked, columns cut to fit", () => {
  const text = sideBySide(
    ["side a", "rip 0x40029c", "same", "a very long line that does not fit"],
    ["side b", "rip 0x40029b", "same"],
    43,
  );
  const row = (a: string, mark: string, b: string) => `${a.padEnd(20)} ${mark} ${b}`.trimEnd();
  equal(
    text,
    [
      row("side a", " ", "side b"),
      row("rip 0x40029c", "|", "rip 0x40029b"),
      row("same", " ", "same"),
      row("a very long line th…", "|", ""),
      "",
    ].join("\n"),
  );
});

// The fast path (hash checkpoints far apart, sides far apart) must name the
// same divergence as the slowest, simplest setting: a checkpoint after every
// instruction and no side ever more than one instruction ahead.
import { GUESTS, runCli } from "./_cli.ts";
import { deepEqual, equal } from "../../deps/assert.ts";

Deno.test("kernel boot with a different command line on side B: fast path finds the same divergence as checkpointing every instruction", async () => {
  const args = [
    "--json",
    // Addresses only. (The SeaBIOS store once flaky here with mem was the
    // event ring, flushed by one rep copy: docs/how-it-works.md#events.)
    "--compare",
    "pc",
    "x86_64",
    `${GUESTS}vmlinuz`,
    "--extra=-append",
    "--extra-a",
    "console=ttyS0 panic=-1",
    "--extra-b",
    "console=ttyS0 panic=-1 lockstep=1",
  ];
  const fast = await runCli(args);
  const slow = await runCli(["--interval", "1", "--window", "1", ...args]);
  for (const r of [fast, slow]) {
    equal(r.code, 1, r.stderr);
    equal(r.json.status, "diverged");
  }
  equal(fast.json.divergence.insn, slow.json.divergence.insn);
  equal(fast.json.divergence.a.pc, slow.json.divergence.a.pc);
  equal(fast.json.divergence.b.pc, slow.json.divergence.b.pc);
  deepEqual(fast.json.divergence.history, slow.json.divergence.history);
  // The run is long enough for the fast path's checkpoints to matter.
  equal(fast.json.divergence.insn > 1_000_000, true);
});

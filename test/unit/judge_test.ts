// Judging a run from the sides' state, and their dumps.
import { compareOutcome, decide, type DecideContext } from "../../harness/run/judge.ts";
import type { PairSide } from "../../harness/run/side_pair.ts";
import { initialState, type SideState } from "../../harness/run/side_state.ts";
import type { DumpBlock, DumpEvent } from "../../harness/core/protocol.ts";
import { fakeSide } from "./_plan.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

/** A side's state; `hello: false` for a plugin that never said hello. */
function side(role: "a" | "b", extra: { exit?: PairSide["exit"]; hello?: false } = {}): SideState {
  const pair = {
    plan: fakeSide(role, 4, "user"),
    argv: [],
    closed: false,
    ...(extra.hello === false
      ? {}
      : { hello: { t: "hello", role, target: "x86_64", api: 4, pid: 1, memValues: true } }),
    ...(extra.exit ? { exit: extra.exit } : {}),
  } as unknown as PairSide;
  return initialState(pair);
}

const cx = (over: Partial<DecideContext> = {}): DecideContext => ({
  timedOut: false,
  aborted: false,
  startTimedOut: false,
  stalled: undefined,
  timeoutSeconds: undefined,
  startSeconds: 60,
  now: 0,
  ...over,
});

const exited = { code: 1, signal: null };

Deno.test("decide: what ends a run, and how", async (t) => {
  await t.step("running, nothing known: not over", () => {
    equal(decide({ a: side("a"), b: side("b") }, cx()), undefined);
  });
  await t.step("a QEMU that exits before its plugin said hello is a set-up error", () => {
    const a = side("a", { hello: false, exit: exited });
    const o = decide({ a, b: side("b") }, cx())!;
    equal(o.status, "error");
    equal(o.message, "QEMU for side a exited (exit code 1) before the plugin started");
  });
  await t.step("one that exits without a word from its plugin died", () => {
    const b = side("b", { exit: { code: null, signal: "SIGKILL" } });
    b.insns = 1234;
    const o = decide({ a: side("a"), b }, cx())!;
    equal(o.status, "inconclusive");
    equal(o.stoppedBy, "crash");
    equal(
      o.message,
      "QEMU for side b died (signal SIGKILL), not its guest: it crashed or was killed after " +
        "instruction 1234 (its plugin's last report)",
    );
  });
  await t.step("guests killed by the same signal after the same instructions: a match", () => {
    const a = side("a", { exit: { code: null, signal: "SIGSEGV" } });
    const b = side("b", { exit: { code: null, signal: "SIGSEGV" } });
    a.end = b.end = { insns: 49, hash: "0x1", tail: 0 };
    const o = decide({ a, b }, cx())!;
    equal(o.status, "match");
    equal(o.stoppedBy, "guest-exit");
    equal(o.message, "Both guests were killed by SIGSEGV after 49 instructions, no divergence");
    // The fast pass's inline flavour claims the block it died in whole.
    a.end = b.end = { insns: 51, hash: "0x1", tail: 4 };
    match(decide({ a, b }, cx())!.message, /after 48 to 51 instructions/);
  });
  await t.step("another signal, or a signal against an exit, at the same end: diverged", () => {
    for (const other of [{ code: null, signal: "SIGILL" }, { code: 0, signal: null }]) {
      const a = side("a", { exit: { code: null, signal: "SIGSEGV" } });
      const b = side("b", { exit: other });
      a.end = b.end = { insns: 49, hash: "0x1", tail: 0 };
      const o = decide({ a, b }, cx())!;
      equal(o.status, "diverged");
      equal(o.stoppedBy, "guest-exit");
      equal(o.insns, 48);
      match(
        o.message,
        /^The guests' ends differ after the same 49 instructions: side a's guest was killed by SIGSEGV, side b's (was killed by SIGILL|exited with code 0)$/,
      );
    }
  });
  await t.step("exit codes alone are the session's to weigh: a match here", () => {
    const a = side("a", { exit: { code: 0, signal: null } });
    const b = side("b", { exit: { code: 1, signal: null } });
    a.end = b.end = { insns: 49, hash: "0x1", tail: 0 };
    a.insns = b.insns = 49;
    equal(decide({ a, b }, cx())!.status, "match");
  });
  await t.step("both guests ended alike: a match", () => {
    const a = side("a", { exit: { code: 0, signal: null } });
    const b = side("b", { exit: { code: 0, signal: null } });
    a.end = b.end = { insns: 500, hash: "0x1", tail: 0 };
    const o = decide({ a, b }, cx())!;
    equal(o.status, "match");
    equal(o.stoppedBy, "guest-exit");
  });
  await t.step("the same hash at --max-insns: a match", () => {
    const a = side("a");
    const b = side("b");
    a.limit = { at: 100, atHash: "0x2" };
    b.limit = { at: 100, atHash: "0x2" };
    equal(decide({ a, b }, cx())!.stoppedBy, "max-insns");
    b.limit = { at: 100, atHash: "0x3" };
    equal(decide({ a, b }, cx()), undefined);
  });
  await t.step("a plugin's error, an abort and the timeout end it first, in that order", () => {
    const a = side("a");
    a.error = "vCPU 1 started";
    equal(decide({ a, b: side("b") }, cx({ aborted: true }))!.status, "error");
    equal(
      decide({ a: side("a"), b: side("b") }, cx({ aborted: true, timedOut: true }))!.stoppedBy,
      "interrupted",
    );
    const o = decide({ a: side("a"), b: side("b") }, cx({ timedOut: true, timeoutSeconds: 7 }))!;
    equal(o.message, "No verdict within 7 s (raise --timeout, or use --max-insns)");
  });
  await t.step("a plugin that never loads is a set-up error once the start time is up", () => {
    const b = side("b", { hello: false });
    const o = decide({ a: side("a"), b }, cx({ startTimedOut: true }))!;
    equal(o.message, "QEMU for side b did not load the plugin within 60 s");
  });
});

const blk = (i: number, pc: number, n: number): DumpBlock => ({
  i,
  pc: BigInt(pc),
  sizes: Array(n).fill(4),
  bytes: "0000a0e1".repeat(n),
});

function dumped(s: SideState, blocks: DumpBlock[], events: DumpEvent[] = []): SideState {
  s.dump = { good: 0, bad: 8, insns: 8, origin: 0, complete: true, blocks, events, done: true };
  return s;
}

Deno.test("compareOutcome: the first difference, and what kind it is", async (t) => {
  await t.step("an address: kind pc", () => {
    const o = compareOutcome(
      dumped(side("a"), [blk(0, 0x100, 4), blk(4, 0x200, 4)]),
      dumped(side("b"), [blk(0, 0x100, 4), blk(4, 0x300, 4)]),
      8,
    );
    equal(o.status, "diverged");
    equal(o.divergence!.kind, "pc");
    equal(o.divergence!.insn, 4);
    equal(o.message, "Diverged at instruction 4: side a at 0x200, side b at 0x300");
  });
  await t.step("a store's value: kind mem, with values since both read them", () => {
    const st = (v: bigint): DumpEvent => ({ pos: 2, kind: 2, a: 0x8000n, size: 4, v });
    const o = compareOutcome(
      dumped(side("a"), [blk(0, 0x100, 8)], [st(1n)]),
      dumped(side("b"), [blk(0, 0x100, 8)], [st(2n)]),
      8,
    );
    equal(o.divergence!.kind, "mem");
    match(o.message, /a memory access differs/);
    equal(o.divergence!.events!.a!.value, 1n);
  });
  await t.step("a register snapshot: kind regs", () => {
    const r = (v: bigint): DumpEvent => ({ pos: 3, kind: 5, a: 0x100n, size: 0, v });
    const o = compareOutcome(
      dumped(side("a"), [blk(0, 0x100, 8)], [r(1n)]),
      dumped(side("b"), [blk(0, 0x100, 8)], [r(2n)]),
      8,
    );
    equal(o.divergence!.kind, "regs");
  });
  await t.step("a system call's answer: kind environment, inconclusive, the call named", () => {
    const call: DumpEvent = { pos: 5, kind: 3, a: 39n, size: 0, v: 0n };
    const ret = (v: bigint): DumpEvent => ({ pos: 5, kind: 4, a: 39n, size: 0, v });
    const o = compareOutcome(
      dumped(side("a"), [blk(0, 0x100, 8)], [call, ret(4200000n)]),
      dumped(side("b"), [blk(0, 0x100, 8)], [call, ret(4711n)]),
      8,
    );
    equal(o.status, "inconclusive");
    equal(o.divergence!.kind, "environment");
    equal(
      o.message,
      "The environment differs at instruction 5: getpid (39) returned 4200000 on side a, 4711 on side b",
    );
    const env = o.divergence!.environment!;
    equal(env.call, "getpid");
    equal(env.what, "result");
    deepEqual([env.a, env.b], ["4200000", "4711"]);
    match(env.hint, /environment shim/);
    equal(o.divergence!.events!.a!.kind, "syscall-result");
  });
  await t.step("what a call wrote, and a call lockstep does not equalise", () => {
    const out = (v: bigint): DumpEvent => ({ pos: 5, kind: 6, a: 0n, size: 8, v });
    const o = compareOutcome(
      dumped(side("a"), [blk(0, 0x100, 8)], [out(0x10n)]),
      dumped(side("b"), [blk(0, 0x100, 8)], [out(0x20n)]),
      8,
    );
    equal(o.divergence!.kind, "environment");
    const env = o.divergence!.environment!;
    deepEqual([env.call, env.what, env.offset, env.a, env.b], [
      "read",
      "output",
      8,
      "0x10",
      "0x20",
    ]);
    match(env.hint, /not TCG's doing/);
  });
  await t.step("different arguments are the guest's own: kind syscall", () => {
    const call = (v: bigint): DumpEvent => ({ pos: 5, kind: 3, a: 1n, size: 0, v });
    const o = compareOutcome(
      dumped(side("a"), [blk(0, 0x100, 8)], [call(1n)]),
      dumped(side("b"), [blk(0, 0x100, 8)], [call(2n)]),
      8,
    );
    equal(o.status, "diverged");
    equal(o.divergence!.kind, "syscall");
    equal(o.divergence!.events!.a!.name, "write");
  });
  await t.step(
    "arguments where no count is known: all six registers, and the message says so",
    () => {
      const call = (v: bigint): DumpEvent => ({ pos: 5, kind: 3, a: 4n, size: 0, v });
      const on = (s: SideState) => {
        (s.pair.hello as { target: string }).target = "sparc";
        return s;
      };
      const o = compareOutcome(
        dumped(on(side("a")), [blk(0, 0x100, 8)], [call(1n)]),
        dumped(on(side("b")), [blk(0, 0x100, 8)], [call(2n)]),
        8,
      );
      equal(o.divergence!.kind, "syscall");
      match(
        o.message,
        /a system call differs: lockstep knows no argument count for system call 4 on sparc, so all six argument registers are compared, used or not\)/,
      );
      // On x86_64 the count is known: nothing to add.
      const x = compareOutcome(
        dumped(side("a"), [blk(0, 0x100, 8)], [call(1n)]),
        dumped(side("b"), [blk(0, 0x100, 8)], [call(2n)]),
        8,
      );
      match(x.message, /\(a system call differs\)/);
    },
  );
  await t.step(
    "a call's arguments after the guest read the host's counter: the environment's",
    () => {
      // Instruction 1 is rdtsc (0f 31), 2 a system call (0f 05) given what it read.
      const counted: DumpBlock = {
        i: 0,
        pc: 0x100n,
        sizes: [1, 2, 2],
        bytes: "90" + "0f31" + "0f05",
      };
      const call = (v: bigint): DumpEvent => ({ pos: 2, kind: 3, a: 8n, size: 0, v });
      const o = compareOutcome(
        dumped(side("a"), [counted], [call(1n)]),
        dumped(side("b"), [counted], [call(2n)]),
        8,
      );
      equal(o.status, "inconclusive");
      equal(o.divergence!.kind, "environment");
      equal(o.divergence!.environment!.what, "counter");
      equal(o.divergence!.events!.a!.name, "lseek");
    },
  );
  await t.step(
    "one guest ended where the other certainly went on: diverged, not a part-run block",
    () => {
      const a = dumped(side("a"), [blk(0, 0x100, 4)]);
      const b = dumped(side("b"), [blk(0, 0x100, 4), blk(4, 0x200, 4)]);
      a.end = { insns: 4, hash: "0x1", tail: 0 };
      b.end = { insns: 8, hash: "0x2", tail: 0 };
      const o = compareOutcome(a, b, 8);
      equal(o.status, "diverged");
      equal(o.message, "Diverged at instruction 4: side a at its end, side b at 0x200");
      // Where side b's last block may have run part-way, it is not known to have gone on.
      b.end = { insns: 8, hash: "0x2", tail: 4 };
      equal(compareOutcome(a, b, 8).status, "match");
    },
  );
  await t.step("a value after the guest read the host's counter (rdtsc): kind environment", () => {
    // Instruction 1 is rdtsc (0f 31), 2 a 4-byte store of what it read.
    const counted: DumpBlock = {
      i: 0,
      pc: 0x100n,
      sizes: [1, 2, 4],
      bytes: "90" + "0f31" + "89c0c0c0",
    };
    const st = (v: bigint): DumpEvent => ({ pos: 2, kind: 2, a: 0x8000n, size: 8, v });
    const o = compareOutcome(
      dumped(side("a"), [counted], [st(0x1234n)]),
      dumped(side("b"), [counted], [st(0x1299n)]),
      8,
    );
    equal(o.status, "inconclusive");
    equal(o.divergence!.kind, "environment");
    const env = o.divergence!.environment!;
    deepEqual([env.call, env.what, env.insn, env.a, env.b], [
      "rdtsc",
      "counter",
      1,
      "0x1234",
      "0x1299",
    ]);
    match(o.message, /after rdtsc read the host's counter at instruction 1$/);
    // Without the counter read, the same store is TCG's to answer for.
    const plain: DumpBlock = { ...counted, bytes: "90" + "9090" + "89c0c0c0" };
    const m = compareOutcome(
      dumped(side("a"), [plain], [st(0x1234n)]),
      dumped(side("b"), [plain], [st(0x1299n)]),
      8,
    );
    equal(m.divergence!.kind, "mem");
  });
  await t.step("a dump that no longer reaches back is inconclusive", () => {
    const a = dumped(side("a"), [blk(0, 0x100, 8)]);
    a.dump!.complete = false;
    const o = compareOutcome(a, dumped(side("b"), [blk(0, 0x100, 8)]), 8);
    equal(o.status, "inconclusive");
    match(o.message, /smaller --window/);
  });
  await t.step("a difference in the part-run last block of ended guests is not one", () => {
    const a = dumped(side("a"), [blk(0, 0x100, 8)]);
    const b = dumped(side("b"), [blk(0, 0x100, 6)]);
    a.end = { insns: 8, hash: "0x1", tail: 4 };
    b.end = { insns: 6, hash: "0x2", tail: 0 };
    const o = compareOutcome(a, b, 8);
    equal(o.status, "match");
    ok(o.message.includes("left its last block part-way"));
  });
});

Deno.test("a refusal waits a moment for the other side, to name both when both refuse", async (t) => {
  const refusing = (role: "a" | "b") => {
    const s = side(role, { exit: exited });
    s.pair.exitedAt = 1000;
    return s;
  };
  await t.step("the other still at its start: not yet, then the one side", () => {
    const st = { a: refusing("a"), b: side("b") };
    equal(decide(st, cx({ now: 1500 })), undefined);
    // A refusing QEMU's plugin reports its end at 0 before QEMU exits.
    st.b.end = { insns: 0, hash: "0x0", tail: 0 };
    equal(decide(st, cx({ now: 1500 })), undefined);
    match(decide(st, cx({ now: 2000 }))!.message, /^QEMU for side a refused to run the guest/);
  });
  await t.step("both refused: both named", () => {
    const st = { a: refusing("a"), b: refusing("b") };
    match(decide(st, cx({ now: 1000 }))!.message, /^QEMU on both sides refused to run the guest/);
  });
  await t.step("the other ran instructions: the one side at once", () => {
    const b = side("b");
    b.insns = 10;
    match(
      decide({ a: refusing("a"), b }, cx({ now: 1000 }))!.message,
      /^QEMU for side a refused to run the guest/,
    );
  });
});

// Reconciling the detail pass with what the fast pass saw: when the detail
// pass goes on past the environment's difference, and what the verdict
// heads with (harness/run/reconcile.ts); and a counter read whose value the
// plugins made equal is no excuse for a later difference (judge.ts).
import { continuationPlan, fastApart, goesOn, reconcile } from "../../harness/run/reconcile.ts";
import { compareOutcome, type Outcome } from "../../harness/run/judge.ts";
import type { PairSide } from "../../harness/run/side_pair.ts";
import { initialState, type SideState } from "../../harness/run/side_state.ts";
import type { DumpBlock, DumpEvent } from "../../harness/core/protocol.ts";
import type { Divergence, EnvironmentDifference } from "../../harness/verdict/verdict.ts";
import { fakePlan, fakeSide } from "./_plan.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

const counter: EnvironmentDifference = {
  call: "rdtsc",
  what: "counter",
  insn: 17,
  a: "0x1",
  b: "0x2",
  hint: "the host's counter",
};
const result: EnvironmentDifference = {
  call: "mmap",
  number: 9,
  what: "result",
  a: "4096",
  b: "8192",
  hint: "the host's answer",
};

function divergence(insn: number, env?: EnvironmentDifference): Divergence {
  return {
    insn,
    kind: env ? "environment" : "pc",
    ...(env ? { environment: env } : {}),
    a: { pc: 0x1000n, bytes: "90", blockPc: 0x1000n, symbol: null },
    b: { pc: 0x2000n, bytes: "90", blockPc: 0x2000n, symbol: null },
    history: { a: [], b: [] },
  } as Divergence;
}

const found = (d: Divergence): Outcome => ({
  status: d.environment ? "inconclusive" : "diverged",
  stoppedBy: "divergence",
  message: d.environment
    ? `The environment differs at instruction ${d.insn}: it does`
    : `Diverged at instruction ${d.insn}`,
  divergence: d,
});
const matched: Outcome = { status: "match", stoppedBy: "guest-exit", message: "Both ended" };
const apart = { good: 4194304, bad: 8388608 };

Deno.test("the detail pass goes on past the environment only where the fast pass cannot have seen it", async (t) => {
  await t.step("a counter's value before where the streams part: on", () => {
    ok(goesOn(divergence(23, counter), apart));
    ok(goesOn(divergence(5000000, counter), apart));
  });
  await t.step("a system call's answer where the fast pass still agreed: on", () => {
    ok(goesOn(divergence(100, result), apart));
  });
  await t.step(
    "a system call's answer where the streams part: it is what the fast pass saw",
    () => {
      equal(goesOn(divergence(5000000, result), apart), false);
    },
  );
  await t.step("not past where the fast pass saw them part, nor without one", () => {
    equal(goesOn(divergence(8388608, counter), apart), false);
    equal(goesOn(divergence(23, counter), undefined), false);
    equal(goesOn(divergence(23), apart), false);
  });
  await t.step("it compares what the fast pass compares, and stops there", () => {
    const plan = fakePlan({ compare: ["pc", "regs", "mem", "syscalls"], apis: [5, 5] });
    const next = continuationPlan(plan, apart);
    deepEqual(next.compare, ["pc", "regs", "syscalls"]);
    equal(next.regsEvery, plan.fast.interval);
    equal(next.maxInsns, apart.bad);
  });
  await t.step("the fast pass's report says where", () => {
    deepEqual(
      fastApart({ result: "apart", why: "", insns: 0, seconds: 0, good: 1, bad: 2 }),
      { good: 1, bad: 2 },
    );
    equal(
      fastApart({ result: "apart", why: "the guests' output differs", insns: 0, seconds: 0 }),
      undefined,
    );
  });
});

Deno.test("the verdict heads with what the passes found, and never matches over what the fast pass saw", async (t) => {
  await t.step(
    "the difference where the streams part heads; the environment's first is named",
    () => {
      const r = reconcile(found(divergence(23, counter)), found(divergence(5000000)), apart);
      equal(r.outcome.status, "diverged");
      equal(r.confirmed, true);
      equal(r.outcome.divergence!.insn, 5000000);
      const before = r.outcome.divergence!.environmentBefore!;
      equal(before.insn, 23);
      equal(before.environment, counter);
      match(
        r.outcome.message,
        /^Diverged at instruction 5000000; the environment differed first, at instruction 23: a value differs \(0x1 on side a, 0x2 on side b\) after rdtsc read the host's counter at instruction 17$/,
      );
    },
  );
  await t.step("two of the environment's: the later one heads, inconclusive", () => {
    const r = reconcile(found(divergence(23, counter)), found(divergence(5000000, result)), apart);
    equal(r.outcome.status, "inconclusive");
    equal(r.outcome.divergence!.environment, result);
    equal(r.outcome.divergence!.environmentBefore!.insn, 23);
  });
  await t.step("nothing where the streams parted: the environment's alone, not seen again", () => {
    const limit: Outcome = { status: "match", stoppedBy: "max-insns", message: "No divergence" };
    const r = reconcile(found(divergence(23, counter)), limit, apart);
    equal(r.outcome.status, "inconclusive");
    equal(r.confirmed, false);
    equal(r.outcome.divergence!.insn, 23);
    match(r.outcome.message, /going on to there, did not: two runs of the guest differ$/);
  });
  await t.step("a detail pass that sees nothing at all: inconclusive, not a match", () => {
    const r = reconcile(matched, undefined, apart);
    equal(r.outcome.status, "inconclusive");
    equal(r.confirmed, false);
    match(
      r.outcome.message,
      /^The fast pass saw the streams part between instructions 4194304 and 8388608, but the detail pass, a second run, saw no difference/,
    );
  });
  await t.step("a match only in the block a guest left part-way stays a match", () => {
    const partWay: Outcome = { ...matched, partWay: true };
    equal(reconcile(partWay, undefined, apart).outcome.status, "match");
  });
  await t.step("a difference the detail pass found where the fast pass saw one: confirmed", () => {
    const r = reconcile(found(divergence(5000000)), undefined, apart);
    equal(r.outcome.message, "Diverged at instruction 5000000");
    equal(r.confirmed, true);
  });
  await t.step("no fast pass difference: the detail pass's outcome as it is", () => {
    deepEqual(reconcile(matched, undefined, undefined), { outcome: matched });
  });
});

function side(role: "a" | "b", blocks: DumpBlock[], events: DumpEvent[]): SideState {
  const pair = {
    plan: fakeSide(role, 5, "user"),
    argv: [],
    closed: false,
    hello: { t: "hello", role, target: "x86_64", api: 5, pid: 1, memValues: true },
  } as unknown as PairSide;
  const s = initialState(pair);
  s.dump = { good: 0, bad: 8, insns: 8, origin: 0, complete: true, blocks, events, done: true };
  return s;
}

Deno.test("a value that differs after a counter read the plugins made equal is not the counter's", () => {
  // Instruction 1 is rdtsc (0f 31), 2 a store of a value that differs.
  const counted: DumpBlock = {
    i: 0,
    pc: 0x100n,
    sizes: [1, 2, 4],
    bytes: "90" + "0f31" + "89c0c0c0",
  };
  const st = (v: bigint): DumpEvent => ({ pos: 2, kind: 2, a: 0x8000n, size: 8, v });
  const judge = (countersEqual: boolean) =>
    compareOutcome(
      side("a", [counted], [st(1n)]),
      side("b", [counted], [st(2n)]),
      8,
      countersEqual,
    );
  equal(judge(false).divergence!.kind, "environment");
  const o = judge(true);
  equal(o.status, "diverged");
  equal(o.divergence!.kind, "mem");
});

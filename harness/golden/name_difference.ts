/**
 * Naming the first difference between a live QEMU and a golden trace
 * (steps 2 and 3 of against.ts): the live side records its stream, which
 * is compared chunk by chunk with the trace's, then runs once more to show
 * its instructions there.
 */

import { decisionNear } from "../trace/decisions.ts";
import { found, type LivePlugins, type LiveRun, runLive } from "./live_run.ts";
import { sideArgv } from "../plan/command_line.ts";
import { flattenDump, whereRan } from "../verdict/dump_diff.ts";
import type { Outcome } from "../run/judge.ts";
import type { RunPlan } from "../plan/plan.ts";
import { type DumpEvent, EventKind, type Step } from "../core/protocol.ts";
import { recordParams } from "./record.ts";
import { regValue } from "../plan/registers.ts";
import type { SessionOptions } from "../run/session.ts";
import { capitalise } from "../run/side_result.ts";
import { sideDump } from "../run/side_state.ts";
import type { Detail } from "../trace/codec.ts";
import { type StreamDiff, StreamDiffer } from "./stream_diff.ts";
import type { Trace } from "../trace/reader.ts";
import { PeerMsgType } from "./trace_peer.ts";
import { describeEnvironment, environmentDifference } from "../verdict/environment.ts";
import {
  type Divergence,
  eventView,
  type NamedBlock,
  type NamedInsn,
  type TraceWindow,
} from "../verdict/verdict.ts";
import { DEFAULTS } from "../core/defaults.ts";

/** What naming the difference came to. */
interface Named {
  readonly outcome: Outcome;
  readonly divergence: Divergence | null;
}

/** An instruction's position on the live side's dump, as the verdict shows it. */
interface LiveView {
  readonly at: (pos: number) => NamedInsn | null;
  readonly history: (pos: number) => NamedBlock[];
}

/** Names the first difference between the live stream and the trace's (steps 2 and 3). */
export async function nameDifference(
  plan: RunPlan,
  trace: Trace,
  plugin: LivePlugins,
  fast: LiveRun,
  apart: { good: number; bad: number } | undefined,
  opts: SessionOptions,
  event: (line: string) => void,
): Promise<Named> {
  const rec = recordParams(trace.header);
  const from = apart?.good ?? 0;
  // The live side's stream up to one past the first disagreeing
  // checkpoint (or to its end), compared as it comes.
  const stopAt = apart ? apart.bad + 1 : plan.maxInsns;
  const recPlan: RunPlan = { ...plan, maxInsns: stopAt };
  const comparer = new StreamDiffer(trace, from);
  event(
    `recording the live side from instruction 0 to ${stopAt ?? "its end"}, compared from ${from}`,
  );
  const live = await runLive(
    recPlan,
    trace,
    "record",
    (dir, schedule) =>
      sideArgv({
        plan: recPlan,
        side: plan.b,
        runDir: dir,
        plugin,
        pass: { kind: "record", rec },
        schedule,
      }),
    { kind: "echo" },
    { ...opts, record: comparer },
  );
  if (live.outcome.status !== "match") return { outcome: live.outcome, divergence: null };
  // Stopped once the difference was found: what broke after it does not matter.
  if (live.recordError && !comparer.diff) {
    return {
      outcome: {
        status: "error",
        stoppedBy: null,
        message: `The live side's record stream broke: ${live.recordError.message}`,
      },
      divergence: null,
    };
  }
  const liveEnd = live.peer?.end;
  const liveStop = liveEnd?.pos ?? stopAt ?? Infinity;
  if (!comparer.diff) await comparer.finish(liveStop);
  const diff = comparer.diff;
  const tEnd = trace.summary.end;
  if (!diff) {
    // The same jumps and records as far as both go: the streams differ in
    // where they end, if anywhere.
    const liveEnded = liveEnd?.type === PeerMsgType.END;
    if (
      (liveEnded && liveEnd.pos < tEnd.insns) || (tEnd.kind === "end" && liveStop > tEnd.insns)
    ) {
      return await nameEnd(plan, trace, plugin, live, liveEnded ? liveEnd.pos : Infinity, opts);
    }
    return {
      outcome: {
        status: "inconclusive",
        stoppedBy: "divergence",
        message: apart
          ? `The checkpoints disagree between instructions ${apart.good} and ${apart.bad}, but the trace's jumps and detail records do not: the difference is in what the trace does not hold (instruction sizes along a straight run, or values between snapshots)`
          : `${
            capitalise(fastWhy(fast, trace))
          }, but no compared instruction, system call or register snapshot does: the difference is in what was not compared`,
      },
      divergence: null,
    };
  }
  event(`first difference at instruction ${diff.pos} (${diff.kind})`);
  const view = await liveAround(plan, trace, plugin, diff.pos, opts);
  if (diff.kind === "jump") return jumpDivergence(plan, trace, diff, view);
  return await detailDivergence(plan, trace, plugin, diff, view, opts);
}

/** Why the fast pass left it to naming, from what the live run and the trace say. */
function fastWhy(fast: LiveRun, trace: Trace): string {
  return fast.side.exitCode !== trace.summary.exit.code
    ? "the guests' exit statuses differ"
    : "the guests' output differs";
}

/**
 * The live side's blocks around `pos`: its detail pass's plugin, stopped
 * at `pos` by the harness in side A's place, dumps them.
 */
async function liveAround(
  plan: RunPlan,
  trace: Trace,
  plugin: LivePlugins,
  pos: number,
  opts: SessionOptions,
): Promise<LiveView | undefined> {
  const good = Math.max(0, pos - 1);
  const run = await runLive(
    plan,
    trace,
    "dump",
    (dir, schedule) =>
      sideArgv({
        plan,
        side: plan.b,
        runDir: dir,
        plugin,
        pass: { kind: "lockstep", fastCount: true },
        schedule,
      }),
    // One past pos: the block that starts at pos retires (and is dumped) too.
    { kind: "stop", good, bad: pos + 1 },
    { ...opts, done: (s) => (s.dump?.done ? found : undefined) },
  );
  if (!run.state.dump?.done) return undefined;
  const flat = flattenDump(sideDump(run.state));
  const at = (p: number): NamedInsn | null => {
    const f = flat.at(p);
    if (!f) return null;
    // linux-user threads: the one that ran it, as a live pair names it.
    const tid = f.vcpu === undefined ? undefined : run.state.pair.threads?.get(f.vcpu);
    return { ...f, ...(tid === undefined ? {} : { tid }), symbol: null };
  };
  return {
    at,
    history: (p) => flat.history(p, plan.history).map((b) => ({ ...b, symbol: null })),
  };
}

/** What a stream's "vCPU" is: a guest thread in linux-user. */
const unitOf = (plan: RunPlan) => (plan.mode === "user" ? "thread" : "vCPU");

/** A control-flow difference, named as a live pair names it. */
function jumpDivergence(
  plan: RunPlan,
  trace: Trace,
  diff: Extract<StreamDiff, { kind: "jump" }>,
  view: LiveView | undefined,
): Named {
  const sameImage = plan.a.image === plan.b.image;
  const tj = diff.trace;
  const lj = diff.live;
  // Where the trace's jump came from is known: when it is not where the
  // live side was one instruction earlier, the two parted inside the
  // straight run before (instructions of other sizes), somewhere after
  // the last jump both made: the window, named at its end.
  const liveBefore = view?.at(diff.pos - 1) ?? null;
  // (A run of one instruction is the target both agree on: no window.)
  const inRun = tj !== undefined && diff.pos - 1 > diff.before.pos &&
    ((lj !== undefined && lj.src !== tj.src) ||
      (lj === undefined && liveBefore !== null && liveBefore.pc !== tj.src));
  const p = inRun ? diff.pos - 1 : diff.pos;
  const liveAt = view?.at(p) ?? null;
  const prev = view?.at(p - 1) ?? null;
  let tracePc: bigint | undefined;
  if (inRun) tracePc = tj!.src;
  else if (tj) tracePc = tj.target;
  // Where it ran on straight: the instruction after the one both ran.
  else if (prev) tracePc = prev.pc + BigInt(prev.bytes.length / 2);
  const traceEnded = p >= trace.summary.end.insns;
  // linux-user: the trace ran the same thread there, as it ran in the
  // same order (threads change only at its decisions): unless one is right
  // there. (A trace keeps no vCPU of system mode's turns.)
  const thread = plan.mode === "user" && liveAt?.vcpu !== undefined &&
      !decisionNear(trace.decisions, p, 1)
    ? {
      vcpu: liveAt.vcpu,
      ...(liveAt.vcpuInsn === undefined ? {} : { vcpuInsn: liveAt.vcpuInsn }),
    }
    : {};
  const a: NamedInsn | null = traceEnded || tracePc === undefined ? null : {
    pc: tracePc,
    bytes: sameImage && liveAt?.pc === tracePc ? liveAt.bytes : "",
    blockPc: tracePc,
    symbol: null,
    ...thread,
  };
  const b = liveAt;
  const where = (x: NamedInsn | null) => whereRan(x, unitOf(plan), x?.tid);
  const historyB = view?.history(p) ?? [];
  // Side A ran the same instructions up to p (their bytes are the live
  // side's when the image is the same), then its own.
  const historyA: NamedBlock[] = historyB.map((blk) => ({
    ...blk,
    insns: blk.insns
      .filter((_, i) => blk.index + i < p)
      .map((x) => ({ pc: x.pc, bytes: sameImage ? x.bytes : "" })),
  })).filter((blk) => blk.insns.length > 0);
  if (a) historyA.push({ index: p, pc: a.pc, symbol: null, insns: [{ pc: a.pc, bytes: a.bytes }] });
  const from = diff.before.pos + 1;
  const window = inRun && p > from
    ? {
      from,
      to: p + 1,
      size: p + 1 - from,
      why:
        `the trace holds where this straight run starts (#${diff.before.pos}, where both agree) ` +
        `and its last address (#${p}, where they differ), not the sizes in between`,
    }
    : undefined;
  return {
    outcome: {
      status: "diverged",
      stoppedBy: "divergence",
      message: `Diverged at instruction ${p}${
        window ? ` (or up to ${p - from} before it)` : ""
      }: side a at ${where(a)}, side b at ${where(b)}`,
    },
    divergence: {
      insn: p,
      kind: "pc",
      a,
      b,
      history: { a: historyA, b: historyB },
      narrow: { status: "skipped", why: "side a is a trace: its registers are not stepped" },
      ...(window ? { window } : {}),
    },
  };
}

/** The streams agree up to where the shorter one ends. */
async function nameEnd(
  plan: RunPlan,
  trace: Trace,
  plugin: LivePlugins,
  live: LiveRun,
  liveEnd: number,
  opts: SessionOptions,
): Promise<Named> {
  const t = trace.summary.end;
  const tail = live.state.end?.tail ?? 0;
  const p = Math.min(liveEnd, t.insns);
  // A difference inside a last block left part-way (an uncertain tail) is
  // no divergence: which of its instructions ran is not known.
  const inTail = (end: number, tail: number) => tail > 0 && p >= end - tail;
  if (inTail(t.insns, t.tail) || inTail(liveEnd, tail)) {
    return {
      outcome: {
        insns: p,
        status: "match",
        stoppedBy: "guest-exit",
        message: `The guest ran to its end as recorded (${p} instructions agree), no divergence; ` +
          `a last block was left part-way, so what its last instructions did is not known`,
      },
      divergence: null,
    };
  }
  const view = await liveAround(plan, trace, plugin, Math.max(0, p - 1), opts);
  return jumpDivergence(plan, trace, {
    kind: "jump",
    pos: p,
    trace: undefined,
    live: undefined,
    before: { pos: p, target: 0n },
  }, view && { at: (x) => (x < liveEnd ? view.at(x) : null), history: view.history });
}

/** A detail record as the event it is (a register snapshot's at the block `blockPc`). */
function asEvent(d: Detail | undefined, blockPc: bigint | undefined): DumpEvent | undefined {
  if (!d) return undefined;
  switch (d.kind) {
    case "syscall":
      return { pos: d.pos, kind: EventKind.SYSCALL, a: d.number, size: 0, v: d.args };
    case "sysret":
      return { pos: d.pos, kind: EventKind.SYSRET, a: d.number, size: 0, v: d.ret };
    case "sysout":
      return { pos: d.pos, kind: EventKind.SYSOUT, a: d.number, size: d.offset, v: d.value };
    case "regs":
      return { pos: d.pos, kind: EventKind.REGS, a: blockPc ?? 0n, size: 0, v: d.hash };
  }
}

/** A system call, its answer or a register snapshot that differs (steps 2 and 3). */
async function detailDivergence(
  plan: RunPlan,
  trace: Trace,
  plugin: LivePlugins,
  diff: Extract<StreamDiff, { kind: "detail" }>,
  view: LiveView | undefined,
  opts: SessionOptions,
): Promise<Named> {
  const p = diff.pos;
  const sameImage = plan.a.image === plan.b.image;
  const b = view?.at(p) ?? null;
  // The trace ran what the live side ran up to here (its host's tids are
  // its own; in system mode it keeps no vCPU).
  const a = b &&
    (({ tid: _tid, vcpu: _vcpu, vcpuInsn: _own, ...rest }) => ({
      ...rest,
      ...(plan.mode === "user" && b.vcpu !== undefined ? { vcpu: b.vcpu } : {}),
      ...(plan.mode === "user" && b.vcpuInsn !== undefined ? { vcpuInsn: b.vcpuInsn } : {}),
      bytes: sameImage ? b.bytes : "",
    }))(b);
  const history = {
    a: (view?.history(p) ?? []).map((blk) => ({
      ...blk,
      insns: blk.insns.map((x) => ({ pc: x.pc, bytes: sameImage ? x.bytes : "" })),
    })),
    b: view?.history(p) ?? [],
  };
  const arch = trace.header.arch;
  const x = asEvent(diff.trace, b?.pc);
  const y = asEvent(diff.live, b?.pc);
  const events = {
    a: x ? eventView(x, true, arch) : null,
    b: y ? eventView(y, true, arch) : null,
  };
  // The host's answer to the same call: the environment's doing, not TCG's.
  const env = environmentDifference(x, y, arch);
  if (env) {
    return {
      outcome: {
        status: "inconclusive",
        stoppedBy: "divergence",
        message: describeEnvironment(env, p),
      },
      divergence: { insn: p, kind: "environment", events, environment: env, a, b, history },
    };
  }
  if (diff.trace?.kind !== "regs" && diff.live?.kind !== "regs") {
    return {
      outcome: {
        status: "diverged",
        stoppedBy: "divergence",
        message: `Diverged at instruction ${p} (a system call differs): side a at ${
          a ? whereRan(a, unitOf(plan)) : "?"
        }, side b at ${b ? whereRan(b, unitOf(plan), b.tid) : "?"}`,
      },
      divergence: { insn: p, kind: "syscall", events, a, b, history },
    };
  }
  // Registers: somewhere since the last snapshot both agree on.
  const from = diff.lastRegs ?? Math.max(0, p - trace.header.detail);
  const steps = await stepLive(plan, trace, plugin, from, p, opts);
  const window: TraceWindow = {
    from,
    to: p,
    size: p - from,
    why: `the trace's register snapshots agree at ${from} and differ before ${p}` +
      (diff.lastRegs === undefined ? " (the one that agrees is in the chunk before: a bound)" : ""),
    ...(steps ? { steps } : {}),
  };
  return {
    outcome: {
      status: "diverged",
      stoppedBy: "divergence",
      message: `Diverged in instructions ${from}–${p - 1} (the registers differ before ` +
        `instruction ${p}; the trace's snapshots are ${trace.header.detail} instructions apart)`,
    },
    divergence: { insn: p, kind: "regs", events, a, b, history, window },
  };
}

/** The live side's instructions and registers in [from, to] (narrow=), as the window shows them. */
async function stepLive(
  plan: RunPlan,
  trace: Trace,
  plugin: LivePlugins,
  from: number,
  to: number,
  opts: SessionOptions,
): Promise<TraceWindow["steps"]> {
  if (to - from > DEFAULTS.narrowMaxSteps) return undefined;
  const steps: Step[] = [];
  let over = false;
  await runLive(
    plan,
    trace,
    "narrow",
    (dir, schedule) =>
      sideArgv({
        plan,
        side: plan.b,
        runDir: dir,
        plugin,
        pass: { kind: "narrow", from, to, fastCount: true },
        schedule,
      }),
    undefined,
    {
      ...opts,
      done: () => (over ? found : undefined),
      onMessage: (m) => {
        if (m.t === "step") steps.push(m.step);
        if (m.t === "narrowed" || m.t === "end") over = true;
      },
    },
  );
  const names = trace.header.registers;
  const big = plan.preset.bigEndian ?? false;
  return steps.map((st) => ({
    pos: st.pos,
    pc: st.pc,
    bytes: st.bytes,
    disas: st.disas,
    regs: [...st.regs].map(([i, v]) => ({ name: names[i] ?? `#${i}`, value: regValue(v, big) })),
  }));
}

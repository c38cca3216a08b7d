/**
 * The session: one lockstep run. It builds the plugins, starts both sides
 * (a SidePair owns the QEMUs, the socket and the run directory), folds what
 * the plugins report into each side's state until judge.ts says the run is
 * over, resumes the comparison past transient excursions, narrows a
 * divergence, and returns the Verdict.
 */
import { judgeOrResume } from "./judge_or_resume.ts";
import { capitalise, sideResult, withLastWords } from "./side_result.ts";
import { decide, type Outcome } from "./judge.ts";
import { narrowDivergence } from "./narrow.ts";
import { continuationPlan, fastApart, goesOn, reconcile } from "./reconcile.ts";
import { buildPlanPlugins } from "../plan/plugins.ts";
import { sideArgv } from "../plan/command_line.ts";
import type { RunPlan } from "../plan/plan.ts";
import { QUIT_COMMAND, type Role } from "../core/protocol.ts";
import { SidePair } from "./side_pair.ts";
import { withWorld } from "./world.ts";
import { applyMessage, initialState, type SideState } from "./side_state.ts";
import { nameDivergence, nameExcursions } from "../guest/symbols.ts";
import { withDisassembly } from "../guest/disasm.ts";
import { TimelineRecorder } from "../verdict/timeline.ts";
import { RunWatch } from "./run_watch.ts";
import { placeSchedule, runSchedule, type Schedule, scheduleFiles } from "./schedule.ts";
import { decisionCount } from "../trace/decisions.ts";
import { processesNotCompared, processViews } from "./process_tree.ts";
import { ChildPairs, type NamedProcess } from "./child_pairs.ts";
import type {
  Divergence,
  Excursion,
  FastPassReport,
  NamedBlock,
  ProcessView,
  SideResult,
  Verdict,
} from "../verdict/verdict.ts";

/** Live progress of a run. */
export interface Progress {
  /** Instructions both sides have retired. */
  readonly insns: number;
  readonly elapsedSeconds: number;
  readonly insnsPerSecond: number;
}

/** How to run a plan. */
export interface SessionOptions {
  /** Aborting stops both QEMUs and ends the run as "interrupted". */
  readonly signal?: AbortSignal | undefined;
  /** Wall-clock limit for the whole run, as the verdict names it. */
  readonly timeoutSeconds?: number | undefined;
  /**
   * When the limit began (performance.now()): a caller that planned the
   * run first counts that time in. Default: when the plugins are built.
   */
  readonly since?: number | undefined;
  /** Keep the private directory (logs, sockets) instead of removing it. */
  readonly keepTemp?: boolean | undefined;
  /** Plugin cache directory. */
  readonly cacheDir?: string | undefined;
  /** Seconds each QEMU has to load the plugin (DEFAULTS.startSeconds). */
  readonly startSeconds?: number | undefined;
  /** Seconds in which no side retires an instruction before the run is stalled (DEFAULTS.stallSeconds). */
  readonly stallSeconds?: number | undefined;
  /** Called with progress as the plugins report it. */
  readonly onProgress?: ((p: Progress) => void) | undefined;
  /** Called with a line of what the session is doing (for --verbose). */
  readonly onEvent?: ((line: string) => void) | undefined;
  /**
   * linux-user across QEMUs: the world probe guest for each arch that has
   * one (test/guests/glibc/world_probe.c), run under both before the run.
   */
  readonly worldProbes?: Readonly<Record<string, string>> | undefined;
}

/** One pass over the guest: its outcome, and what the verdict needs of it. */
interface Pass {
  readonly outcome: Outcome & { transients: Excursion[] };
  readonly state: Record<Role, SideState>;
  readonly regChoice: SidePair["regChoice"];
  readonly sides: { readonly a: SideResult; readonly b: SideResult };
  readonly dir: string;
  readonly seconds: number;
  /** The guests' processes, paired (empty when neither forked nor executed a program). */
  readonly processes: ProcessView[];
  /** The order its guest threads ran in, to replay (schedule.ts); none single-threaded. */
  readonly schedule: Schedule | undefined;
}

/**
 * Runs one pass: the fast one (inline counting, checkpoints only) or the
 * detail one (block rings, events, dumps), each with its own pair of QEMUs
 * and run directory, stopped and cleaned up before it returns.
 */
async function runPass(
  plan: RunPlan,
  kind: "fast" | "detail",
  plugins: { readonly a: string; readonly b: string; readonly shim?: string | undefined },
  opts: SessionOptions,
  runStarted: number,
  timeline: TimelineRecorder,
  replay?: Schedule,
): Promise<Pass> {
  const started = performance.now();
  await using pair = await SidePair.open({
    plan,
    // A re-run follows the threads' order of the run before it; side a
    // reports the order it decides on (schedule.ts).
    prepare: (dir) => placeSchedule(dir, replay),
    args: (side, dir) =>
      sideArgv({
        plan,
        side,
        runDir: dir,
        plugin: { path: plugins[side.role], shim: plugins.shim },
        // Forked children pair up with the other side's (linux-user).
        pass: { kind: kind === "fast" ? "fast" : "lockstep", children: true },
        schedule: scheduleFiles(dir, replay),
      }),
    keepTemp: opts.keepTemp,
    onEvent: opts.onEvent,
    label: kind === "fast" ? "fast " : "",
    cacheDir: opts.cacheDir,
    processes: true,
  });
  const state: Record<Role, SideState> = {
    a: initialState(pair.sides.a),
    b: initialState(pair.sides.b),
  };
  const outcome = await supervise(pair, state, plan, opts, runStarted, timeline);
  const statuses = await pair.stop();
  return {
    outcome,
    state,
    regChoice: pair.regChoice,
    sides: {
      a: await sideResult(plan, state.a, statuses.a),
      b: await sideResult(plan, state.b, statuses.b),
    },
    dir: pair.dir,
    seconds: (performance.now() - started) / 1000,
    processes: processViews(pair.processes, [plan.guestName, ...plan.guestArgs], true),
    // Side a decides: the order both sides took.
    schedule: runSchedule(replay, pair.sides.a.schedule?.bytes),
  };
}

/**
 * What the fast pass leaves to the detail pass: a difference it saw (the
 * streams apart, ends that differ), or guests whose output or exit status
 * differ although their streams agree. Undefined when its verdict stands.
 */
function leftToDetail(fast: Pass): string | undefined {
  const o = fast.outcome;
  if (o.apart) return `its checkpoints disagree after instruction ${o.apart.good}`;
  // Only guests that ran to their end have an output and a status of their
  // own: at --max-insns both are stopped by the harness.
  if (o.status !== "match" || o.stoppedBy !== "guest-exit") return undefined;
  const { a, b } = fast.sides;
  if (a.exitCode !== b.exitCode || a.signal !== b.signal) {
    return "the guests' exit statuses differ";
  }
  if (a.output !== b.output) return "the guests' output differs";
  return undefined;
}

/** Runs both sides of `plan` in lockstep and returns the verdict. */
export async function runLockstep(plan: RunPlan, opts: SessionOptions = {}): Promise<Verdict> {
  const event = opts.onEvent ?? (() => {});
  const { a: pluginA, b: pluginB, shim } = await buildPlanPlugins(plan, opts.cacheDir);
  for (const p of new Set([pluginA, pluginB])) {
    event(
      `plugin ${
        p.built ? "built" : "cached"
      }: ${p.path} (header: ${p.header.origin}, ${p.header.file})${
        p.replaced ? `, replacing a cached file not to be loaded: ${p.replaced}` : ""
      }`,
    );
  }
  // Across QEMUs: how the worlds they give the guest differ (world.ts).
  plan = await withWorld(plan, opts);
  if (plan.world) event(`worlds differ: ${plan.warnings.at(-1)}`);
  // Where the plugin cache went when the user would not look there.
  const notes = [...new Set([pluginA.note, pluginB.note])].filter((n) => n !== undefined);
  const plugins = { a: pluginA.path, b: pluginB.path, shim: shim?.path };
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  // Both passes and narrowing share one limit, counted from `since`: the
  // detail pass gets what the fast pass left.
  const since = opts.since ?? started;
  opts = { ...opts, since };

  let fastPass: FastPassReport = {
    result: "not-run",
    why: plan.fast.why,
    insns: 0,
    seconds: 0,
  };
  const timeline = new TimelineRecorder();
  let pass: Pass | undefined;
  let fastRun: Pass | undefined;
  if (plan.fast.enabled) {
    const fast = await runPass(plan, "fast", plugins, opts, started, timeline);
    fastRun = fast;
    const why = leftToDetail(fast);
    fastPass = {
      result: why !== undefined ? "apart" : fast.outcome.status === "match" ? "match" : "ended",
      why: why ??
        (fast.outcome.status === "match"
          ? null
          : `it ended without a verdict on the streams (${fast.outcome.status}): the verdict is its own`),
      insns: Math.min(fast.state.a.insns, fast.state.b.insns),
      seconds: Math.round(fast.seconds * 1000) / 1000,
      ...(fast.outcome.apart ? fast.outcome.apart : {}),
    };
    if (why === undefined) {
      pass = fast;
    } else {
      event(`fast pass: ${why}; the detail pass names the instruction`);
    }
  }
  const order = fastRun?.schedule;
  if (order?.length && pass === undefined) {
    event(
      `detail pass: following the fast pass's threads' order (${decisionCount(order)} decisions)`,
    );
  }
  pass ??= await runPass(plan, "detail", plugins, opts, started, timeline, order);
  // The detail pass stopped at the environment's difference before where
  // the fast pass saw the streams part: it goes on to there (reconcile.ts).
  const apart = pass !== fastRun ? fastApart(fastPass) : undefined;
  let judgedPlan = plan;
  let next: Pass | undefined;
  if (apart && goesOn(pass.outcome.divergence, apart)) {
    event(
      `detail pass: the environment differs at instruction ${pass.outcome.divergence!.insn}; ` +
        `going on to instruction ${apart.bad}, comparing what the fast pass compares`,
    );
    judgedPlan = continuationPlan(plan, apart);
    next = await runPass(judgedPlan, "detail", plugins, opts, started, timeline, pass.schedule);
  }
  const reconciled = reconcile(pass.outcome, next?.outcome, apart);
  if (reconciled.confirmed !== undefined) {
    fastPass = { ...fastPass, confirmed: reconciled.confirmed };
  }
  // The pass whose dumps the verdict shows: the one that went on, when it
  // found the difference.
  if (next?.outcome.divergence) {
    pass = next;
  } else {
    judgedPlan = plan;
  }
  const outcome = { ...reconciled.outcome, transients: pass.outcome.transients };
  const { state } = pass;
  const wall = elapsed();

  const registers = pass.regChoice?.names ?? [];
  // Memory accesses are compared in the detail pass only.
  const detailed = pass !== fastRun;
  const compared = plan.compare.filter((c) =>
    (c !== "regs" || registers.length > 0) && (detailed || c !== "mem")
  );
  const processesLeft = processesNotCompared(pass.processes);
  const environmentFirst = outcome.divergence?.environmentBefore;
  const notCompared = [
    ...plan.notCompared,
    ...(processesLeft ? [{ what: "processes", why: processesLeft }] : []),
    ...(environmentFirst
      ? [{
        what: "mem",
        why: `after instruction ${environmentFirst.insn}, where the environment made values ` +
          `differ first: from there the detail pass compared what the fast pass compares`,
      }]
      : []),
    ...(plan.compare.includes("regs") && registers.length === 0
      ? [{
        what: "regs",
        why: pass.regChoice
          ? `QEMU describes no registers of ${plan.preset.name} to plugins`
          : "the run ended before the plugins listed their registers",
      }]
      : []),
    ...(!detailed && plan.compare.includes("mem")
      ? [{
        what: "mem",
        why: `${
          fastPass.result === "match"
            ? "the fast pass found no difference"
            : "the run ended in the fast pass"
        }, and memory accesses are compared in the detail pass only (--no-fast compares them ` +
          "throughout)",
      }]
      : []),
  ];
  let divergence = outcome.divergence;
  if (divergence?.process) {
    // Narrowing re-runs the guest's first process only.
    divergence = {
      ...divergence,
      narrow: { status: "skipped", why: "it re-runs the guest's first process only" },
    };
  } else if (divergence?.kind === "interleaving") {
    // Another vCPU on each side: their registers are two vCPUs' apart.
    divergence = {
      ...divergence,
      narrow: { status: "skipped", why: "another vCPU runs there on each side" },
    };
  } else if (divergence) {
    divergence = ownCounts(
      await narrowDivergence(divergence, {
        plan: judgedPlan,
        state,
        registers,
        plugins,
        wall: elapsed(),
        // Narrowing counts from the run's start: what came before it is gone.
        timeoutSeconds: opts.timeoutSeconds === undefined
          ? undefined
          : opts.timeoutSeconds - (started - since) / 1000,
        signal: opts.signal,
        onEvent: opts.onEvent,
        cacheDir: opts.cacheDir,
        schedule: pass.schedule,
      }),
      state,
    );
  }
  // An error that QEMU itself explained: its last words, in the message.
  const message = outcome.blame
    ? withLastWords(
      outcome.message,
      pass.sides[outcome.blame].stderrTail,
      judgedPlan,
      judgedPlan[outcome.blame],
    )
    : outcome.message;
  const insns = divergence?.insn ?? outcome.insns ??
    (outcome.status === "match" ? state.a.insns : Math.min(state.a.insns, state.b.insns));
  // The guests' output (or exit status) differs though no compared
  // instruction, access or call does: not a match, and not TCG's to blame.
  const unexplained = fastPass.result === "apart" && fastPass.bad === undefined &&
    outcome.status === "match";
  const warnings = plan.warnings;
  return await withDisassembly({
    version: 1,
    status: unexplained ? "inconclusive" : outcome.status,
    stoppedBy: outcome.stoppedBy,
    message: unexplained
      ? `${capitalise(fastPass.why!)}, but no compared instruction, memory access or system ` +
        `call does: the difference is in what was not compared (${
          plan.compare.includes("mem") && (plan.a.qemu.pluginApi < 4 || plan.b.qemu.pluginApi < 4)
            ? "memory values need plugin API 4, QEMU 9.2 or later"
            : "see notCompared"
        })`
      : message,
    compared,
    notCompared,
    registers,
    registersSkipped: pass.regChoice?.skipped ?? [],
    warnings: [...warnings, ...notes],
    insns,
    blocks: Math.min(state.a.blocks, state.b.blocks),
    wallSeconds: Math.round(wall * 1000) / 1000,
    insnsPerSecond: wall > 0 ? Math.round(Math.min(state.a.insns, state.b.insns) / wall) : 0,
    sides: pass.sides,
    divergence: divergence ? await nameDivergence(divergence, plan) : null,
    transients: await nameExcursions(outcome.transients, plan),
    fastPass,
    tempDir: opts.keepTemp ? pass.dir : null,
    timeline: timeline.result(),
    ...(pass.processes.length > 0 ? { processes: pass.processes } : {}),
    ...(plan.world ? { world: plan.world } : {}),
  }, plan);
}

/**
 * The supervision loop: reads the plugins' messages and external events
 * (a side exits, a timer fires, an abort) until the run is decided.
 */
async function supervise(
  pair: SidePair,
  state: Record<Role, SideState>,
  plan: RunPlan,
  opts: SessionOptions,
  started: number,
  timeline: TimelineRecorder,
): Promise<Outcome & { transients: Excursion[] }> {
  using watch = new RunWatch(pair, opts);
  const cx = watch.cx;
  const transients: Excursion[] = [];
  const children = new ChildPairs();
  const named = (path: string): NamedProcess => ({
    path,
    command: processViews(pair.processes, [plan.guestName, ...plan.guestArgs], true)
      .find((v) => v.path === path)?.command ?? null,
  });
  let settled: Outcome | undefined;
  for (;;) {
    const outcome = settled ??
      (cx.aborted || cx.timedOut ? undefined : children.outcome(plan.history, named)) ??
      decide(state, cx);
    // The guest matched: its children's last reports may still be in flight.
    if (outcome && (outcome.status !== "match" || children.settled())) {
      return { ...outcome, transients };
    }
    const next = await pair.next();
    if (!next) continue;
    const { role, msg } = next;
    if (next.proc) {
      children.hear(role, next.proc.path, msg, next.proc.side);
      for (const s of children.takeLimits()) await pair.sendProcess(s, QUIT_COMMAND);
      watch.heard(false, { a: state.a.insns, b: state.b.insns });
      continue;
    }
    if (msg.t === "hello" || msg.t === "regs" || msg.t === "closed") {
      watch.heard(false, { a: state.a.insns, b: state.b.insns });
      continue;
    }
    applyMessage(state[role], msg);
    watch.heard(msg.t === "progress", { a: state.a.insns, b: state.b.insns });
    timeline.hear(role, (performance.now() - started) / 1000, msg);
    if (state.a.dump?.done && state.b.dump?.done) {
      settled = await judgeOrResume(pair, state, plan, transients, opts);
      continue;
    }
    if (msg.t === "progress" && opts.onProgress) {
      const insns = Math.min(state.a.insns, state.b.insns);
      const elapsed = (performance.now() - started) / 1000;
      opts.onProgress({ insns, elapsedSeconds: elapsed, insnsPerSecond: insns / elapsed });
    }
    if (msg.t !== "progress" && msg.t !== "blk" && msg.t !== "ev") {
      opts.onEvent?.(`side ${role}: ${msg.t}`);
    }
  }
}

/**
 * A divergence found in logical positions (counted from the last transient
 * excursion), in each side's own instruction count: side A's in `insn`,
 * history and narrowing, side B's in `insnB` and its history.
 */
function ownCounts(d: Divergence, state: Record<Role, SideState>): Divergence {
  const oa = state.a.origin;
  const ob = state.b.origin;
  const shift = (views: readonly NamedBlock[], by: number) =>
    views.map((v) => ({ ...v, index: v.index + by }));
  const n = d.narrow;
  return {
    ...d,
    insn: d.insn + oa,
    insnB: d.insn + ob,
    history: { a: shift(d.history.a, oa), b: shift(d.history.b, ob) },
    ...(n
      ? {
        narrow: {
          ...n,
          ...(n.from !== undefined ? { from: n.from + oa } : {}),
          ...(n.to !== undefined ? { to: n.to + oa } : {}),
          ...(n.insn !== undefined ? { insn: n.insn + oa } : {}),
        },
      }
      : {}),
  };
}

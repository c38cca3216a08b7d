/**
 * Narrowing: after a divergence at instruction `to`, both sides run again,
 * each alone (no lockstep), to `to`; from `from` on (the last point where
 * their registers agreed) the plugin reports the compared registers before
 * every instruction. The first position where they differ names the
 * instruction after which the state parts. The re-runs must retrace the
 * first run: every step's address is checked against the first run's dump,
 * and a side that does not retrace it (a nondeterministic guest or set-up)
 * is reported, not guessed past.
 */
import { addressesBetween, dumpStart, lastSnapshotBefore } from "../verdict/dump_diff.ts";
import { sideArgv } from "../plan/command_line.ts";
import type { RunPlan } from "../plan/plan.ts";
import type { Role, Step } from "../core/protocol.ts";
import { regValue } from "../plan/registers.ts";
import { placeSchedule, type Schedule, scheduleFiles } from "./schedule.ts";
import { SidePair } from "./side_pair.ts";
import { sideDump, type SideState } from "./side_state.ts";
import type { Divergence, NarrowReport, RegDiff, StepView } from "../verdict/verdict.ts";
import { DEFAULTS } from "../core/defaults.ts";

/** What narrowing needs from the first run. */
export interface NarrowRequest {
  readonly plan: RunPlan;
  /** Each side's plugin, and the environment shim both preload (linux-user). */
  readonly plugins: { readonly a: string; readonly b: string; readonly shim?: string | undefined };
  /** Steps are reported for positions [from, to], counted from each side's origin. */
  readonly from: number;
  readonly to: number;
  /** Where each side's count of the comparison starts in its own count (transient excursions). */
  readonly origins: { readonly a: number; readonly b: number };
  /** Each side's instruction addresses for [from, to] in the first run. */
  readonly expect: {
    readonly a: readonly (bigint | undefined)[];
    readonly b: readonly (bigint | undefined)[];
  };
  readonly timeoutSeconds: number;
  readonly signal?: AbortSignal | undefined;
  /** The guest threads' order of the run narrowed (schedule.ts): both sides follow it. */
  readonly schedule?: Schedule | undefined;
  readonly onEvent?: ((line: string) => void) | undefined;
  /** The plugins' cache, where the reaper is built too. */
  readonly cacheDir?: string | undefined;
}

/** What one side's re-run reported. */
interface SideRun {
  steps: Step[];
  /** It reached `to` (and parked). */
  done: boolean;
  /** Its guest ended first. */
  ended: boolean;
  error?: string;
}

/** What narrowing found; `regsAtTo`: the registers that differ before instruction `to`. */
export interface NarrowOutcome {
  readonly report: NarrowReport;
  readonly regsAtTo?: readonly RegDiff[];
}

/** What narrowDivergence() needs from the session. */
export interface NarrowContext {
  readonly plan: RunPlan;
  readonly state: Record<Role, SideState>;
  readonly registers: readonly string[];
  /** Each side's plugin, and the environment shim both preload (linux-user). */
  readonly plugins: { readonly a: string; readonly b: string; readonly shim?: string | undefined };
  /** Seconds the first run took. */
  readonly wall: number;
  readonly timeoutSeconds: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly onEvent: ((line: string) => void) | undefined;
  readonly cacheDir?: string | undefined;
  /** The guest threads' order of the run narrowed (schedule.ts). */
  readonly schedule?: Schedule | undefined;
}

/**
 * Seconds narrowing's re-runs may take after a first run of `wall` seconds:
 * a few times the first run's time (at least a minute), within what
 * --timeout leaves; undefined when less than a second is left.
 */
export function narrowBudget(wall: number, timeoutSeconds: number | undefined): number | undefined {
  const left = (timeoutSeconds ?? Infinity) - wall;
  if (left < 1) return undefined;
  return Math.min(Math.max(DEFAULTS.narrowMinSeconds, DEFAULTS.narrowTimeFactor * wall), left);
}

/**
 * Narrows a divergence to one instruction (see the module comment) when the run
 * compared registers, or says why it did not.
 */
export async function narrowDivergence(d: Divergence, cx: NarrowContext): Promise<Divergence> {
  const { plan, state } = cx;
  const skip = (why: string): Divergence => ({ ...d, narrow: { status: "skipped", why } });
  if (!plan.narrow) return skip("--no-narrow");
  if (d.kind === "environment") {
    return skip(
      "the difference comes from the environment (the host's answer to a system call, its counter, or the world its QEMU gives the guest), not from an instruction",
    );
  }
  for (const s of [plan.a, plan.b]) {
    if (s.qemu.pluginApi < 2) {
      return skip(
        `side ${s.role}'s QEMU has plugin API ${s.qemu.pluginApi}: reading registers needs API 2 (QEMU 9.0 or later)`,
      );
    }
  }
  if (!plan.sameLayout) {
    return skip("the registers hold addresses, and the two QEMUs place the guest differently");
  }
  if (plan.compare.includes("regs") && cx.registers.length === 0) {
    return skip(`QEMU describes no registers of ${plan.preset.name} to plugins`);
  }
  const timeoutSeconds = narrowBudget(cx.wall, cx.timeoutSeconds);
  if (timeoutSeconds === undefined) return skip("no time left within --timeout");
  const a = sideDump(state.a);
  const b = sideDump(state.b);
  const to = d.insn;
  const from = Math.max(
    lastSnapshotBefore(a, to) ?? Math.max(dumpStart(a), dumpStart(b), a.good),
    to - DEFAULTS.narrowMaxSteps + 1,
    0,
  );
  cx.onEvent?.(`narrowing: re-running both sides, stepping instructions ${from} to ${to}`);
  const out: NarrowOutcome = await narrow({
    plan,
    plugins: cx.plugins,
    from,
    to,
    origins: { a: state.a.origin, b: state.b.origin },
    expect: { a: addressesBetween(a, from, to), b: addressesBetween(b, from, to) },
    timeoutSeconds,
    signal: cx.signal,
    onEvent: cx.onEvent,
    cacheDir: cx.cacheDir,
    schedule: cx.schedule,
  });
  return {
    ...d,
    ...(d.kind === "regs" && out.regsAtTo ? { regs: out.regsAtTo } : {}),
    narrow: out.report,
  };
}

/** Runs both sides to `to` and names the first instruction after which their registers differ. */
export async function narrow(req: NarrowRequest): Promise<NarrowOutcome> {
  const started = performance.now();
  const event = req.onEvent ?? (() => {});
  const { plan, from, to } = req;
  await using pair = await SidePair.open({
    plan,
    prepare: (dir) => placeSchedule(dir, req.schedule),
    args: (side, dir) => {
      const o = req.origins[side.role];
      return sideArgv({
        plan,
        side,
        runDir: dir,
        plugin: { path: req.plugins[side.role], shim: req.plugins.shim },
        pass: { kind: "narrow", from: from + o, to: to + o },
        schedule: scheduleFiles(dir, req.schedule),
      });
    },
    onEvent: req.onEvent,
    label: "narrow ",
    cacheDir: req.cacheDir,
  });
  const run: Record<Role, SideRun> = {
    a: { steps: [], done: false, ended: false },
    b: { steps: [], done: false, ended: false },
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    pair.notify();
  }, req.timeoutSeconds * 1000);
  req.signal?.addEventListener("abort", pair.notify);
  const over = () =>
    (["a", "b"] as const).every((r) =>
      run[r].done || run[r].ended || run[r].error || pair.sides[r].exit
    );
  try {
    while (!over() && !timedOut && !req.signal?.aborted) {
      const next = await pair.next();
      if (!next) continue;
      const { role, msg } = next;
      const s = run[role];
      if (msg.t === "step") {
        s.steps.push({ ...msg.step, pos: msg.step.pos - req.origins[role] });
        if (s.steps.length > DEFAULTS.narrowMaxSteps) s.error = "too many steps";
      } else if (msg.t === "narrowed") {
        s.done = true;
        event(`narrow side ${role}: reached instruction ${to}`);
      } else if (msg.t === "end") {
        s.ended = true;
      } else if (msg.t === "error") {
        s.error = msg.msg;
      }
    }
  } finally {
    clearTimeout(timer);
    req.signal?.removeEventListener("abort", pair.notify);
  }
  await pair.stop();
  const seconds = Math.round(performance.now() - started) / 1000;
  const fail = (why: string): NarrowOutcome => ({
    report: { status: "failed", why, from, to, seconds },
  });
  if (req.signal?.aborted) return fail("interrupted");
  if (timedOut) {
    return fail(`the re-runs did not reach instruction ${to} within ${req.timeoutSeconds} s`);
  }
  for (const role of ["a", "b"] as const) {
    const s = run[role];
    if (s.error) return fail(`side ${role}: ${s.error}`);
    if (!s.done && !s.ended) return fail(`side ${role}'s QEMU exited before instruction ${to}`);
  }
  const names = pair.regChoice?.names ?? [];
  if (names.length === 0) {
    return fail(`QEMU describes no registers of ${plan.preset.name} to plugins`);
  }
  return judge(req, names, run.a.steps, run.b.steps, seconds);
}

/** The full register state before each step, rebuilt from the changes reported. */
function states(steps: readonly Step[], n: number): Map<number, string[]> {
  const out = new Map<number, string[]>();
  let cur: string[] = new Array(n).fill("");
  for (const st of steps) {
    cur = [...cur];
    for (const [i, v] of st.regs) cur[i] = v;
    out.set(st.pos, cur);
  }
  return out;
}

function judge(
  req: NarrowRequest,
  names: readonly string[],
  stepsA: readonly Step[],
  stepsB: readonly Step[],
  seconds: number,
): NarrowOutcome {
  const { from, to } = req;
  const bigEndian = req.plan.preset.bigEndian ?? false;
  const at = {
    a: new Map(stepsA.map((s) => [s.pos, s])),
    b: new Map(stepsB.map((s) => [s.pos, s])),
  };
  // The re-runs must retrace the first run, instruction by instruction.
  for (const role of ["a", "b"] as const) {
    const expect = req.expect[role];
    for (let p = from; p <= to; p++) {
      const want = expect[p - from];
      if (want === undefined) continue; // the first run's dump did not reach it
      // An I/O instruction that icount re-executes in a block of its own
      // has no instruction callback there: no step, nothing to check.
      const got = at[role].get(p)?.pc;
      if (got !== undefined && got !== want) {
        return {
          report: {
            status: "failed",
            why: `side ${role}'s re-run did not retrace the first run at instruction ${p} (0x${
              got.toString(16)
            } instead of 0x${want.toString(16)}): the run is not deterministic`,
            from,
            to,
            seconds,
          },
        };
      }
    }
  }
  const sa = states(stepsA, names.length);
  const sb = states(stepsB, names.length);
  const diff = (p: number): RegDiff[] => {
    const x = sa.get(p);
    const y = sb.get(p);
    if (!x || !y) return [];
    return names.flatMap((name, i) =>
      x[i] === y[i] ? [] : [{ name, a: regValue(x[i]!, bigEndian), b: regValue(y[i]!, bigEndian) }]
    );
  };
  const view = (s: Step | undefined): StepView | undefined =>
    s && {
      pc: s.pc,
      bytes: s.bytes,
      disas: s.disas,
      symbol: null,
      ...(s.cpu === undefined ? {} : { vcpu: s.cpu }),
    };
  const regsAtTo = diff(to);
  const named = (insn: number, regs: RegDiff[]): NarrowOutcome => ({
    report: {
      status: "done",
      from,
      to,
      insn,
      a: view(at.a.get(insn)),
      b: view(at.b.get(insn)),
      regs,
      seconds,
    },
    regsAtTo,
  });
  for (let p = from; p <= to; p++) {
    const regs = diff(p);
    if (regs.length === 0) continue;
    if (p === from) {
      return {
        report: {
          status: "failed",
          why:
            `the registers already differ at instruction ${from}, where narrowing starts: they parted earlier (comparing regs, the default, finds where)`,
          from,
          to,
          regs,
          seconds,
        },
        regsAtTo,
      };
    }
    return named(p - 1, regs);
  }
  // The registers agree up to the divergence: it is in what that instruction did.
  return named(to, []);
}

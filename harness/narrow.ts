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
import { OwnedChild } from "./child.ts";
import { ControlServer, type Step } from "./control.ts";
import { narrowArgv, placeGuests, type RunPlan } from "./plan.ts";
import { chooseRegisters, type RegInfo, regValue } from "./registers.ts";
import type { NarrowReport, RegDiff, StepView } from "./verdict.ts";
import { makeRunDir, Waker } from "./supervise.ts";
import { join } from "./_path.ts";

/** What narrowing needs from the first run. */
export interface NarrowRequest {
  readonly plan: RunPlan;
  readonly plugins: { readonly a: string; readonly b: string };
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
  readonly onEvent?: ((line: string) => void) | undefined;
}

interface SideRun {
  conn?: number;
  regs?: RegInfo[];
  steps: Step[];
  done: boolean;
  ended: boolean;
  error?: string;
  exited: boolean;
  closed: boolean;
}

/** The most steps narrowing reports (a bound on its output and time). */
export const NARROW_MAX_STEPS = 200_000;

/** What narrowing found; `regsAtTo`: the registers that differ before instruction `to`. */
export interface NarrowOutcome {
  readonly report: NarrowReport;
  readonly regsAtTo?: readonly RegDiff[];
}

/** Runs both sides to `to` and names the first instruction after which their registers differ. */
export async function narrow(req: NarrowRequest): Promise<NarrowOutcome> {
  const started = performance.now();
  const event = req.onEvent ?? (() => {});
  const { plan, from, to } = req;
  const dir = await makeRunDir();
  const children: OwnedChild[] = [];
  let ctl: ControlServer | undefined;
  try {
    ctl = new ControlServer(join(dir, "ctl.sock"));
    if (plan.mode === "user") await placeGuests(dir, plan, [plan.a, plan.b]);
    const run: Record<"a" | "b", SideRun> = {
      a: { steps: [], done: false, ended: false, exited: false, closed: false },
      b: { steps: [], done: false, ended: false, exited: false, closed: false },
    };
    const waker = new Waker();
    const notify = waker.notify;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      notify();
    }, req.timeoutSeconds * 1000);
    const onAbort = () => notify();
    req.signal?.addEventListener("abort", onAbort);
    for (const role of ["a", "b"] as const) {
      const side = plan[role];
      const o = req.origins[role];
      const args = narrowArgv(plan, side, dir, req.plugins[role], from + o, to + o);
      event(`narrow side ${role}: ${side.command} ${args.join(" ")}`);
      const child = new OwnedChild(side.command, args, {
        cwd: plan.cwd,
        env: plan.env,
        clearEnv: true,
      });
      children.push(child);
      child.status.then(() => {
        run[role].exited = true;
        notify();
      });
    }
    const roleOf = new Map<number, "a" | "b">();
    let names: readonly string[] = [];
    const over = () =>
      (["a", "b"] as const).every((r) =>
        run[r].done || run[r].ended || run[r].error || (run[r].exited && run[r].closed)
      );
    try {
      while (!over() && !timedOut && !req.signal?.aborted) {
        const next = await ctl.next(waker.next());
        if (!next) continue;
        const [id, msg] = next;
        if (msg.t === "hello") {
          roleOf.set(id, msg.role);
          run[msg.role].conn = id;
          continue;
        }
        const role = roleOf.get(id);
        if (!role) continue;
        const s = run[role];
        if (msg.t === "regs") {
          s.regs = msg.regs;
          if (run.a.regs && run.b.regs) {
            const choice = chooseRegisters(run.a.regs, run.b.regs, plan.maskRegs);
            names = choice.names;
            await ctl.send(run.a.conn!, `regs ${choice.a.join(" ")}`);
            await ctl.send(run.b.conn!, `regs ${choice.b.join(" ")}`);
          }
        } else if (msg.t === "step") {
          s.steps.push({ ...msg.step, pos: msg.step.pos - req.origins[role] });
          if (s.steps.length > NARROW_MAX_STEPS) s.error = "too many steps";
        } else if (msg.t === "narrowed") {
          s.done = true;
          event(`narrow side ${role}: reached instruction ${to}`);
        } else if (msg.t === "end") {
          s.ended = true;
        } else if (msg.t === "error") {
          s.error = msg.msg;
        } else if (msg.t === "closed") {
          s.closed = true;
        }
      }
    } finally {
      clearTimeout(timer);
      req.signal?.removeEventListener("abort", onAbort);
    }
    for (const s of [run.a, run.b]) {
      if (s.conn !== undefined) await ctl.send(s.conn, "quit");
    }
    await Promise.all(children.map((c) => c.stop(1500)));
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
    if (names.length === 0) {
      return fail(`QEMU describes no registers of ${plan.preset.name} to plugins`);
    }
    return judge(req, names, run.a.steps, run.b.steps, seconds);
  } finally {
    await Promise.all(children.map((c) => c.stop(500)));
    await ctl?.[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
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
    s && { pc: s.pc, bytes: s.bytes, disas: s.disas, symbol: null };
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

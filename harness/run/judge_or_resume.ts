/**
 * Both sides dumped: judge the dumps, or, past a transient excursion
 * (transient.ts), tell both plugins where to resume.
 */
import { compareOutcome, type Outcome } from "./judge.ts";
import { findReconvergence, MAX_TRANSIENTS } from "../verdict/transient.ts";
import type { RunPlan } from "../plan/plan.ts";
import { resyncCommand, type Role } from "../core/protocol.ts";
import type { SidePair } from "./side_pair.ts";
import { sideDump, type SideState } from "./side_state.ts";
import type { Divergence, Excursion } from "../verdict/verdict.ts";
import type { SessionOptions } from "./session.ts";

/**
 * Both sides dumped: the outcome, or (a transient excursion, see
 * transient.ts) undefined after both plugins were told where to resume.
 */
export async function judgeOrResume(
  pair: SidePair,
  state: Record<Role, SideState>,
  plan: RunPlan,
  transients: Excursion[],
  opts: SessionOptions,
): Promise<Outcome | undefined> {
  const r = compareOutcome(
    state.a,
    state.b,
    plan.history,
    plan.counters,
    plan.world && {
      diff: plan.world,
      run: {
        sameImage: plan.a.image === plan.b.image,
        syscalls: plan.compare.includes("syscalls"),
      },
    },
  );
  const meet = r.divergence?.kind === "pc" && plan.transientWindow > 0 &&
      transients.length < MAX_TRANSIENTS
    ? findReconvergence(
      sideDump(state.a),
      sideDump(state.b),
      r.divergence.insn,
      plan.transientWindow,
    )
    : undefined;
  if (!meet) return r;
  const x = excursion(r.divergence!, meet, state);
  transients.push(x);
  opts.onEvent?.(
    `transient excursion at instruction ${x.insn} (side b ${x.insnB}): side a ran ${x.lengthA}, ` +
      `side b ${x.lengthB} instructions before the streams met again`,
  );
  const oa = state.a.origin + meet.a;
  const ob = state.b.origin + meet.b;
  const left = plan.maxInsns !== undefined ? plan.maxInsns - state.a.origin : Infinity;
  if (Math.max(meet.a, meet.b) >= left) {
    // The excursion runs past --max-insns: nothing is left to compare.
    return {
      insns: plan.maxInsns!,
      status: "match",
      stoppedBy: "max-insns",
      message: `No divergence in the first ${plan.maxInsns} instructions ` +
        `(a transient excursion was under way at the limit)`,
    };
  }
  const ahead = Math.max(state.a.dump!.insns - oa, state.b.dump!.insns - ob);
  const regsNext = (Math.floor(ahead / plan.regsEvery) + 1) * plan.regsEvery;
  const limits = plan.maxInsns ? [plan.maxInsns, plan.maxInsns - oa + ob] : [0, 0];
  for (const [i, role] of (["a", "b"] as const).entries()) {
    const s = state[role];
    s.origin = i === 0 ? oa : ob;
    delete s.dump;
    delete s.end;
    delete s.limit;
    await pair.send(
      role,
      resyncCommand({ epoch: transients.length, origin: s.origin, limit: limits[i]!, regsNext }),
    );
  }
  return undefined;
}

/** A transient excursion, in each side's own instruction count. */
function excursion(
  d: Divergence,
  meet: { a: number; b: number },
  state: Record<Role, SideState>,
): Excursion {
  return {
    insn: d.insn + state.a.origin,
    insnB: d.insn + state.b.origin,
    a: d.a,
    b: d.b,
    lengthA: meet.a - d.insn,
    lengthB: meet.b - d.insn,
  };
}

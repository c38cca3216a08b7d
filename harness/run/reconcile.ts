/**
 * Reconciling the passes: the detail pass names what the fast pass saw,
 * and the verdict never says less than either of them saw.
 *
 * When the detail pass stops at a difference of the environment that the
 * fast pass cannot have seen (a value computed from the host's counter,
 * which the fast pass does not compare, or any difference where the fast
 * pass still agreed), the session runs it again, comparing what the fast
 * pass compares, to where the fast pass saw the streams part
 * (continuationPlan()). The verdict heads with what that finds there and
 * names the environment's difference too (Divergence.environmentBefore).
 * When the detail pass sees nothing where the fast pass saw a difference,
 * two runs of the guest differ: inconclusive, never a match.
 */
import type { RunPlan } from "../plan/plan.ts";
import type { Outcome } from "./judge.ts";
import type { Divergence, FastPassReport } from "../verdict/verdict.ts";
import { environmentDetail } from "../verdict/environment.ts";

/** Where the fast pass saw the streams part: they agreed at `good`, not at `bad`. */
export interface Apart {
  readonly good: number;
  readonly bad: number;
}

/** Where the fast pass saw the streams part, if it did. */
export function fastApart(f: FastPassReport): Apart | undefined {
  return f.result === "apart" && f.good !== undefined && f.bad !== undefined
    ? { good: f.good, bad: f.bad }
    : undefined;
}

/**
 * Whether the detail pass's divergence `d` is an environment difference
 * that cannot be the one the fast pass saw: then the detail pass goes on.
 */
export function goesOn(d: Divergence | undefined, apart: Apart | undefined): boolean {
  if (!d?.environment || !apart || d.kind !== "environment") return false;
  return d.insn < apart.bad && (d.insn <= apart.good || d.environment.what === "counter");
}

/**
 * The detail pass that goes on: it compares what the fast pass compares
 * (no memory accesses; registers on the fast pass's grid, once a
 * checkpoint) and stops where the fast pass saw the streams part.
 */
export function continuationPlan(plan: RunPlan, apart: Apart): RunPlan {
  return {
    ...plan,
    compare: plan.compare.filter((c) => c !== "mem"),
    regsEvery: plan.fast.interval,
    maxInsns: apart.bad,
  };
}

/** What reconcile() makes of the passes. */
export interface Reconciled {
  readonly outcome: Outcome;
  /** Whether the detail pass saw again what the fast pass saw (see FastPassReport.confirmed). */
  readonly confirmed?: boolean;
}

/**
 * The outcome the verdict heads with: the detail pass's, or after it went
 * on (`next`, the continuation's), both, and whether the fast pass's
 * difference was seen again.
 */
export function reconcile(detail: Outcome, next: Outcome | undefined, apart?: Apart): Reconciled {
  if (!apart) return { outcome: detail };
  const seen = `the fast pass saw the streams part between instructions ${apart.good} and ` +
    `${apart.bad}`;
  const first = detail.divergence;
  if (next && first?.environment) {
    const before = `the environment differed first, at instruction ${first.insn}: ${
      environmentDetail(first.environment)
    }`;
    if (next.divergence) {
      return {
        outcome: {
          ...next,
          message: `${next.message}; ${before}`,
          divergence: {
            ...next.divergence,
            environmentBefore: {
              insn: first.insn,
              environment: first.environment,
              a: first.a,
              b: first.b,
            },
          },
        },
        confirmed: true,
      };
    }
    return {
      outcome: {
        ...detail,
        message: next.status === "match"
          ? `${detail.message}; ${seen}, and the detail pass, going on to there, did not: ` +
            `two runs of the guest differ`
          : `${detail.message}; the detail pass could not go on to where ${seen} ` +
            `(${next.message})`,
      },
      ...(next.status === "match" ? { confirmed: false } : {}),
    };
  }
  if (first) {
    return first.insn < apart.bad ? { outcome: detail, confirmed: true } : {
      outcome: {
        ...detail,
        message: `${detail.message}; ${seen}, where the detail pass saw no difference: two ` +
          `runs of the guest differ`,
      },
      confirmed: false,
    };
  }
  if (detail.status === "match" && !detail.partWay) {
    return {
      outcome: {
        status: "inconclusive",
        stoppedBy: detail.stoppedBy,
        message: `The fast pass saw the streams part between instructions ${apart.good} and ` +
          `${apart.bad}, but the detail pass, a second run, saw no difference: two runs of ` +
          `the guest differ (something of its environment is not the same from run to run), ` +
          `so this is no verdict on TCG`,
      },
      confirmed: false,
    };
  }
  return { outcome: detail };
}

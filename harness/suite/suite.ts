/**
 * Running many lockstep cases: a bounded number of pairs at once, each in
 * its own session (and so its own private directory), all stopped by one
 * AbortSignal. Plain data in and out; cli/suite.ts reads the file and
 * prints.
 */
import { SetupError } from "../core/errors.ts";
import { type LockstepOptions, planRun } from "../plan/plan.ts";
import { runLockstep } from "../run/session.ts";
import { planAgainst, runAgainst } from "../golden/against.ts";
import { readTrace } from "../trace/reader.ts";
import type { Verdict } from "../verdict/verdict.ts";

/** What a case must come to. */
export type Expectation = "match" | "diverged";

/** One case, ready to run. */
export interface SuiteCase {
  readonly name: string;
  readonly expect: Expectation;
  readonly options: LockstepOptions;
  readonly timeoutSeconds?: number | undefined;
  /** This case's plugin cache (else the suite's). */
  readonly cacheDir?: string | undefined;
  /** Keep this case's run directory. */
  readonly keepTemp?: boolean | undefined;
  /** Where the front end writes this case's verdict (JSON). */
  readonly report?: string | undefined;
  /** A trace side a is (--against), instead of a live QEMU. */
  readonly against?: string | undefined;
}

/** What one case came to. */
export interface CaseResult {
  readonly name: string;
  readonly expect: Expectation;
  /** True when the verdict's status is the expected one. */
  readonly passed: boolean;
  readonly seconds: number;
  /** The verdict, when the run got as far as one. */
  readonly verdict: Verdict | null;
  /** Why there is no verdict (a set-up error), else null. */
  readonly error: string | null;
}

/** How to run a suite. */
export interface SuiteRunOptions {
  /** Pairs of QEMUs at once. */
  readonly jobs: number;
  readonly signal?: AbortSignal | undefined;
  readonly cacheDir?: string | undefined;
  /** The world probe guest per arch (SessionOptions.worldProbes). */
  readonly worldProbes?: Readonly<Record<string, string>> | undefined;
  readonly onStart?: ((c: SuiteCase) => void) | undefined;
  readonly onEnd?: ((r: CaseResult) => void) | undefined;
}

/**
 * The cases of shard `index` (1-based) of `count`: case i (in file order,
 * from 0) belongs to shard (i mod count) + 1, so shards are stable for a
 * given file and together cover every case once.
 */
export function shardOf<T>(cases: readonly T[], index: number, count: number): T[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`Invalid shard count: ${count}`);
  if (!Number.isInteger(index) || index < 1 || index > count) {
    throw new RangeError(`Invalid shard index: ${index} (expected 1 to ${count})`);
  }
  return cases.filter((_, i) => i % count === index - 1);
}

async function runCase(c: SuiteCase, opts: SuiteRunOptions): Promise<CaseResult> {
  const started = performance.now();
  const seconds = () => Math.round(performance.now() - started) / 1000;
  try {
    const session = {
      signal: opts.signal,
      timeoutSeconds: c.timeoutSeconds,
      cacheDir: c.cacheDir ?? opts.cacheDir,
      keepTemp: c.keepTemp,
      worldProbes: opts.worldProbes,
    };
    let verdict: Verdict;
    if (c.against !== undefined) {
      const trace = await readTrace(c.against);
      verdict = await runAgainst(await planAgainst(c.options, trace), trace, session);
    } else {
      verdict = await runLockstep(await planRun(c.options), session);
    }
    return {
      name: c.name,
      expect: c.expect,
      passed: verdict.status === c.expect,
      seconds: seconds(),
      verdict,
      error: null,
    };
  } catch (e) {
    // One case's trouble is that case's result: the others still run.
    return {
      name: c.name,
      expect: c.expect,
      passed: false,
      seconds: seconds(),
      verdict: null,
      error: e instanceof SetupError
        ? `${e.message} (${e.hint})`
        : `internal error: ${(e as Error)?.message ?? e}`,
    };
  }
}

/** The result of a case an abort kept from starting. */
function notRun(c: SuiteCase): CaseResult {
  return {
    name: c.name,
    expect: c.expect,
    passed: false,
    seconds: 0,
    verdict: null,
    error: "not run: the suite was interrupted before this case started",
  };
}

/**
 * Runs `cases`, at most `jobs` at once; results in the cases' order. After
 * an abort no case starts: those are results saying they were not run.
 */
export async function runSuite(
  cases: readonly SuiteCase[],
  opts: SuiteRunOptions,
): Promise<CaseResult[]> {
  const results: CaseResult[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    // An abort (Ctrl-C, SIGTERM) ends the cases running (their sessions
    // see the signal) and starts no other.
    while (next < cases.length && !opts.signal?.aborted) {
      const i = next++;
      const c = cases[i]!;
      opts.onStart?.(c);
      const r = await runCase(c, opts);
      results[i] = r;
      opts.onEnd?.(r);
    }
  };
  const jobs = Math.max(1, Math.min(opts.jobs, cases.length));
  await Promise.all(Array.from({ length: jobs }, worker));
  for (let i = next; i < cases.length; i++) results[i] = notRun(cases[i]!);
  return results;
}

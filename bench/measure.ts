/**
 * The benchmark: for a workload, run one QEMU with no plugin ("bare"), one
 * with a counting plugin ("single"), two of those at once, uncoupled
 * ("2×count": what the machine charges for running two QEMUs side by side) and
 * the full lockstep ("lockstep") alternately, and report the medians. Plain
 * data; bench/main.ts prints it.
 */
import { OwnedChild } from "../harness/core/owned_child.ts";
import { buildPlugin } from "../harness/qemu/plugin_build.ts";
import { argvWithPlugin, placeGuests } from "../harness/plan/command_line.ts";
import { type LockstepOptions, planRun, runLockstep, type RunPlan } from "../mod.ts";
import { join } from "../deps/path.ts";

/** One workload to measure. */
export interface Workload {
  readonly name: string;
  /** Which QEMU it runs on ("7.2", "10.2"), for the table. */
  readonly qemu: string;
  readonly options: LockstepOptions;
}

/** One measured run. */
export interface RunSample {
  readonly seconds: number;
  readonly blocks: number;
  readonly insns: number;
  /** Peak RSS in kB of the QEMU (for lockstep: the larger side). */
  readonly rssKb: number;
}

/** Medians for one workload in one chain mode. */
export interface BenchRow {
  readonly workload: string;
  readonly qemu: string;
  readonly chain: boolean;
  readonly pairs: number;
  readonly blocks: number;
  readonly insns: number;
  /** One QEMU, no plugin. */
  readonly bareSeconds: number;
  /** One QEMU with the counting plugin. */
  readonly singleSeconds: number;
  /** Two QEMUs with the counting plugin at once, until both end. */
  readonly twoSeconds: number;
  readonly lockstepSeconds: number;
  /** lockstep / count, lockstep / bare and lockstep / 2×count, wall time. */
  readonly ratio: number;
  /**
   * The median over rounds of lockstep / count within a round: the two
   * run minutes apart at most, so a drift of the machine's speed between
   * rounds moves it less than the ratio of the medians.
   */
  readonly ratioPaired: number;
  readonly ratioBare: number;
  /** The median over rounds of lockstep / bare within a round (NaN: no bare run). */
  readonly ratioBarePaired: number;
  readonly ratioTwo: number;
  readonly singleRssKb: number;
  readonly lockstepRssKb: number;
  /** Why lockstep runs did not match and were run again (see LOCKSTEP_TRIES). */
  readonly retried: string[];
  readonly samples: {
    readonly bare: RunSample[];
    readonly single: RunSample[];
    readonly two: RunSample[];
    readonly lockstep: RunSample[];
  };
}

/** The median of a[i] / b[i]: ratios taken round by round. */
export function pairedRatio(
  a: readonly { seconds: number }[],
  b: readonly { seconds: number }[],
): number {
  return median(a.map((x, i) => x.seconds / b[i]!.seconds));
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The bench was interrupted (a signal): its children are stopped. */
export class Interrupted extends Error {
  constructor() {
    super("interrupted");
  }
}

/** `p`, unless `signal` aborts first (then Interrupted: the caller's child is disposed). */
function unlessAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new Interrupted());
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new Interrupted());
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Runs side A of `plan` alone in `dir`, with the plugin `spec` (null:
 * none): its wall time, whether it exited 0, and its status with the end of
 * its stderr.
 */
async function timeSideA(
  plan: RunPlan,
  dir: string,
  spec: string | null,
  signal: AbortSignal | undefined,
): Promise<{ seconds: number; ok: boolean; why: string }> {
  if (plan.mode === "user") await placeGuests(dir, plan, [plan.a]);
  const started = performance.now();
  await using child = new OwnedChild(plan.a.command, argvWithPlugin(plan, plan.a, dir, spec), {
    cwd: plan.cwd,
    env: plan.env,
    clearEnv: true,
  });
  const status = await unlessAborted(child.status, signal);
  const seconds = (performance.now() - started) / 1000;
  const why = `(${status.signal ?? status.code}): ${(await child.stderr()).slice(-500)}`;
  return { seconds, ok: status.code === 0, why };
}

/** Runs side A of `plan` alone with no plugin (its wall time only). */
export async function runBare(plan: RunPlan, signal?: AbortSignal): Promise<RunSample> {
  // QEMU alone cannot stop at --max-insns: no figure to compare.
  if (plan.maxInsns !== undefined) return { seconds: NaN, blocks: 0, insns: 0, rssKb: 0 };
  const dir = await Deno.makeTempDir({ prefix: "qemu-lockstep-bench-" });
  try {
    const run = await timeSideA(plan, dir, null, signal);
    if (!run.ok) throw new Error(`Bare run failed ${run.why}`);
    return { seconds: run.seconds, blocks: 0, insns: 0, rssKb: 0 };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Runs side A of `plan` alone with the counting plugin. */
export async function runSingle(
  plan: RunPlan,
  countPlugin: string,
  signal?: AbortSignal,
): Promise<RunSample> {
  const dir = await Deno.makeTempDir({ prefix: "qemu-lockstep-bench-" });
  try {
    const out = join(dir, "count.txt");
    const spec = [
      countPlugin,
      `out=${out}`,
      ...(plan.maxInsns ? [`maxinsns=${plan.maxInsns}`] : []),
    ]
      .join(",");
    const run = await timeSideA(plan, dir, spec, signal);
    let text;
    try {
      text = await Deno.readTextFile(out);
    } catch {
      throw new Error(`Single run failed ${run.why}`);
    }
    const [blocks, insns, rss] = text.trim().split(/\s+/).map(Number);
    return { seconds: run.seconds, blocks: blocks!, insns: insns!, rssKb: rss! };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Two counting runs of side A at once, uncoupled: the wall time until both end. */
export async function runTwo(
  plan: RunPlan,
  countPlugin: string,
  signal?: AbortSignal,
): Promise<RunSample> {
  const started = performance.now();
  const [one, two] = await Promise.all([
    runSingle(plan, countPlugin, signal),
    runSingle(plan, countPlugin, signal),
  ]);
  return {
    seconds: (performance.now() - started) / 1000,
    blocks: one.blocks,
    insns: one.insns,
    rssKb: Math.max(one.rssKb, two.rssKb),
  };
}

/** A lockstep run that did not match: its time is not the comparison's cost. */
export class NoMatch extends Error {}

/** Runs the full lockstep on `plan`; NoMatch unless the sides match. */
export async function runLockstepSample(
  plan: RunPlan,
  signal?: AbortSignal,
): Promise<RunSample> {
  const started = performance.now();
  const v = await runLockstep(plan, signal ? { signal } : {});
  const seconds = (performance.now() - started) / 1000;
  if (signal?.aborted) throw new Interrupted();
  if (v.status !== "match") throw new NoMatch(`Lockstep run did not match: ${v.message}`);
  return {
    seconds,
    blocks: Math.max(v.sides.a.blocks, v.sides.b.blocks),
    insns: v.insns,
    rssKb: Math.max(v.sides.a.peakRssKb, v.sides.b.peakRssKb),
  };
}

/** Lockstep runs a round may make before it gives up. */
const LOCKSTEP_TRIES = 3;

/**
 * The round's lockstep run; one that does not match (the two QEMUs' hosts
 * answered differently: a counter read, a mapping placed elsewhere) is run
 * again, up to LOCKSTEP_TRIES, and its message kept in `retried`.
 */
async function lockstepUntilMatch(
  plan: RunPlan,
  retried: string[],
  signal: AbortSignal | undefined,
): Promise<RunSample> {
  for (let i = 1;; i++) {
    try {
      return await runLockstepSample(plan, signal);
    } catch (e) {
      if (!(e instanceof NoMatch) || i === LOCKSTEP_TRIES) throw e;
      retried.push(e.message);
    }
  }
}

/**
 * Measures one workload in one chain mode: `pairs` rounds of bare, count
 * and lockstep, alternately, so all three see the same machine load over
 * time.
 */
export async function benchWorkload(
  w: Workload,
  chain: boolean,
  pairs: number,
  onSample?: (kind: "bare" | "count" | "2×count" | "lockstep", s: RunSample) => void,
  signal?: AbortSignal,
): Promise<BenchRow> {
  const plan = await planRun({ ...w.options, chain });
  const build = (source: "count" | "lockstep") =>
    buildPlugin({
      source,
      api: plan.a.qemu.pluginApi,
      qemuPath: plan.a.qemu.path,
      header: plan.pluginHeader,
    });
  const count = await build("count");
  // Built (and cached) now, or the first lockstep round would pay for it.
  await build("lockstep");
  if (plan.mode === "user") {
    await buildPlugin({ source: "env_shim", api: 0, qemuPath: plan.a.qemu.path });
  }
  const bare: RunSample[] = [];
  const single: RunSample[] = [];
  const two: RunSample[] = [];
  const lockstep: RunSample[] = [];
  const retried: string[] = [];
  for (let i = 0; i < pairs; i++) {
    const b = await runBare(plan, signal);
    bare.push(b);
    onSample?.("bare", b);
    const s = await runSingle(plan, count.path, signal);
    single.push(s);
    onSample?.("count", s);
    const p = await runTwo(plan, count.path, signal);
    two.push(p);
    onSample?.("2×count", p);
    const l = await lockstepUntilMatch(plan, retried, signal);
    lockstep.push(l);
    onSample?.("lockstep", l);
  }
  const singleSeconds = median(single.map((s) => s.seconds));
  const bareSeconds = median(bare.map((s) => s.seconds));
  const twoSeconds = median(two.map((s) => s.seconds));
  const lockstepSeconds = median(lockstep.map((s) => s.seconds));
  const blocks = median(single.map((s) => s.blocks));
  return {
    workload: w.name,
    qemu: w.qemu,
    chain,
    pairs,
    blocks,
    insns: median(lockstep.map((s) => s.insns)),
    bareSeconds,
    singleSeconds,
    twoSeconds,
    lockstepSeconds,
    ratio: lockstepSeconds / singleSeconds,
    ratioPaired: pairedRatio(lockstep, single),
    ratioBare: lockstepSeconds / bareSeconds,
    ratioBarePaired: pairedRatio(lockstep, bare),
    ratioTwo: lockstepSeconds / twoSeconds,
    singleRssKb: median(single.map((s) => s.rssKb)),
    lockstepRssKb: median(lockstep.map((s) => s.rssKb)),
    retried,
    samples: { bare, single, two, lockstep },
  };
}

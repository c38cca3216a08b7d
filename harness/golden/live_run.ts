/**
 * One run of the live side against a golden trace, the harness in side
 * A's place (against.ts's passes and naming all run it).
 */

import { traceRegisters } from "./against_plan.ts";
import type { ChildStatus } from "../core/owned_child.ts";
import type { Outcome } from "../run/judge.ts";
import type { RunPlan } from "../plan/plan.ts";
import { PEER_SOCKET, REC_SOCKET } from "../plan/plugin_args.ts";
import type { PluginMessage } from "../core/protocol.ts";
import { RecordStream } from "./record_stream.ts";
import type { SessionOptions } from "../run/session.ts";
import { sideResult } from "../run/side_result.ts";
import { SidePair } from "../run/side_pair.ts";
import type { SideState } from "../run/side_state.ts";
import { superviseOne } from "../run/supervise_one.ts";
import type { StreamDiffer } from "./stream_diff.ts";
import type { Trace } from "../trace/reader.ts";
import { type PeerPart, TracePeer } from "./trace_peer.ts";
import type { SideResult } from "../verdict/verdict.ts";
import { join } from "../../deps/path.ts";
import type { ScheduleFiles } from "../plan/command_line.ts";
import { placeSchedule, scheduleFiles } from "../run/schedule.ts";

/** The live side's plugin, and the environment shim it preloads (linux-user). */
export interface LivePlugins {
  readonly path: string;
  readonly shim: string | undefined;
}

/** One run of the live side: its state, status and what the verdict says of it. */
export interface LiveRun {
  readonly outcome: Outcome;
  readonly state: SideState;
  readonly status: ChildStatus;
  readonly side: SideResult;
  readonly seconds: number;
}

/**
 * Runs the live side of `plan` alone, against the harness in side A's
 * place. `args` is given the run directory and the files of the trace's
 * guest threads' order, which the live side follows (linux-user).
 */
export async function runLive(
  plan: RunPlan,
  trace: Trace,
  kind: string,
  args: (dir: string, schedule: ScheduleFiles) => string[],
  part: PeerPart | undefined,
  opts: SessionOptions & {
    record?: StreamDiffer;
    limitHash?: string | undefined;
    done?: (s: SideState) => Outcome | undefined;
    onMessage?: (msg: PluginMessage) => void;
  },
): Promise<LiveRun & { peer: TracePeer | undefined; recordError: Error | undefined }> {
  const started = performance.now();
  await using owned = new AsyncDisposableStack();
  let peer: TracePeer | undefined;
  let stream: RecordStream | undefined;
  await using pair = await SidePair.open({
    plan,
    roles: ["b"],
    args: (_side, dir) => args(dir, scheduleFiles(dir, trace.decisions)),
    keepTemp: opts.keepTemp,
    onEvent: opts.onEvent,
    label: `${kind} `,
    cacheDir: opts.cacheDir,
    prepare: async (dir) => {
      if (part) peer = owned.use(new TracePeer(join(dir, PEER_SOCKET), part));
      if (opts.record) stream = owned.use(new RecordStream(join(dir, REC_SOCKET), opts.record));
      await placeSchedule(dir, trace.decisions);
    },
    chooseRegs: traceRegisters(trace),
  });
  if (opts.record) opts.record.onDiff = () => pair.notify();
  const { outcome, state } = await superviseOne(pair, "b", {
    signal: opts.signal,
    timeoutSeconds: opts.timeoutSeconds,
    since: opts.since,
    startSeconds: opts.startSeconds,
    limitHash: opts.limitHash,
    done: opts.done ?? (opts.record ? () => (opts.record!.diff ? found : undefined) : undefined),
    onMessage: opts.onMessage,
    onProgress: opts.onProgress
      ? (insns) => {
        const elapsedSeconds = (performance.now() - started) / 1000;
        opts.onProgress!({ insns, elapsedSeconds, insnsPerSecond: insns / elapsedSeconds });
      }
      : undefined,
    onEvent: opts.onEvent,
  });
  const statuses = await pair.stop();
  await stream?.finished();
  return {
    outcome,
    state,
    status: statuses.b,
    side: await sideResult(plan, state, statuses.b),
    seconds: (performance.now() - started) / 1000,
    peer,
    recordError: stream?.error ?? peer?.error,
  };
}

/** The outcome a run stopped by the comparer has (it found what it looked for). */
export const found: Outcome = { status: "match", stoppedBy: null, message: "found" };

/**
 * Comparing one live QEMU with a golden trace. Side A is the trace, side
 * B the live QEMU, and the verdict is a pair's: same shape, same statuses.
 *
 * 1. The fast pass: the live QEMU runs as side B, the harness plays side A
 *    on the peer socket with the trace's checkpoints and end (trace_peer.ts).
 * 2. When they part (or the guests' output or exit status differ), the
 *    live side records its own stream from the start, and the harness
 *    compares it chunk by chunk with the trace's (stream_diff.ts): the
 *    first jump that differs names the instruction, as a live pair does;
 *    a system call that differs names its instruction; a register
 *    snapshot that differs names the window since the last one that
 *    agreed, and the live side is stepped through it (narrow=).
 * 3. The live side runs once more, with the detail pass's plugin stopped
 *    at that instruction, to show its blocks, bytes and events there.
 */

import { type LivePlugins, runLive } from "./live_run.ts";
import { nameDifference } from "./name_difference.ts";
import { sideArgv } from "../plan/command_line.ts";
import { withDisassembly } from "../guest/disasm.ts";
import type { Outcome } from "../run/judge.ts";
import type { RunPlan } from "../plan/plan.ts";
import { buildPlugin } from "../qemu/plugin_build.ts";
import { textSha256 } from "./record.ts";
import type { SessionOptions } from "../run/session.ts";
import { withLastWords } from "../run/side_result.ts";
import { nameDivergence } from "../guest/symbols.ts";
import type { Trace } from "../trace/reader.ts";
import { type PeerEnd, PeerMsgType, type PeerPart } from "./trace_peer.ts";
import type { Divergence, FastPassReport, SideResult, Verdict } from "../verdict/verdict.ts";

/** What the harness plays as side A in the fast pass: the trace up to the run's end or limit. */
function feedPart(plan: RunPlan, trace: Trace): PeerPart {
  const end = trace.summary.end;
  const h = trace.header;
  const hash = BigInt(end.hash);
  const limit = plan.maxInsns;
  let peerEnd: PeerEnd;
  if (limit === undefined || limit === end.insns) {
    peerEnd = {
      type: end.kind === "limit" ? PeerMsgType.LIMIT : PeerMsgType.END,
      pos: end.insns,
      hash,
    };
  } else {
    peerEnd = {
      type: PeerMsgType.LIMIT,
      pos: limit,
      hash: trace.checkpoints[limit / h.interval - 1]!,
    };
  }
  const upTo = Math.floor(peerEnd.pos / h.interval);
  return { kind: "feed", checkpoints: trace.checkpoints.slice(0, upTo), end: peerEnd };
}

/** Side A as the verdict shows it: the trace's recorded QEMU and run. */
function traceSide(plan: RunPlan, trace: Trace): SideResult {
  const h = trace.header;
  const s = trace.summary;
  return {
    qemu: h.qemu.path,
    version: h.qemu.version,
    pluginApi: h.qemu.pluginApi,
    image: plan.a.image,
    mode: h.mode,
    argv: h.argv,
    exitCode: s.exit.code,
    signal: s.exit.signal,
    insns: s.end.insns,
    blocks: s.blocks,
    peakRssKb: s.peakRssKb,
    output: s.output.text,
    stderrTail: "",
  };
}

/** Runs `plan`'s live side against `trace` and returns the verdict (see the module comment). */
export async function runAgainst(
  plan: RunPlan,
  trace: Trace,
  opts: SessionOptions = {},
): Promise<Verdict> {
  const event = opts.onEvent ?? (() => {});
  const plugin: LivePlugins = {
    path: (await buildPlugin({
      source: "lockstep",
      api: plan.b.qemu.pluginApi,
      qemuPath: plan.b.qemu.path,
      header: plan.pluginHeader,
      cacheDir: opts.cacheDir,
    })).path,
    // linux-user: the environment shim, as a pair's sides preload it.
    shim: plan.mode === "user"
      ? (await buildPlugin({
        source: "env_shim",
        api: 0,
        qemuPath: plan.b.qemu.path,
        cacheDir: opts.cacheDir,
      })).path
      : undefined,
  };
  event(
    `trace ${trace.name}: ${trace.summary.end.insns} instructions recorded on QEMU ${trace.header.qemu.version} (${trace.header.host.hostname}, ${trace.header.created})`,
  );
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  // Every live run after this one shares its limit, counted from `since`.
  opts = { ...opts, since: opts.since ?? started };
  const part = feedPart(plan, trace);
  const limitHash = part.kind === "feed" && part.end.type === PeerMsgType.LIMIT
    ? `0x${part.end.hash.toString(16).padStart(16, "0")}`
    : undefined;
  const fast = await runLive(
    plan,
    trace,
    "fast",
    (dir, schedule) =>
      sideArgv({ plan, side: plan.b, runDir: dir, plugin, pass: { kind: "fast" }, schedule }),
    part,
    { ...opts, limitHash },
  );
  const a = traceSide(plan, trace);
  const o = fast.outcome;
  const fastPass: FastPassReport = {
    result: o.apart ? "apart" : o.status === "match" ? "match" : "ended",
    why: o.apart || o.status === "match"
      ? null
      : `it ended without a verdict on the streams (${o.status}): the verdict is its own`,
    insns: Math.min(fast.state.insns, trace.summary.end.insns),
    seconds: Math.round(fast.seconds * 1000) / 1000,
    ...(o.apart ?? {}),
  };
  let why: string | undefined;
  if (o.apart) {
    why = `its checkpoints disagree after instruction ${o.apart.good}`;
  } else if (o.status === "match" && o.stoppedBy === "guest-exit") {
    if (a.exitCode !== fast.side.exitCode || a.signal !== fast.side.signal) {
      why = "the guests' exit statuses differ";
    } else if (
      textSha256(fast.side.output) !== trace.summary.output.sha256 ||
      fast.side.output !== a.output
    ) {
      why = "the guests' output differs";
    }
  }
  const base = {
    version: 1 as const,
    compared: plan.compare,
    notCompared: plan.notCompared,
    registers: trace.header.registers,
    registersSkipped: [],
    warnings: plan.warnings,
    blocks: Math.min(fast.state.blocks, trace.summary.blocks),
    transients: [],
    tempDir: null,
    trace: {
      path: trace.name,
      bytes: trace.bytes,
      created: trace.header.created,
      host: trace.header.host.hostname,
    },
  };
  const verdictOf = async (
    outcome: Outcome,
    live: SideResult,
    divergence: Divergence | null,
    fp: FastPassReport,
  ): Promise<Verdict> => {
    const wall = elapsed();
    return await withDisassembly({
      ...base,
      status: outcome.status,
      stoppedBy: outcome.stoppedBy,
      message: outcome.blame
        ? withLastWords(outcome.message, live.stderrTail, plan, plan.b)
        : outcome.message,
      insns: divergence?.insn ?? outcome.insns ??
        (outcome.status === "match" ? fast.state.insns : Math.min(fast.state.insns, a.insns)),
      wallSeconds: Math.round(wall * 1000) / 1000,
      insnsPerSecond: wall > 0 ? Math.round(fast.state.insns / wall) : 0,
      sides: { a, b: live },
      divergence: divergence ? await nameDivergence(divergence, plan) : null,
      fastPass: fp,
    }, plan);
  };
  if (why === undefined) {
    const message = o.status === "match" && o.stoppedBy === "guest-exit"
      ? `The guest ran to its end as recorded: ${trace.summary.end.insns} instructions, no divergence`
      : o.message;
    return await verdictOf({ ...o, message }, fast.side, null, fastPass);
  }
  event(`fast pass: ${why}; the live side records its stream to name the instruction`);
  const named = await nameDifference(plan, trace, plugin, fast, o.apart, opts, event);
  return await verdictOf(named.outcome, fast.side, named.divergence, {
    ...fastPass,
    result: "apart",
    why,
  });
}

export { planAgainst } from "./against_plan.ts";

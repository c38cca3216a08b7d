/**
 * Comparing one live QEMU with a golden trace. Side A is the trace, side
 * B the live QEMU, and the verdict is a pair's: same shape, same statuses.
 *
 * 1. The fast pass: the live QEMU runs as side B, the harness plays side A
 *    on the peer socket with the trace's checkpoints and end (trace_peer.ts).
 * 2. When they part (or the guests' output or exit status differ), the
 *    live side records its own stream from the start, and the harness
 *    compares it chunk by chunk with the trace's (trace_compare.ts): the
 *    first jump that differs names the instruction, as a live pair does;
 *    a system call that differs names its instruction; a register
 *    snapshot that differs names the window since the last one that
 *    agreed, and the live side is stepped through it (narrow=).
 * 3. The live side runs once more, with the detail pass's plugin stopped
 *    at that instruction, to show its blocks, bytes and events there.
 */
import type { ChildStatus } from "./child.ts";
import { fastArgv, lockstepArgv, narrowArgv, recordArgv } from "./command_line.ts";
import { flattenDump } from "./compare.ts";
import { withDisassembly } from "./disasm.ts";
import { SetupError } from "./errors.ts";
import type { Outcome } from "./judge.ts";
import { type LockstepOptions, planRun, type RunPlan } from "./plan.ts";
import { PEER_SOCKET, REC_SOCKET } from "./plugin_args.ts";
import { buildPlugin } from "./plugin_build.ts";
import { findPreset } from "./presets.ts";
import { type DumpEvent, EventKind, type PluginMessage, type Role, type Step } from "./protocol.ts";
import { fileSha256, recordParams, textSha256 } from "./record.ts";
import { RecordStream } from "./record_stream.ts";
import type { RegChoice } from "./registers.ts";
import { regValue } from "./registers.ts";
import { capitalise, lastWords, type SessionOptions, sideResult } from "./session.ts";
import { SidePair } from "./side_pair.ts";
import { sideDump, type SideState } from "./side_state.ts";
import { superviseSolo } from "./solo.ts";
import { nameDivergence } from "./symbols.ts";
import type { Detail } from "./trace_codec.ts";
import { type StreamDiff, TraceComparer } from "./trace_compare.ts";
import type { Trace } from "./trace_reader.ts";
import { TraceError } from "./trace_format.ts";
import { type PeerEnd, PeerMsgType, type PeerPart, TracePeer } from "./trace_peer.ts";
import { describeEnvironment, environmentDifference } from "./environment.ts";
import {
  type Divergence,
  eventView,
  type FastPassReport,
  type NamedBlock,
  type NamedInsn,
  type SideResult,
  type TraceWindow,
  type Verdict,
} from "./verdict.ts";
import { DEFAULTS } from "./defaults.ts";
import { join, resolve } from "../deps/path.ts";

/**
 * A run that does not fit the trace (a TraceError: the same whatever the
 * QEMU under test, so --bisect stops rather than skips).
 */
function mismatch(trace: Trace, what: string, hint: string): TraceError {
  return new TraceError(`Cannot compare with trace ${trace.name}: ${what}`, hint);
}

const same = (x: readonly string[], y: readonly string[]) =>
  x.length === y.length && x.every((v, i) => v === y[i]);

const shell = (args: readonly string[]) =>
  args.length === 0 ? "none" : args.map((a) => JSON.stringify(a)).join(" ");

/**
 * Plans a run against `trace`: side A is the trace (its QEMU neither run
 * nor probed), side B the live QEMU. Whatever the recorded stream depends
 * on must be as it was (the image by its sha256, the architecture, mode,
 * QEMU arguments, guest arguments): a mismatch is a SetupError naming it.
 */
export async function planAgainst(opts: LockstepOptions, trace: Trace): Promise<RunPlan> {
  const h = trace.header;
  const o = h.options;
  if (opts.qemuA || (opts.extraA?.length ?? 0) > 0) {
    throw mismatch(
      trace,
      `side a is the trace (QEMU ${h.qemu.version}): --qemu-a and --extra-a do not apply`,
      "pick the live QEMU with --qemu (or --qemu-b), its own arguments with --extra-b",
    );
  }
  if (opts.fast === false || (opts.transientWindow ?? 0) > 0) {
    throw mismatch(
      trace,
      "--no-fast and --transient-window need a live side a",
      "drop them; the trace names the first difference by itself",
    );
  }
  const preset = findPreset(opts.arch);
  if (preset && preset.name !== h.arch) {
    throw mismatch(
      trace,
      `it was recorded for ${h.arch}, this run is ${preset.name}`,
      `run it as ${h.arch}`,
    );
  }
  const image = await fileSha256(resolve(opts.image));
  if (image.sha256 !== h.image.sha256) {
    throw mismatch(
      trace,
      `image ${opts.image} is not the one it was recorded with (sha256 ${
        image.sha256.slice(0, 16)
      }…; the trace's ${h.image.name} has ${h.image.sha256.slice(0, 16)}…)`,
      "give the recorded image as <IMAGE>; a modified guest goes in --image-b",
    );
  }
  if ((opts.bios ?? false) !== o.bios) {
    throw mismatch(
      trace,
      `it was recorded ${o.bios ? "with" : "without"} --bios`,
      o.bios ? "add --bios" : "drop --bios",
    );
  }
  if (!same(opts.extra ?? [], o.extra)) {
    throw mismatch(
      trace,
      `it was recorded with the QEMU arguments ${shell(o.extra)}, this run has ${
        shell(opts.extra ?? [])
      }`,
      "pass the same --extra; arguments for the live QEMU alone go in --extra-b",
    );
  }
  if (!same(opts.guestArgs ?? [], o.guestArgs)) {
    throw mismatch(
      trace,
      `the guest was recorded with the arguments ${shell(o.guestArgs)}, this run gives ${
        shell(opts.guestArgs ?? [])
      }`,
      "give the same guest arguments after --",
    );
  }
  if ((opts.maskRegs?.length ?? 0) > 0 && !same(opts.maskRegs!, o.maskRegs)) {
    throw mismatch(
      trace,
      `its register snapshots leave out ${shell(o.maskRegs)}; --mask-reg cannot change that`,
      "drop --mask-reg, or record again with it",
    );
  }
  const asked = opts.compare ?? ["all"];
  if (
    !(asked.length === 1 && asked[0] === "all") && !same([...asked].sort(), [...h.compared].sort())
  ) {
    throw mismatch(
      trace,
      `it holds ${h.compared.join(", ")}; --compare cannot change that`,
      "drop --compare, or record again with it",
    );
  }
  const end = trace.summary.end;
  let maxInsns = o.maxInsns ?? undefined;
  if (opts.maxInsns !== undefined && opts.maxInsns !== o.maxInsns) {
    const ok = opts.maxInsns <= end.insns &&
      (opts.maxInsns === end.insns || opts.maxInsns % h.interval === 0);
    if (!ok) {
      throw mismatch(
        trace,
        `it holds hashes at multiples of ${h.interval} instructions up to ${end.insns}, not at --max-insns ${opts.maxInsns}`,
        `use a multiple of ${h.interval} up to ${end.insns}, or no --max-insns`,
      );
    }
    maxInsns = opts.maxInsns;
  }
  const plan = await planRun({
    ...opts,
    guestName: o.guestName,
    maxInsns,
    compare: ["all"],
    knownQemuA: h.qemu,
  });
  if (plan.mode !== h.mode) {
    throw mismatch(
      trace,
      `it was recorded in ${h.mode} mode, this run is in ${plan.mode} mode`,
      h.mode === "user" ? "add --user" : "add --system",
    );
  }
  const live = plan.b.qemu;
  if (h.compared.includes("regs") && live.pluginApi < 2) {
    // The QEMU under test's doing (its version): a SetupError, skipped by --bisect.
    throw new SetupError(
      `Cannot compare with trace ${trace.name}: it holds register snapshots, which side b's QEMU ${live.version} (plugin API ${live.pluginApi}) cannot take (API 2, QEMU 9.0 or later)`,
      "compare on a QEMU of 9.0 or later, or record the trace with --compare pc,syscalls",
    );
  }
  if (h.outputs && live.pluginApi < 4) {
    throw new SetupError(
      `Cannot compare with trace ${trace.name}: it holds what system calls wrote, which side b's QEMU ${live.version} (plugin API ${live.pluginApi}) cannot read (API 4, QEMU 9.2 or later)`,
      "compare on a QEMU of 9.2 or later, or record the trace on a QEMU before 9.2",
    );
  }
  // The trace holds addresses (events' and results'): the live side keeps
  // them too. Two versions may place a linux-user guest differently.
  const warnings = plan.mode === "user" && live.version !== h.qemu.version
    ? [
      `The trace was recorded on QEMU ${h.qemu.version}, side b is ${live.version}: in linux-user ` +
      `two versions may place the guest's stack and mappings differently, and the trace holds ` +
      `addresses; a difference in one is then not TCG's (record the trace with the same version)`,
    ]
    : [];
  const notCompared = [
    {
      what: "mem",
      why: "a trace holds no memory accesses (compare two live QEMUs with --no-fast for them)",
    },
    ...(h.compared.includes("regs") ? [] : [{
      what: "regs",
      why: `the trace holds no registers (QEMU ${h.qemu.version}, plugin API ${h.qemu.pluginApi}` +
        (h.qemu.pluginApi >= 2 ? `, or none of ${h.arch} described` : "") + ")",
    }]),
  ];
  return {
    ...plan,
    compare: h.compared,
    sameLayout: true,
    warnings: [...plan.warnings, ...warnings],
    notCompared,
    fast: { enabled: true, why: null, interval: h.interval, window: DEFAULTS.fastWindow },
  };
}

/** The trace's registers, as indices into the live side's list; missing ones are a SetupError. */
function traceRegisters(
  trace: Trace,
): (listed: Partial<Record<Role, readonly { name: string; size: number }[]>>) => RegChoice {
  return (listed) => {
    const list = listed.b ?? [];
    const index = new Map(list.map((r, i) => [r.name, i]));
    const missing = trace.header.registers.filter((n) => !index.has(n));
    if (missing.length > 0) {
      throw new SetupError(
        `Cannot compare with trace ${trace.name}: side b's QEMU does not describe the registers ${
          missing.join(", ")
        }, which its snapshots hold`,
        "record the trace again with --mask-reg for them",
      );
    }
    const b = trace.header.registers.map((n) => index.get(n)!);
    return { names: trace.header.registers, a: b, b, skipped: [] };
  };
}

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

/** The live side's plugin, and the environment shim it preloads (linux-user). */
interface LivePlugins {
  readonly path: string;
  readonly shim: string | undefined;
}

/** One run of the live side: its state, status and what the verdict says of it. */
interface LiveRun {
  readonly outcome: Outcome;
  readonly state: SideState;
  readonly status: ChildStatus;
  readonly side: SideResult;
  readonly seconds: number;
}

/** Runs the live side of `plan` alone, against the harness in side A's place. */
async function runLive(
  plan: RunPlan,
  trace: Trace,
  kind: string,
  args: (dir: string) => string[],
  part: PeerPart | undefined,
  opts: SessionOptions & {
    record?: TraceComparer;
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
    args: (_side, dir) => args(dir),
    keepTemp: opts.keepTemp,
    onEvent: opts.onEvent,
    label: `${kind} `,
    prepare: (dir) => {
      if (part) peer = owned.use(new TracePeer(join(dir, PEER_SOCKET), part));
      if (opts.record) stream = owned.use(new RecordStream(join(dir, REC_SOCKET), opts.record));
    },
    chooseRegs: traceRegisters(trace),
  });
  if (opts.record) opts.record.onDiff = () => pair.notify();
  const { outcome, state } = await superviseSolo(pair, "b", {
    signal: opts.signal,
    timeoutSeconds: opts.timeoutSeconds,
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
const found: Outcome = { status: "match", stoppedBy: null, message: "found" };

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
  const left = (): SessionOptions =>
    opts.timeoutSeconds === undefined
      ? opts
      : { ...opts, timeoutSeconds: Math.max(0.001, opts.timeoutSeconds - elapsed()) };
  const part = feedPart(plan, trace);
  const limitHash = part.kind === "feed" && part.end.type === PeerMsgType.LIMIT
    ? `0x${part.end.hash.toString(16).padStart(16, "0")}`
    : undefined;
  const fast = await runLive(
    plan,
    trace,
    "fast",
    (dir) => fastArgv(plan, plan.b, dir, plugin.path, plugin.shim),
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
    why = `the fast pass's checkpoints disagree after instruction ${o.apart.good}`;
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
    const said = outcome.blame && lastWords(live.stderrTail);
    const wall = elapsed();
    return await withDisassembly({
      ...base,
      status: outcome.status,
      stoppedBy: outcome.stoppedBy,
      message: said ? `${outcome.message}: ${said}` : outcome.message,
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
  const named = await nameDifference(plan, trace, plugin, fast, o.apart, left(), event);
  return await verdictOf(named.outcome, fast.side, named.divergence, {
    ...fastPass,
    result: "apart",
    why,
  });
}

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
async function nameDifference(
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
  const comparer = new TraceComparer(trace, from);
  event(
    `recording the live side from instruction 0 to ${stopAt ?? "its end"}, compared from ${from}`,
  );
  const live = await runLive(
    recPlan,
    trace,
    "record",
    (dir) => recordArgv(recPlan, plan.b, dir, plugin.path, rec, plugin.shim),
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
    (dir) => lockstepArgv(plan, plan.b, dir, plugin.path, plugin.shim, true),
    { kind: "stop", good, bad: pos },
    { ...opts, done: (s) => (s.dump?.done ? found : undefined) },
  );
  if (!run.state.dump?.done) return undefined;
  const flat = flattenDump(sideDump(run.state));
  const at = (p: number): NamedInsn | null => {
    const f = flat.at(p);
    return f ? { pc: f.pc, bytes: f.bytes, blockPc: f.blockPc, symbol: null } : null;
  };
  return {
    at,
    history: (p) => flat.history(p, plan.history).map((b) => ({ ...b, symbol: null })),
  };
}

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
  const a: NamedInsn | null = traceEnded || tracePc === undefined ? null : {
    pc: tracePc,
    bytes: sameImage && liveAt?.pc === tracePc ? liveAt.bytes : "",
    blockPc: tracePc,
    symbol: null,
  };
  const b = liveAt;
  const where = (x: NamedInsn | null) => (x ? `0x${x.pc.toString(16)}` : "its end");
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
  const a = b && { ...b, bytes: sameImage ? b.bytes : "" };
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
          a ? `0x${a.pc.toString(16)}` : "?"
        }, side b at ${b ? `0x${b.pc.toString(16)}` : "?"}`,
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
    (dir) => narrowArgv(plan, plan.b, dir, plugin.path, from, to, plugin.shim, true),
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

/**
 * Recording a golden trace: side A of a plan runs alone, its plugin in
 * record mode. The harness is its peer (echoing the fast pass's
 * checkpoints, which it keeps) and reads its record stream (chunks of
 * jumps and detail records), which the trace writer compresses into the
 * file as it comes. The trace is in its place only when the run ended as
 * it should (the guest's end, or --max-insns) and everything was written.
 */
import { decisionCount } from "../trace/decisions.ts";
import { createHash } from "node:crypto";
import { buildPlugin } from "../qemu/plugin_build.ts";
import { sideArgv } from "../plan/command_line.ts";
import type { RunPlan } from "../plan/plan.ts";
import type { SessionOptions } from "../run/session.ts";
import { PEER_SOCKET, REC_SOCKET, type RecordParams } from "../plan/plugin_args.ts";
import { chooseRegisters } from "../plan/registers.ts";
import { RecordStream } from "./record_stream.ts";
import { SidePair } from "../run/side_pair.ts";
import { superviseOne } from "../run/supervise_one.ts";
import { PeerMsgType, TracePeer } from "./trace_peer.ts";
import { TRACE_VERSION, type TraceHeader, type TraceSummary } from "../trace/format.ts";
import { TraceWriter } from "../trace/writer.ts";
import { fromOsError } from "../core/errors.ts";
import { DEFAULTS } from "../core/defaults.ts";
import { basename, join } from "../../deps/path.ts";
import denoJson from "../../deno.json" with { type: "json" };

/** How to record. */
export interface RecordOptions extends Omit<SessionOptions, "onProgress"> {
  /** Where the trace goes. */
  readonly out: string;
  /** Instructions between checkpoints (DEFAULTS.fastInterval), per chunk, between register snapshots. */
  readonly interval?: number | undefined;
  readonly chunk?: number | undefined;
  readonly detail?: number | undefined;
  /** Called with the instructions recorded so far. */
  readonly onProgress?: ((insns: number) => void) | undefined;
}

/** What a recording came to. */
export interface RecordResult {
  /** recorded: the trace is at `path`; otherwise nothing was written (see message). */
  readonly status: "recorded" | "error" | "inconclusive";
  readonly message: string;
  readonly path: string;
  /** Its size in bytes (0 unless recorded). */
  readonly bytes: number;
  readonly header: TraceHeader | null;
  readonly summary: TraceSummary | null;
  readonly chunks: number;
  readonly checkpoints: number;
  /** The guest threads' order the trace keeps: decisions (0 with one thread). */
  readonly decisions: number;
  readonly seconds: number;
  /** The last lines QEMU wrote to stderr. */
  readonly stderrTail: string;
  /** What `--compare` asked for that the trace does not hold, with the reason. */
  readonly notRecorded: readonly { what: string; why: string }[];
}

/** The sha256 of a file, read as a stream (an image may be large). */
export async function fileSha256(path: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash("sha256");
  let bytes = 0;
  try {
    const file = await Deno.open(path, { read: true });
    for await (const part of file.readable) {
      h.update(part);
      bytes += part.length;
    }
  } catch (e) {
    throw fromOsError(`Cannot read the image ${path}`, e);
  }
  return { sha256: h.digest("hex"), bytes };
}

/** The sha256 of text, hex. */
export function textSha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The record parameters, defaults filled in. */
export function recordParams(opts: {
  interval?: number | undefined;
  chunk?: number | undefined;
  detail?: number | undefined;
}): RecordParams {
  return {
    interval: opts.interval ?? DEFAULTS.fastInterval,
    chunk: opts.chunk ?? DEFAULTS.traceChunk,
    detail: opts.detail ?? DEFAULTS.traceDetail,
  };
}

/** Records side A of `plan` into a trace at opts.out. */
export async function recordTrace(plan: RunPlan, opts: RecordOptions): Promise<RecordResult> {
  const started = performance.now();
  const rec = recordParams(opts);
  const side = plan.a;
  const plugin = await buildPlugin({
    source: "lockstep",
    api: side.qemu.pluginApi,
    qemuPath: side.qemu.path,
    header: plan.pluginHeader,
    cacheDir: opts.cacheDir,
  });
  // linux-user: the environment shim, as the sides of a pair preload it.
  const shim = plan.mode === "user"
    ? (await buildPlugin({
      source: "env_shim",
      api: 0,
      qemuPath: side.qemu.path,
      cacheDir: opts.cacheDir,
    })).path
    : undefined;
  const image = await fileSha256(side.image);
  await using writer = await TraceWriter.create(opts.out, opts.signal);
  await using owned = new AsyncDisposableStack();
  let peer: TracePeer | undefined;
  let stream: RecordStream | undefined;
  let header: TraceHeader | undefined;
  const makeHeader = (argv: readonly string[], registers: readonly string[]): TraceHeader => ({
    format: TRACE_VERSION,
    tool: `qemu-lockstep ${denoJson.version}`,
    created: new Date().toISOString(),
    host: { hostname: Deno.hostname(), os: Deno.build.os, arch: Deno.build.arch },
    qemu: { path: side.qemu.path, version: side.qemu.version, pluginApi: side.qemu.pluginApi },
    arch: plan.preset.name,
    mode: plan.mode,
    image: { name: basename(side.image), ...image },
    options: {
      bios: side.tail.includes("-bios"),
      extra: plan.extra.a,
      guestArgs: plan.guestArgs,
      guestName: plan.guestName,
      maxInsns: plan.maxInsns ?? null,
      maskRegs: plan.maskRegs,
    },
    argv,
    compared: plan.compare.filter((c) => c !== "mem" && (c !== "regs" || registers.length > 0)),
    outputs: plan.compare.includes("syscalls") && side.qemu.pluginApi >= 4,
    registers,
    interval: rec.interval,
    chunk: rec.chunk,
    detail: registers.length > 0 ? rec.detail : 0,
  });
  await using pair = await SidePair.open({
    plan,
    roles: ["a"],
    args: (s, dir) =>
      sideArgv({
        plan,
        side: s,
        runDir: dir,
        plugin: { path: plugin.path, shim },
        pass: { kind: "record", rec },
      }),
    keepTemp: opts.keepTemp,
    onEvent: opts.onEvent,
    label: "record ",
    cacheDir: opts.cacheDir,
    prepare: (dir) => {
      peer = owned.use(new TracePeer(join(dir, PEER_SOCKET), { kind: "echo" }));
      stream = owned.use(
        new RecordStream(join(dir, REC_SOCKET), {
          chunk: async (index, p0, t0) => {
            header ??= makeHeader(pair.sides.a.argv, pair.regChoice?.names ?? []);
            await writer.header(header);
            await writer.beginChunk(index, p0, t0);
          },
          jumps: (count, bytes) => writer.jumps(count, bytes),
          detail: (bytes) => writer.detail(bytes),
        }),
      );
    },
    // The registers a snapshot reads: all the QEMU describes, less the
    // program counter, system registers and --mask-reg.
    chooseRegs: (listed) => chooseRegisters(listed.a!, listed.a!, plan.maskRegs),
  });
  const { outcome, state } = await superviseOne(pair, "a", {
    signal: opts.signal,
    timeoutSeconds: opts.timeoutSeconds,
    since: opts.since,
    startSeconds: opts.startSeconds,
    onProgress: opts.onProgress,
    onEvent: opts.onEvent,
  });
  const statuses = await pair.stop();
  await stream!.finished();
  const child = pair.sides.a.child;
  const stderrTail = (await child.stderr()).split("\n").slice(-21).join("\n").trimEnd();
  const seconds = (performance.now() - started) / 1000;
  const notRecorded = [
    ...plan.notCompared,
    ...(plan.compare.includes("mem")
      ? [{
        what: "mem",
        why: "a trace holds no memory accesses (compare two live QEMUs with --no-fast for them)",
      }]
      : []),
    ...(plan.compare.includes("regs") && (pair.regChoice?.names.length ?? 0) === 0
      ? [{ what: "regs", why: "no register could be read on this QEMU" }]
      : []),
  ];
  const failed = (status: "error" | "inconclusive", message: string): RecordResult => ({
    status,
    message,
    path: opts.out,
    bytes: 0,
    header: null,
    summary: null,
    chunks: 0,
    checkpoints: 0,
    decisions: 0,
    seconds,
    stderrTail,
    notRecorded,
  });
  if (outcome.status !== "match") {
    return failed(outcome.status === "diverged" ? "error" : outcome.status, outcome.message);
  }
  const trouble = stream!.error ?? peer!.error;
  if (trouble) return failed("error", `The record stream broke: ${trouble.message}`);
  const end = peer!.end;
  if (!end) return failed("inconclusive", "The recording ended without its end");
  const output = await child.stdout();
  const bytes = new TextEncoder().encode(output).length;
  const summary: TraceSummary = {
    end: {
      kind: end.type === PeerMsgType.LIMIT ? "limit" : "end",
      insns: end.pos,
      hash: `0x${end.hash.toString(16).padStart(16, "0")}`,
      tail: state.end?.tail ?? 0,
    },
    blocks: state.blocks,
    jumps: writer.totalJumps,
    exit: end.type === PeerMsgType.LIMIT
      ? { code: null, signal: null }
      : { code: statuses.a.code, signal: statuses.a.signal },
    output: { text: output, bytes, sha256: textSha256(output), truncated: bytes >= 1 << 20 },
    seconds: Math.round(seconds * 1000) / 1000,
    peakRssKb: state.rss,
  };
  header ??= makeHeader(pair.sides.a.argv, pair.regChoice?.names ?? []);
  const chunks = writer.chunks;
  // It decided the guest threads' order alone: the trace keeps it.
  const decisions = pair.sides.a.schedule?.bytes ?? new Uint8Array(0);
  const size = await writer.finish(header, peer!.checkpoints, decisions, summary);
  return {
    status: "recorded",
    message: `Recorded ${end.pos} instructions (${
      end.type === PeerMsgType.LIMIT ? "--max-insns" : "the guest's end"
    }) in ${chunks} chunks, ${peer!.checkpoints.length} checkpoints`,
    path: opts.out,
    bytes: size,
    header,
    summary,
    chunks,
    checkpoints: peer!.checkpoints.length,
    decisions: decisionCount(decisions),
    seconds,
    stderrTail,
    notRecorded,
  };
}

/**
 * The session: one lockstep run. It owns the private directory, the control
 * socket and both QEMUs; it supervises them until the streams part, both
 * guests end, a limit or timeout is reached, or one side dies; then it stops
 * everything, removes the directory and returns a Verdict.
 */
import { type ChildStatus, OwnedChild } from "./child.ts";
import {
  addressesBetween,
  compareDumps,
  type DumpBlock,
  type DumpEvent,
  dumpStart,
  EV_REGS,
  lastSnapshotBefore,
  type SideDump,
} from "./compare.ts";
import { narrow, NARROW_MAX_STEPS, type NarrowOutcome } from "./narrow.ts";
import { chooseRegisters, type RegChoice, type RegInfo } from "./registers.ts";
import { findReconvergence, MAX_TRANSIENTS } from "./transient.ts";
import { ControlServer, type PluginMessage } from "./control.ts";
import { buildPlugin, type BuiltPlugin } from "./plugin_build.ts";
import { placeGuests, type RunPlan, sideArgv, type SidePlan } from "./plan.ts";
import {
  type Divergence,
  eventView,
  type Excursion,
  type NamedBlock,
  type SideResult,
  type Status,
  type StoppedBy,
  type Verdict,
} from "./verdict.ts";
import { loadSymbols, type Symbolizer } from "./symbols.ts";
import type { BlockView } from "./compare.ts";
import { makeRunDir, Waker } from "./supervise.ts";
import { join } from "./_path.ts";

/** Live progress of a run. */
export interface Progress {
  /** Instructions both sides have retired. */
  readonly insns: number;
  readonly elapsedSeconds: number;
  readonly insnsPerSecond: number;
}

/** How to run a plan. */
export interface SessionOptions {
  /** Aborting stops both QEMUs and ends the run as "interrupted". */
  readonly signal?: AbortSignal | undefined;
  /** Wall-clock limit for the whole run. */
  readonly timeoutSeconds?: number | undefined;
  /** Keep the private directory (logs, sockets) instead of removing it. */
  readonly keepTemp?: boolean | undefined;
  /** Plugin cache directory. */
  readonly cacheDir?: string | undefined;
  /** Seconds each QEMU has to load the plugin. */
  readonly startSeconds?: number | undefined;
  /** Called with progress as the plugins report it. */
  readonly onProgress?: ((p: Progress) => void) | undefined;
  /** Called with a line of what the session is doing (for --verbose). */
  readonly onEvent?: ((line: string) => void) | undefined;
}

interface SideState {
  readonly plan: SidePlan;
  conn?: number;
  /**
   * Where this side's comparison restarted after the last transient
   * excursion, in its own instruction count; end, limit and dump positions
   * below are counted from it ("logical").
   */
  origin: number;
  hello?: Extract<PluginMessage, { t: "hello" }>;
  /** The registers its QEMU describes (regs=on). */
  regs?: RegInfo[];
  insns: number;
  blocks: number;
  /** Peak RSS of the QEMU in kB, as its plugin last read it. */
  rss: number;
  /** The guest's end: its length, hash, and how many of its last instructions may not have run. */
  end?: { insns: number; hash: string; tail: number };
  limit?: { at: number; atHash: string };
  dump?: {
    good: number;
    bad: number;
    /** This side's own count when it dumped. */
    insns: number;
    origin: number;
    /** False when its rings no longer reached back to where the streams last agreed. */
    complete: boolean;
    blocks: DumpBlock[];
    events: DumpEvent[];
    done: boolean;
  };
  error?: string;
  /** Set when the QEMU has exited and everything its plugin sent was read. */
  exit?: ChildStatus;
  /** The exit status as soon as it is known (its last reports may be in flight). */
  exitStatus?: ChildStatus;
  closed: boolean;
}

interface Outcome {
  /** Instructions known to agree, when the side counts do not say it. */
  readonly insns?: number;
  readonly status: Status;
  readonly stoppedBy: StoppedBy | null;
  readonly message: string;
  readonly divergence?: Divergence;
}

/** Builds the plugin for each side (once per API version). */
async function buildFor(
  plan: RunPlan,
  cacheDir: string | undefined,
): Promise<[BuiltPlugin, BuiltPlugin]> {
  const build = (side: SidePlan) =>
    buildPlugin({
      source: "lockstep",
      api: side.qemu.pluginApi,
      qemuPath: side.qemu.path,
      header: plan.pluginHeader,
      cacheDir,
    });
  const a = await build(plan.a);
  const sameBuild = plan.a.qemu.pluginApi === plan.b.qemu.pluginApi &&
    plan.a.qemu.path === plan.b.qemu.path;
  const b = sameBuild ? a : await build(plan.b);
  return [a, b];
}

/** Runs both sides of `plan` in lockstep and returns the verdict. */
export async function runLockstep(plan: RunPlan, opts: SessionOptions = {}): Promise<Verdict> {
  const event = opts.onEvent ?? (() => {});
  const [pluginA, pluginB] = await buildFor(plan, opts.cacheDir);
  for (const p of new Set([pluginA, pluginB])) {
    event(
      `plugin ${
        p.built ? "built" : "cached"
      }: ${p.path} (header: ${p.header.origin}, ${p.header.file})`,
    );
  }

  const started = performance.now();
  const dir = await makeRunDir();
  const children: OwnedChild[] = [];
  let ctl: ControlServer | undefined;
  try {
    ctl = new ControlServer(join(dir, "ctl.sock"));
    const state: Record<"a" | "b", SideState> = {
      a: { plan: plan.a, origin: 0, insns: 0, blocks: 0, rss: 0, closed: false },
      b: { plan: plan.b, origin: 0, insns: 0, blocks: 0, rss: 0, closed: false },
    };
    const argv = {
      a: [plan.a.command, ...sideArgv(plan, plan.a, dir, pluginA.path)],
      b: [plan.b.command, ...sideArgv(plan, plan.b, dir, pluginB.path)],
    };
    if (plan.mode === "user") {
      await placeGuests(dir, plan, [plan.a, plan.b]);
    }

    // External events (a child exits, a timer fires, an abort) wake the loop.
    const waker = new Waker();
    const notify = waker.notify;
    let timedOut = false;
    let startTimedOut = false;
    let aborted = opts.signal?.aborted ?? false;
    const onAbort = () => {
      aborted = true;
      notify();
    };
    opts.signal?.addEventListener("abort", onAbort);
    const timers = [
      opts.timeoutSeconds
        ? setTimeout(() => {
          timedOut = true;
          notify();
        }, opts.timeoutSeconds * 1000)
        : undefined,
      setTimeout(() => {
        startTimedOut = true;
        notify();
      }, (opts.startSeconds ?? 60) * 1000),
    ];

    for (const role of ["a", "b"] as const) {
      event(`side ${role}: ${argv[role].map(shellQuote).join(" ")}`);
      const [cmd, ...args] = argv[role];
      const child = new OwnedChild(cmd!, args, { cwd: plan.cwd, env: plan.env, clearEnv: true });
      children.push(child);
      child.status.then((s) => {
        state[role].exitStatus = s;
        settleExit(state[role]);
        event(`side ${role}: exited (${s.signal ?? `code ${s.code}`})`);
        notify();
      });
    }

    const roleOf = new Map<number, "a" | "b">();
    let outcome: Outcome | undefined;
    let regChoice: RegChoice | undefined;
    const transients: Excursion[] = [];
    let settled: Outcome | undefined;
    try {
      while (
        !(outcome = settled ?? decide(state, { timedOut, aborted, startTimedOut, opts, plan }))
      ) {
        const next = await ctl.next(waker.next());
        if (!next) continue;
        const [id, msg] = next;
        if (msg.t === "hello") {
          roleOf.set(id, msg.role);
          state[msg.role].conn = id;
          state[msg.role].hello = msg;
          event(`side ${msg.role}: plugin loaded (${msg.target}, API ${msg.api}, pid ${msg.pid})`);
          continue;
        }
        const role = roleOf.get(id);
        if (!role) continue;
        const s = state[role];
        if (msg.t === "regs") {
          // Each plugin waits for the answer before its guest starts.
          s.regs = msg.regs;
          if (state.a.regs && state.b.regs) {
            regChoice = chooseRegisters(state.a.regs, state.b.regs, plan.maskRegs);
            await ctl.send(state.a.conn!, `regs ${regChoice.a.join(" ")}`);
            await ctl.send(state.b.conn!, `regs ${regChoice.b.join(" ")}`);
            event(`registers compared: ${regChoice.names.join(" ") || "none"}`);
          }
          continue;
        }
        handle(s, msg);
        settleExit(s);
        if (state.a.dump?.done && state.b.dump?.done) {
          const r = compareOutcome(state.a, state.b, plan.history);
          const meet = r.divergence?.kind === "pc" && plan.transientWindow > 0 &&
              transients.length < MAX_TRANSIENTS
            ? findReconvergence(
              sideDump(state.a),
              sideDump(state.b),
              r.divergence.insn,
              plan.transientWindow,
            )
            : undefined;
          if (!meet) {
            settled = r;
            continue;
          }
          // A transient excursion: resume the comparison where the streams meet again.
          const x = excursion(r.divergence!, meet, state);
          transients.push(x);
          event(
            `transient excursion at instruction ${x.insn} (side b ${x.insnB}): side a ran ${x.lengthA}, ` +
              `side b ${x.lengthB} instructions before the streams met again`,
          );
          const oa = state.a.origin + meet.a;
          const ob = state.b.origin + meet.b;
          const left = plan.maxInsns !== undefined ? plan.maxInsns - state.a.origin : Infinity;
          if (Math.max(meet.a, meet.b) >= left) {
            // The excursion runs past --max-insns: nothing is left to compare.
            settled = {
              insns: plan.maxInsns!,
              status: "match",
              stoppedBy: "max-insns",
              message: `No divergence in the first ${plan.maxInsns} instructions ` +
                `(a transient excursion was under way at the limit)`,
            };
            continue;
          }
          const ahead = Math.max(state.a.dump.insns - oa, state.b.dump.insns - ob);
          const regsNext = (Math.floor(ahead / plan.regsEvery) + 1) * plan.regsEvery;
          const limits = plan.maxInsns ? [plan.maxInsns, plan.maxInsns - oa + ob] : [0, 0];
          for (const [i, s] of [state.a, state.b].entries()) {
            s.origin = i === 0 ? oa : ob;
            delete s.dump;
            delete s.end;
            delete s.limit;
            await ctl.send(
              s.conn!,
              `resync ${transients.length} ${s.origin} ${limits[i]} ${regsNext}`,
            );
          }
          continue;
        }
        if (msg.t === "progress" && opts.onProgress) {
          const insns = Math.min(state.a.insns, state.b.insns);
          const elapsed = (performance.now() - started) / 1000;
          opts.onProgress({ insns, elapsedSeconds: elapsed, insnsPerSecond: insns / elapsed });
        }
        if (msg.t !== "progress" && msg.t !== "blk" && msg.t !== "ev") {
          event(`side ${role}: ${msg.t}`);
        }
      }
    } finally {
      timers.forEach((t) => clearTimeout(t));
      opts.signal?.removeEventListener("abort", onAbort);
    }

    // Stop both: "quit" lets a parked plugin end its QEMU at once; SIGTERM and
    // SIGKILL follow for anything that does not.
    for (const s of [state.a, state.b]) {
      if (s.conn !== undefined) await ctl.send(s.conn, "quit");
    }
    const statuses = await Promise.all(children.map((c) => c.stop(1500)));
    const wall = (performance.now() - started) / 1000;
    const side = async (role: "a" | "b", i: number): Promise<SideResult> => {
      const s = state[role];
      const c = children[i]!;
      return {
        qemu: s.plan.qemu.path,
        version: s.plan.qemu.version,
        pluginApi: s.plan.qemu.pluginApi,
        image: s.plan.image,
        mode: plan.mode,
        argv: argv[role],
        exitCode: statuses[i]!.code,
        signal: statuses[i]!.signal,
        insns: s.insns,
        blocks: s.blocks,
        peakRssKb: s.rss,
        output: await c.stdout(),
        stderrTail: tailLines(await c.stderr(), 20),
      };
    };
    const registers = regChoice?.names ?? [];
    const compared = plan.compare.filter((c) => c !== "regs" || registers.length > 0);
    const notCompared = [
      ...plan.notCompared,
      ...(plan.compare.includes("regs") && registers.length === 0
        ? [{
          what: "regs",
          why: regChoice
            ? `QEMU describes no registers of ${plan.preset.name} to plugins`
            : "the run ended before the plugins listed their registers",
        }]
        : []),
    ];
    let divergence = outcome.divergence;
    if (divergence) {
      divergence = ownCounts(
        await narrowDivergence(divergence, {
          plan,
          state,
          registers,
          plugins: { a: pluginA.path, b: pluginB.path },
          wall: (performance.now() - started) / 1000,
          opts,
        }),
        state,
      );
    }
    const insns = divergence?.insn ?? outcome.insns ??
      (outcome.status === "match" ? state.a.insns : Math.min(state.a.insns, state.b.insns));
    return {
      version: 1,
      status: outcome.status,
      stoppedBy: outcome.stoppedBy,
      message: outcome.message,
      compared,
      notCompared,
      registers,
      registersSkipped: regChoice?.skipped ?? [],
      warnings: plan.warnings,
      insns,
      blocks: Math.min(state.a.blocks, state.b.blocks),
      wallSeconds: Math.round(wall * 1000) / 1000,
      insnsPerSecond: wall > 0 ? Math.round(insns / wall) : 0,
      sides: { a: await side("a", 0), b: await side("b", 1) },
      divergence: divergence ? await nameDivergence(divergence, plan) : null,
      transients: await nameExcursions(transients, plan),
      tempDir: opts.keepTemp ? dir : null,
    };
  } finally {
    await Promise.all(children.map((c) => c.stop(500)));
    await ctl?.[Symbol.asyncDispose]();
    if (!opts.keepTemp) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * A side counts as exited once its QEMU is gone and its control connection
 * has been read to the end: a plugin's last reports can still be in the
 * socket when the process exit is seen.
 */
function settleExit(s: SideState): void {
  if (s.exitStatus && (s.conn === undefined || s.closed)) s.exit = s.exitStatus;
}

function handle(s: SideState, msg: PluginMessage | { t: "closed" }): void {
  switch (msg.t) {
    case "progress":
      s.insns = msg.insns;
      s.blocks = msg.blocks;
      s.rss = msg.rss;
      break;
    case "end":
      s.insns = msg.insns;
      s.blocks = msg.blocks;
      s.rss = msg.rss;
      s.end = { insns: msg.insns - s.origin, hash: msg.hash, tail: msg.tail };
      break;
    case "limit":
      s.insns = msg.at;
      s.blocks = msg.blocks;
      s.rss = msg.rss;
      s.limit = { at: msg.at, atHash: msg.atHash };
      break;
    case "peer-lost":
      // The lost peer's own exit status decides the outcome (see decide()).
      break;
    case "diverged":
      s.dump = {
        good: msg.good - msg.origin,
        bad: msg.bad - msg.origin,
        insns: msg.insns,
        origin: msg.origin,
        complete: msg.complete,
        blocks: [],
        events: [],
        done: false,
      };
      break;
    case "blk":
      if (s.dump) s.dump.blocks.push({ ...msg.block, i: msg.block.i - s.dump.origin });
      break;
    case "ev":
      if (s.dump) s.dump.events.push({ ...msg.event, pos: msg.event.pos - s.dump.origin });
      break;
    case "dumped":
      if (s.dump) s.dump.done = true;
      break;
    case "error":
      s.error = msg.msg;
      break;
    case "closed":
      s.closed = true;
      break;
  }
}

interface DecideContext {
  readonly timedOut: boolean;
  readonly aborted: boolean;
  readonly startTimedOut: boolean;
  readonly opts: SessionOptions;
  readonly plan: RunPlan;
}

/** Looks at what is known and says whether the run is over, and how. */
function decide(st: Record<"a" | "b", SideState>, cx: DecideContext): Outcome | undefined {
  const { a, b } = st;
  for (const s of [a, b]) {
    if (s.error) {
      return { status: "error", stoppedBy: null, message: `Side ${s.plan.role}: ${s.error}` };
    }
  }
  if (cx.aborted) {
    return {
      status: "inconclusive",
      stoppedBy: "interrupted",
      message: "Interrupted before a verdict",
    };
  }
  if (cx.timedOut) {
    return {
      status: "inconclusive",
      stoppedBy: "timeout",
      message:
        `No verdict within ${cx.opts.timeoutSeconds} s (raise --timeout, or use --max-insns)`,
    };
  }
  if (a.limit && b.limit && a.limit.atHash === b.limit.atHash) {
    return {
      status: "match",
      stoppedBy: "max-insns",
      message: `No divergence in the first ${a.limit.at} instructions`,
    };
  }
  for (const [s, other] of [[a, b], [b, a]] as const) {
    if (s.exit && !s.hello) {
      return {
        status: "error",
        stoppedBy: null,
        message: `QEMU for side ${s.plan.role} exited (${
          describeExit(s.exit)
        }) before the plugin started`,
      };
    }
    // Ended by itself without a word from the plugin: it crashed or was killed.
    if (s.exit && !s.end && !s.dump && !s.limit) {
      return {
        status: "inconclusive",
        stoppedBy: "crash",
        message: `QEMU for side ${s.plan.role} died (${
          describeExit(s.exit)
        }) at about instruction ${s.insns}`,
      };
    }
    if (s.exit && s.dump && !other.dump && other.exit) {
      return {
        status: "inconclusive",
        stoppedBy: "peer-lost",
        message:
          `Side ${s.plan.role} reported a divergence but side ${other.plan.role} ended without its part`,
      };
    }
  }
  if (a.exit && b.exit) {
    if (a.end && b.end && a.end.insns === b.end.insns && a.end.hash === b.end.hash) {
      return {
        status: "match",
        stoppedBy: "guest-exit",
        message: `Both guests ran to their end: ${
          a.end.insns + a.origin
        } instructions, no divergence`,
      };
    }
    return {
      status: "inconclusive",
      stoppedBy: "peer-lost",
      message: "Both QEMUs exited without a verdict from the plugins",
    };
  }
  if (cx.startTimedOut && (!a.hello || !b.hello)) {
    const late = !a.hello ? a : b;
    return {
      status: "error",
      stoppedBy: null,
      message: `QEMU for side ${late.plan.role} did not load the plugin within ${
        cx.opts.startSeconds ?? 60
      } s`,
    };
  }
  return undefined;
}

/** A side's dump, in logical positions. */
function sideDump(s: SideState): SideDump {
  return {
    good: s.dump!.good,
    bad: s.dump!.bad,
    blocks: s.dump!.blocks,
    events: s.dump!.events,
    ended: s.end !== undefined,
  };
}

/** A transient excursion, in each side's own instruction count. */
function excursion(
  d: Divergence,
  meet: { a: number; b: number },
  state: Record<"a" | "b", SideState>,
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

function compareOutcome(a: SideState, b: SideState, history: number): Outcome {
  for (const s of [a, b]) {
    if (!s.dump!.complete) {
      return {
        status: "inconclusive",
        stoppedBy: "divergence",
        message:
          `The checkpoints disagree, but side ${s.plan.role}'s dump no longer reaches back to ` +
          `where they last agreed (it ran too far ahead): rerun with a smaller --window`,
      };
    }
  }
  const r = compareDumps(sideDump(a), sideDump(b), history);
  const values = a.hello?.memValues === true && b.hello?.memValues === true;
  if (!r.found) {
    return {
      status: "inconclusive",
      stoppedBy: "divergence",
      message: `The checkpoints disagree but the dumped instructions do not: ${r.reason}`,
    };
  }
  // Both guests ended, and the difference lies in a side's final block,
  // which the guest left part-way (its power-off): which of its last
  // instructions ran, and which of their accesses completed, is unknown.
  for (const [short, long] of [[a, b], [b, a]] as const) {
    if (
      short.end && long.end && short.end.insns <= long.end.insns &&
      r.insn >= Math.min(long.end.insns - long.end.tail, short.end.insns - short.end.tail)
    ) {
      const agree = Math.min(r.insn, short.end.insns) + a.origin;
      return {
        insns: agree,
        status: "match",
        stoppedBy: "guest-exit",
        message:
          `Both guests ran to their end (${agree} instructions agree), no divergence; side ${long.plan.role} ` +
          `left its last block part-way, so what its last ${
            long.end.insns - r.insn
          } instruction(s) did is not known`,
      };
    }
  }
  const where = (x: typeof r.a) => x ? `0x${x.pc.toString(16)}` : "its end";
  const ev = r.events;
  const kinds = [ev?.a?.kind, ev?.b?.kind];
  const kind = !ev
    ? "pc"
    : kinds.includes(EV_REGS)
    ? "regs"
    : kinds.some((k) => k !== undefined && k <= 2)
    ? "mem"
    : "syscall";
  const what = {
    pc: "",
    regs: " (the registers differ)",
    mem: " (a memory access differs)",
    syscall: " (a system call differs)",
  }[kind];
  return {
    status: "diverged",
    stoppedBy: "divergence",
    message: `Diverged at instruction ${r.insn + a.origin}${
      a.origin !== b.origin ? ` (side b's ${r.insn + b.origin})` : ""
    }${what}: side a at ${where(r.a)}, side b at ${where(r.b)}`,
    divergence: {
      insn: r.insn,
      kind,
      ...(ev
        ? {
          events: {
            a: ev.a ? eventView(ev.a, values) : null,
            b: ev.b ? eventView(ev.b, values) : null,
          },
        }
        : {}),
      a: r.a ? { ...r.a, symbol: null } : null,
      b: r.b ? { ...r.b, symbol: null } : null,
      history: {
        a: r.history.a.map((v) => ({ ...v, symbol: null })),
        b: r.history.b.map((v) => ({ ...v, symbol: null })),
      },
    },
  };
}

interface NarrowContext {
  readonly plan: RunPlan;
  readonly state: Record<"a" | "b", SideState>;
  readonly registers: readonly string[];
  readonly plugins: { readonly a: string; readonly b: string };
  /** Seconds the first run took. */
  readonly wall: number;
  readonly opts: SessionOptions;
}

/**
 * Narrows a divergence to one instruction (see narrow.ts) when the run
 * compared registers, or says why it did not.
 */
async function narrowDivergence(d: Divergence, cx: NarrowContext): Promise<Divergence> {
  const { plan, state } = cx;
  const skip = (why: string): Divergence => ({ ...d, narrow: { status: "skipped", why } });
  if (!plan.narrow) return skip("--no-narrow");
  for (const s of [plan.a, plan.b]) {
    if (s.qemu.pluginApi < 2) {
      return skip(
        `side ${s.role}'s QEMU has plugin API ${s.qemu.pluginApi}: reading registers needs API 2 (QEMU 9.0 or later)`,
      );
    }
  }
  if (plan.compare.includes("regs") && cx.registers.length === 0) {
    return skip(`QEMU describes no registers of ${plan.preset.name} to plugins`);
  }
  // The re-runs get three times the first run's time (at least a minute),
  // within what --timeout leaves.
  const left = (cx.opts.timeoutSeconds ?? Infinity) - cx.wall;
  if (left < 1) return skip("no time left within --timeout");
  const timeoutSeconds = Math.min(Math.max(60, 3 * cx.wall), left);
  const a = sideDump(state.a);
  const b = sideDump(state.b);
  const to = d.insn;
  const from = Math.max(
    lastSnapshotBefore(a, to) ?? Math.max(dumpStart(a), dumpStart(b), a.good),
    to - NARROW_MAX_STEPS + 1,
    0,
  );
  cx.opts.onEvent?.(`narrowing: re-running both sides, stepping instructions ${from} to ${to}`);
  const out: NarrowOutcome = await narrow({
    plan,
    plugins: cx.plugins,
    from,
    to,
    origins: { a: state.a.origin, b: state.b.origin },
    expect: { a: addressesBetween(a, from, to), b: addressesBetween(b, from, to) },
    timeoutSeconds,
    signal: cx.opts.signal,
    onEvent: cx.opts.onEvent,
  });
  return {
    ...d,
    ...(d.kind === "regs" && out.regsAtTo ? { regs: out.regsAtTo } : {}),
    narrow: out.report,
  };
}

/**
 * A divergence found in logical positions (counted from the last transient
 * excursion), in each side's own instruction count: side A's in `insn`,
 * history and narrowing, side B's in `insnB` and its history.
 */
function ownCounts(d: Divergence, state: Record<"a" | "b", SideState>): Divergence {
  const oa = state.a.origin;
  const ob = state.b.origin;
  const shift = (views: readonly NamedBlock[], by: number) =>
    views.map((v) => ({ ...v, index: v.index + by }));
  const n = d.narrow;
  return {
    ...d,
    insn: d.insn + oa,
    insnB: d.insn + ob,
    history: { a: shift(d.history.a, oa), b: shift(d.history.b, ob) },
    ...(n
      ? {
        narrow: {
          ...n,
          ...(n.from !== undefined ? { from: n.from + oa } : {}),
          ...(n.to !== undefined ? { to: n.to + oa } : {}),
          ...(n.insn !== undefined ? { insn: n.insn + oa } : {}),
        },
      }
      : {}),
  };
}

/** Names each excursion's instructions from the sides' images. */
async function nameExcursions(xs: readonly Excursion[], plan: RunPlan): Promise<Excursion[]> {
  if (xs.length === 0) return [];
  const symA = await loadSymbols(plan.a.image);
  const symB = plan.b.image === plan.a.image ? symA : await loadSymbols(plan.b.image);
  return xs.map((x) => ({
    ...x,
    a: x.a && { ...x.a, symbol: symA.name(x.a.pc) },
    b: x.b && { ...x.b, symbol: symB.name(x.b.pc) },
  }));
}

/** Adds function+offset names from each side's image to a divergence. */
async function nameDivergence(d: Divergence, plan: RunPlan): Promise<Divergence> {
  const symA = await loadSymbols(plan.a.image);
  const symB = plan.b.image === plan.a.image ? symA : await loadSymbols(plan.b.image);
  const blocks = (views: readonly BlockView[], sym: Symbolizer): NamedBlock[] =>
    views.map((v) => ({ ...v, symbol: sym.name(v.pc) }));
  const n = d.narrow;
  return {
    ...d,
    ...(n
      ? {
        narrow: {
          ...n,
          ...(n.a ? { a: { ...n.a, symbol: symA.name(n.a.pc) } } : {}),
          ...(n.b ? { b: { ...n.b, symbol: symB.name(n.b.pc) } } : {}),
        },
      }
      : {}),
    a: d.a && { ...d.a, symbol: symA.name(d.a.pc) },
    b: d.b && { ...d.b, symbol: symB.name(d.b.pc) },
    history: { a: blocks(d.history.a, symA), b: blocks(d.history.b, symB) },
  };
}

function describeExit(s: ChildStatus): string {
  return s.signal ? `signal ${s.signal}` : `exit code ${s.code}`;
}

function tailLines(text: string, n: number): string {
  return text.split("\n").slice(-n - 1).join("\n").trimEnd();
}

/** Quotes an argument for display as a shell command. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

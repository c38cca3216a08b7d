/**
 * Judging a run: from what both sides reported, whether it is over and
 * how (decide), and what their dumps say once both dumped (compareOutcome).
 * Plain functions of the sides' state; the session acts on the answers.
 */
import type { ChildStatus } from "../core/owned_child.ts";
import { addressesBetween, diffDumps, notedDifference, whereRan } from "../verdict/dump_diff.ts";
import {
  counterDifference,
  counterReadBefore,
  describeEnvironment,
  deviceDifference,
  deviceReadBefore,
  environmentDifference,
  notedEnvironment,
  signalDifference,
} from "../verdict/environment.ts";
import { type DumpEvent, EventKind, type Role } from "../core/protocol.ts";
import { syscallArgs, syscallName } from "../core/syscalls.ts";
import { DEFAULTS } from "../core/defaults.ts";
import { sideDump, type SideState } from "./side_state.ts";
import { describeGuestEnd, endsDiffer, guestEnd } from "./guest_end.ts";
import {
  type Divergence,
  eventView,
  type Status,
  type StoppedBy,
  type WorldDifference,
} from "../verdict/verdict.ts";
import { worldDifferenceAt, type WorldRun } from "../verdict/world.ts";

/** How a run ended, before naming and narrowing. */
export interface Outcome {
  /** Instructions known to agree, when the side counts do not say it. */
  readonly insns?: number;
  readonly status: Status;
  readonly stoppedBy: StoppedBy | null;
  readonly message: string;
  readonly divergence?: Divergence;
  /** The side whose QEMU's own words (its stderr) explain an error. */
  readonly blame?: Role;
  /** The fast pass found the streams apart between these positions: the detail pass says where. */
  readonly apart?: { readonly good: number; readonly bad: number };
  /** A match although the dumps differ: only in a block a guest left part-way (its end). */
  readonly partWay?: boolean;
}

/** What the session knows besides the sides' state. */
export interface DecideContext {
  readonly timedOut: boolean;
  readonly aborted: boolean;
  readonly startTimedOut: boolean;
  /** Why the run makes no progress (a stopped QEMU, silence), when it does not. */
  readonly stalled: string | undefined;
  readonly timeoutSeconds: number | undefined;
  readonly startSeconds: number;
  /** The time of the decision (performance.now()). */
  readonly now: number;
}

/** Looks at what is known and says whether the run is over, and how. */
export function decide(st: Record<"a" | "b", SideState>, cx: DecideContext): Outcome | undefined {
  const { a, b } = st;
  const early = beforeTheEnd([a, b], cx);
  if (early) return early;
  if (a.limit && b.limit && a.limit.atHash === b.limit.atHash) {
    return limitReached(a.limit.at);
  }
  for (const [s, other] of [[a, b], [b, a]] as const) {
    const role = s.pair.plan.role;
    if (s.pair.exit && !s.pair.hello) return noPlugin(role, s.pair.exit);
    // An error exit before the guest's first instruction: QEMU refused the
    // image or an argument. Not a verdict on TCG, whatever the other side does.
    if (refused(s)) {
      // The other QEMU may refuse the same guest a moment later: give it
      // that moment, so that both are named, not the first exit seen.
      const waited = cx.now - (s.pair.exitedAt ?? 0);
      if (mayRefuse(other) && waited < DEFAULTS.refusalGraceSeconds * 1000) return undefined;
      return refusedRun(role, refused(other) ? "on both sides" : `for side ${role}`, s.pair.exit!);
    }
    if (s.pair.exit && !s.end && !s.dump && !s.limit) {
      // Its guest asked to execute a program: one of the host's arch ran
      // natively, and the plugin went with the exec. Wait for the other
      // side to end too, to say what both did.
      if (s.pair.lastExec) {
        if (
          !other.pair.exit && cx.now - (s.pair.exitedAt ?? 0) < DEFAULTS.execGraceSeconds * 1000
        ) return undefined;
        return executedAway(s, other);
      }
      // Ended by itself without a word from the plugin: it crashed or was killed.
      return died(role, s.pair.exit, s.insns);
    }
    if (s.pair.exit && s.dump && !other.dump && other.pair.exit) return peerLost(s, other);
  }
  if (a.pair.exit && b.pair.exit) {
    if (a.end?.insns === 0 && b.end?.insns === 0) {
      return {
        status: "error",
        stoppedBy: null,
        message: "Both QEMUs ended before the guest's first instruction: nothing was compared",
        blame: "a",
      };
    }
    if (a.end && b.end && a.end.insns === b.end.insns && a.end.hash === b.end.hash) {
      // Their streams ended at an exec, and the program ran natively.
      if (a.pair.lastExec) return executedAway(a, b);
      if (b.pair.lastExec) return executedAway(b, a);
      return bothEnded(a, b, a.end.insns + a.origin);
    }
    return {
      status: "inconclusive",
      stoppedBy: "peer-lost",
      message: "Both QEMUs exited without a verdict from the plugins",
    };
  }
  if (cx.startTimedOut && (!a.pair.hello || !b.pair.hello)) {
    return lateStart((!a.pair.hello ? a : b).pair.plan.role, cx.startSeconds);
  }
  return undefined;
}

/**
 * The same for one QEMU alone against the harness (a trace, or recording
 * one): over when its plugin ended (its QEMU exited after the harness
 * agreed), reached its limit (`limitHash`: the hash the other side has
 * there, if it is known: a different one waits for "apart"), said the
 * streams are apart, or failed.
 */
export function decideSolo(
  s: SideState,
  cx: DecideContext,
  limitHash?: string,
): Outcome | undefined {
  const role = s.pair.plan.role;
  const early = beforeTheEnd([s], cx);
  if (early) return early;
  if (s.limit && (limitHash === undefined || s.limit.atHash === limitHash)) {
    return limitReached(s.limit.at);
  }
  if (s.pair.exit && !s.pair.hello) return noPlugin(role, s.pair.exit);
  if (refused(s)) return refusedRun(role, `for side ${role}`, s.pair.exit!);
  if (s.pair.exit && !s.end && !s.limit) return died(role, s.pair.exit, s.insns);
  if (s.pair.exit && s.end) {
    if (s.end.insns === 0) {
      return {
        status: "error",
        stoppedBy: null,
        message: "QEMU ended before the guest's first instruction: nothing was compared",
        blame: role,
      };
    }
    const end = guestEnd(s);
    return {
      status: "match",
      stoppedBy: "guest-exit",
      message: end && "signal" in end
        ? `The guest ${describeGuestEnd(end)} after ${s.end.insns} instructions, no divergence`
        : `The guest ran to its end: ${s.end.insns} instructions, no divergence`,
    };
  }
  if (cx.startTimedOut && !s.pair.hello) return lateStart(role, cx.startSeconds);
  return undefined;
}

/**
 * What ends a run before either end counts, the same for a pair and for
 * one side alone, in this order: a side's error, an interrupt, the
 * timeout, a side that saw the streams part (the fast pass: all stop
 * there), a stall.
 */
function beforeTheEnd(sides: readonly SideState[], cx: DecideContext): Outcome | undefined {
  for (const s of sides) {
    if (s.error) {
      return { status: "error", stoppedBy: null, message: `Side ${s.pair.plan.role}: ${s.error}` };
    }
  }
  for (const s of sides) {
    if (s.pair.unfollowed) {
      return {
        status: "inconclusive",
        stoppedBy: "stalled",
        message: `Side ${s.pair.plan.role}'s guest threads could not be kept in step: ` +
          `${s.pair.unfollowed} (docs/limits.md)`,
      };
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
      message: `No verdict within ${cx.timeoutSeconds} s (raise --timeout, or use --max-insns)`,
    };
  }
  for (const s of sides) {
    if (s.apart) return streamsApart(s.apart);
  }
  if (cx.stalled) return { status: "inconclusive", stoppedBy: "stalled", message: cx.stalled };
  return undefined;
}

/** The fast pass saw the streams part (the detail pass names where). */
export function streamsApart(apart: NonNullable<SideState["apart"]>): Outcome {
  return {
    status: "diverged",
    stoppedBy: "divergence",
    message: `The streams part between instructions ${apart.good} and ${apart.bad}`,
    apart,
  };
}

/** Side `s` dumped its part of a divergence; `other` ended without its own. */
export function peerLost(s: SideState, other: SideState): Outcome {
  return {
    status: "inconclusive",
    stoppedBy: "peer-lost",
    message: `Side ${s.pair.plan.role} reported a divergence but side ${other.pair.plan.role} ` +
      "ended without its part",
  };
}

function limitReached(at: number): Outcome {
  return {
    status: "match",
    stoppedBy: "max-insns",
    message: `No divergence in the first ${at} instructions`,
  };
}

/** A QEMU that exited before its plugin said hello. */
function noPlugin(role: Role, exit: ChildStatus): Outcome {
  return {
    status: "error",
    stoppedBy: null,
    message: `QEMU for side ${role} exited (${describeExit(exit)}) before the plugin started`,
    blame: role,
  };
}

/** QEMU refused the image or an argument (see refused()); `who`: "for side a", "on both sides". */
function refusedRun(role: Role, who: string, exit: ChildStatus): Outcome {
  return {
    status: "error",
    stoppedBy: null,
    message: `QEMU ${who} refused to run the guest (${describeExit(exit)}, no instruction ran)`,
    blame: role,
  };
}

/**
 * A side whose guest's first process executed a program and whose QEMU
 * then ended without its plugin's end: the program ran natively (one of
 * the host's arch), outside QEMU and any comparison. Nothing after the
 * exec is compared, and the fast pass compared nothing after its last
 * checkpoint: no verdict, but the reason, not a crash.
 */
function executedAway(s: SideState, other: SideState): Outcome {
  const what = (x: SideState) =>
    x.pair.lastExec!.path === null ? "a program (plugin API 4 names it)" : x.pair.lastExec!.path;
  const role = s.pair.plan.role;
  const otherRole = other.pair.plan.role;
  const both = other.pair.exit && other.pair.lastExec;
  const upTo = Math.min(s.insns, other.insns);
  const head = both && what(s) === what(other)
    ? `Both guests' first processes executed ${what(s)}`
    : both
    ? `Side ${role}'s guest executed ${what(s)}, side ${otherRole}'s ${what(other)}`
    : `Side ${role}'s guest executed ${what(s)}`;
  return {
    status: "inconclusive",
    stoppedBy: "guest-exit",
    message: `${head}, which ran natively, outside QEMU and the plugin (a program of the host's ` +
      `arch): what it did is not compared, and ${
        upTo === 0
          ? "no checkpoint came before the exec: nothing was compared"
          : `the streams were compared up to instruction ${upTo} only (the last both reported)`
      }`,
  };
}

/**
 * A QEMU that ended by itself without a word from its plugin: it crashed or
 * was killed (a guest's fatal signal comes after its plugin's end). Where
 * it was is known from the plugin's last report only.
 */
function died(role: Role, exit: ChildStatus, insns: number): Outcome {
  return {
    status: "inconclusive",
    stoppedBy: "crash",
    message: `QEMU for side ${role} died (${
      describeExit(exit)
    }), not its guest: it crashed or was killed after instruction ${insns} (its plugin's last report)`,
  };
}

/**
 * Both guests ran the same instructions to their ends (`insns`): a match,
 * unless one was killed by a signal and the other not by the same one.
 */
function bothEnded(a: SideState, b: SideState, insns: number): Outcome {
  const ea = guestEnd(a);
  const eb = guestEnd(b);
  if (ea && eb && endsDiffer(ea, eb)) {
    return {
      insns: insns - 1,
      status: "diverged",
      stoppedBy: "guest-exit",
      message: `The guests' ends differ after the same ${insns} instructions: side a's guest ${
        describeGuestEnd(ea)
      }, side b's ${describeGuestEnd(eb)}`,
    };
  }
  // A fault ends the stream exactly (plugin-src/death.c) but in the fast
  // pass, which claims the block it died in whole.
  const tail = a.end?.tail ?? 0;
  const after = tail > 0 ? `${insns - tail + 1} to ${insns}` : `${insns}`;
  return {
    status: "match",
    stoppedBy: "guest-exit",
    message: ea && "signal" in ea
      ? `Both guests were killed by ${ea.signal} after ${after} instructions, no divergence`
      : `Both guests ran to their end: ${insns} instructions, no divergence`,
  };
}

function lateStart(role: Role, seconds: number): Outcome {
  return {
    status: "error",
    stoppedBy: null,
    message: `QEMU for side ${role} did not load the plugin within ${seconds} s`,
  };
}

/** An error exit before the guest's first instruction. */
function refused(s: SideState): boolean {
  return !!s.pair.exit?.code && s.insns === 0 && !s.dump;
}

/**
 * Still running, and not past the point where QEMU refuses a guest (a
 * refusing QEMU's plugin still reports its end, at instruction 0).
 */
function mayRefuse(s: SideState): boolean {
  return !s.pair.exit && s.insns === 0 && !s.dump && !s.limit && !(s.end && s.end.insns > 0);
}

/**
 * What both sides' dumps say. `countersEqual`: the plugins wrote the same
 * value after every counter read (plan.counters), so a value that differs
 * after one is not the counter's.
 */
export function compareOutcome(
  a: SideState,
  b: SideState,
  history: number,
  countersEqual = false,
  world?: { readonly diff: WorldDifference; readonly run: Omit<WorldRun, "arch"> },
): Outcome {
  for (const s of [a, b]) {
    if (!s.dump!.complete) {
      return {
        status: "inconclusive",
        stoppedBy: "divergence",
        message:
          `The checkpoints disagree, but side ${s.pair.plan.role}'s dump no longer reaches back to ` +
          `where they last agreed (it ran too far ahead): rerun with a smaller --window`,
      };
    }
  }
  const r = diffDumps(sideDump(a), sideDump(b), history);
  const values = a.pair.hello?.memValues === true && b.pair.hello?.memValues === true;
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
  // Not when both ends are certain there: the shorter stream ended (a
  // linux-user guest's fault is exact, plugin-src/death.c) where the
  // longer one certainly went on.
  for (const [short, long] of [[a, b], [b, a]] as const) {
    if (
      short.end && long.end && short.end.insns <= long.end.insns &&
      (r.insn >= long.end.insns - long.end.tail ||
        (short.end.tail > 0 && r.insn >= short.end.insns - short.end.tail))
    ) {
      const agree = Math.min(r.insn, short.end.insns) + a.origin;
      return {
        insns: agree,
        partWay: true,
        status: "match",
        stoppedBy: "guest-exit",
        message:
          `Both guests ran to their end (${agree} instructions agree), no divergence; side ${long.pair.plan.role} ` +
          `left its last block part-way, so what its last ${
            long.end.insns - r.insn
          } instruction(s) did is not known`,
      };
    }
  }
  // linux-user: a "vCPU" is a guest thread (numbered by creation order).
  const user = a.pair.plan.mode === "user";
  const tidOf = (x: typeof r.a, s: SideState) =>
    user && x?.vcpu !== undefined ? s.pair.threads?.get(x.vcpu) : undefined;
  const named = (x: typeof r.a, s: SideState) => {
    const tid = tidOf(x, s);
    return x ? { ...x, ...(tid === undefined ? {} : { tid }), symbol: null } : null;
  };
  const whereOn = (x: typeof r.a, s: SideState) =>
    whereRan(x, user ? "thread" : "vCPU", tidOf(x, s));
  // Several vCPUs as one stream: another vCPU runs there on one side.
  const interleaving = r.a?.vcpu !== undefined && r.b?.vcpu !== undefined && r.a.vcpu !== r.b.vcpu;
  const ev = r.events;
  const arch = a.pair.hello?.target ?? b.pair.hello?.target ?? "";
  const counter = ev && !countersEqual
    ? counterReadBefore(sideDump(a).blocks, r.insn, arch)
    : undefined;
  // The two QEMUs' worlds (auxiliary vector, CPU) differ where the guest
  // read them: any kind of difference may follow from that.
  // A device's answer excuses a difference only when both QEMUs were given
  // the same machine: a changed command line reaches the guest through one.
  const sameMachine = [...a.pair.plan.head, ...a.pair.plan.tail].join("\0") ===
    [...b.pair.plan.head, ...b.pair.plan.tail].join("\0");
  const device = ev && sameMachine ? deviceReadBefore(sideDump(a).blocks, r.insn, arch) : undefined;
  const env = (ev &&
    (environmentDifference(ev.a, ev.b, arch) ??
      (counter && counterDifference(ev.a, ev.b, counter)) ??
      (device && deviceDifference(ev.a, ev.b, device)))) ||
    (world &&
      worldDifferenceAt(world.diff, sideDump(a), sideDump(b), r.insn, { ...world.run, arch })) ||
    // What a call the comparison does not see returned before the streams part.
    (() => {
      const n = notedDifference(sideDump(a), sideDump(b), r.insn);
      return n && notedEnvironment(n.a, n.b, arch);
    })() ||
    // A signal handler that ran here on one side: the signal came at a moment.
    signalDifference([a.pair, b.pair], [r.a?.pc ?? null, r.b?.pc ?? null], arch, [
      ...addressesBetween(sideDump(a), r.insn + 1, r.insn + 1),
      ...addressesBetween(sideDump(b), r.insn + 1, r.insn + 1),
    ]);
  const kinds = [ev?.a?.kind, ev?.b?.kind];
  const kind = env
    ? "environment"
    : interleaving
    ? "interleaving"
    : !ev
    ? "pc"
    : kinds.includes(EventKind.REGS)
    ? "regs"
    : kinds.some((k) => k === EventKind.LOAD || k === EventKind.STORE)
    ? "mem"
    : "syscall";
  const what = {
    pc: "",
    regs: " (the registers differ)",
    mem: " (a memory access differs)",
    syscall: ` (a system call differs${allArgs(ev?.a, ev?.b, arch)})`,
    environment: "",
    interleaving: " (the vCPUs take turns at another point)",
  }[kind];
  return {
    // The environment's doing (a system call's answer, the host's counter)
    // is not TCG's: no verdict on it.
    status: env || interleaving ? "inconclusive" : "diverged",
    stoppedBy: "divergence",
    message: env
      ? describeEnvironment(env, r.insn + a.origin)
      : interleaving
      ? `The vCPUs took turns at another point at instruction ${r.insn + a.origin}: side a ran ` +
        `${whereOn(r.a, a)} there, side b ${
          whereOn(r.b, b)
        }, and every instruction before agreed. ` +
        "QEMU's round-robin TCG can move its switch points with host timing (docs/limits.md): " +
        "no verdict on TCG"
      : `Diverged at instruction ${r.insn + a.origin}${
        a.origin !== b.origin ? ` (side b's ${r.insn + b.origin})` : ""
      }${what}: side a at ${whereOn(r.a, a)}, side b at ${whereOn(r.b, b)}`,
    divergence: {
      insn: r.insn,
      kind,
      ...(ev
        ? {
          events: {
            a: ev.a ? eventView(ev.a, values, arch) : null,
            b: ev.b ? eventView(ev.b, values, arch) : null,
          },
        }
        : {}),
      ...(env ? { environment: env } : {}),
      a: named(r.a, a),
      b: named(r.b, b),
      history: {
        a: r.history.a.map((v) => ({ ...v, symbol: null })),
        b: r.history.b.map((v) => ({ ...v, symbol: null })),
      },
    },
  };
}

/**
 * For two calls of one number whose arguments differ on an arch, or a call,
 * without an argument count: the verdict says that all six registers were
 * compared, used or not.
 */
function allArgs(x: DumpEvent | undefined, y: DumpEvent | undefined, arch: string): string {
  if (x?.kind !== EventKind.SYSCALL || y?.kind !== EventKind.SYSCALL || x.a !== y.a) return "";
  if (syscallArgs(arch, Number(x.a)) !== undefined) return "";
  return `: lockstep knows no argument count for ${
    syscallName(arch, Number(x.a)) ?? `system call ${x.a}`
  } on ${arch || "this architecture"}, so all six argument registers are compared, used or not`;
}

function describeExit(s: ChildStatus): string {
  return s.signal ? `signal ${s.signal}` : `exit code ${s.code}`;
}

/**
 * What a supervision loop watches besides the plugins' messages: the
 * run's timeout, the plugins' start-up time, an abort, and a run that
 * makes no progress (a QEMU stopped by a signal, silence from every
 * side). One RunWatch per run, for a pair or for one QEMU alone; it wakes
 * the loop (SidePair.notify) when something changes, and `cx` is what
 * judge.ts decides with.
 */
import type { DecideContext } from "./judge.ts";
import type { Role } from "../core/protocol.ts";
import type { SidePair } from "./side_pair.ts";
import { DEFAULTS } from "../core/defaults.ts";
import { BOUNDS, checkBound } from "../core/bounds.ts";

/** How long a run may take. */
export interface WatchOptions {
  readonly signal?: AbortSignal | undefined;
  /** The run's limit, as the verdict names it. */
  readonly timeoutSeconds?: number | undefined;
  /** When the limit began (performance.now()); default: now. */
  readonly since?: number | undefined;
  readonly startSeconds?: number | undefined;
  /** Seconds in which no side retires an instruction before the run is stalled (DEFAULTS.stallSeconds). */
  readonly stallSeconds?: number | undefined;
}

/** The timers and the stall check of one run; see the module comment. */
export class RunWatch<R extends Role> implements Disposable {
  /** What judge.ts decides with; changes as timers fire. */
  readonly cx: {
    timedOut: boolean;
    aborted: boolean;
    startTimedOut: boolean;
    stalled: string | undefined;
    readonly timeoutSeconds: number | undefined;
    readonly startSeconds: number;
  } & DecideContext;
  readonly #stall: StallWatch<R>;
  readonly #timers: (ReturnType<typeof setTimeout> | undefined)[];
  readonly #ticker: ReturnType<typeof setInterval>;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort: () => void;

  constructor(pair: SidePair<R>, opts: WatchOptions) {
    // A delay past setTimeout's range would fire at once: refuse it here,
    // where every run's clock starts, whoever called.
    if (opts.timeoutSeconds !== undefined) {
      checkBound("timeoutSeconds", opts.timeoutSeconds, BOUNDS.timeoutSeconds);
    }
    const startSeconds = opts.startSeconds ?? DEFAULTS.startSeconds;
    const cx = {
      timedOut: false,
      aborted: opts.signal?.aborted ?? false,
      startTimedOut: false,
      stalled: undefined as string | undefined,
      timeoutSeconds: opts.timeoutSeconds,
      startSeconds,
      get now() {
        return performance.now();
      },
    };
    this.cx = cx;
    this.#stall = new StallWatch(pair, opts.stallSeconds ?? DEFAULTS.stallSeconds);
    this.#signal = opts.signal;
    this.#onAbort = () => {
      cx.aborted = true;
      pair.notify();
    };
    opts.signal?.addEventListener("abort", this.#onAbort);
    this.#timers = [
      opts.timeoutSeconds
        ? setTimeout(
          () => {
            cx.timedOut = true;
            pair.notify();
          },
          Math.max(
            1,
            (opts.since ?? performance.now()) + opts.timeoutSeconds * 1000 - performance.now(),
          ),
        )
        : undefined,
      setTimeout(() => {
        cx.startTimedOut = true;
        pair.notify();
      }, startSeconds * 1000),
    ];
    // Every second the loop decides again, whatever happened: a stall, or
    // a grace that ran out (judge.ts's refusals).
    this.#ticker = setInterval(() => {
      cx.stalled = this.#stall.check();
      pair.notify();
    }, 1000);
  }

  /**
   * A message arrived and was applied: `insns` is each side's instruction
   * count now. Only a count that grew, or a message that is not a progress
   * report (a dump, an end), is progress: a side waiting for its peer does
   * not make the run alive.
   */
  heard(isProgressReport: boolean, insns: Partial<Record<R, number>>): void {
    this.#stall.heard(isProgressReport, insns);
  }

  [Symbol.dispose](): void {
    this.#timers.forEach((t) => clearTimeout(t));
    clearInterval(this.#ticker);
    this.#signal?.removeEventListener("abort", this.#onAbort);
  }
}

/**
 * Notices a run that makes no progress: a QEMU stopped by a signal (its
 * state in /proc), or no instruction retired on any side for the stall
 * time, whatever the reason (a QEMU started with -S or waiting for a
 * debugger, a hung QEMU, a guest asleep in a system call).
 */
export class StallWatch<R extends Role> {
  readonly #pair: SidePair<R>;
  readonly #stallMs: number;
  #lastProgress = performance.now();
  #insns: Partial<Record<R, number>> = {};
  readonly #stoppedSince: Partial<Record<Role, number>> = {};

  constructor(pair: SidePair<R>, stallSeconds: number) {
    this.#pair = pair;
    this.#stallMs = stallSeconds * 1000;
  }

  /** A message arrived; see RunWatch.heard(). */
  heard(isProgressReport: boolean, insns: Partial<Record<R, number>>): void {
    const grew = (Object.keys(insns) as R[]).some((r) => (insns[r] ?? 0) > (this.#insns[r] ?? 0));
    if (grew || !isProgressReport) this.#lastProgress = performance.now();
    this.#insns = { ...insns };
  }

  /** Why the run is stalled, or undefined. */
  check(): string | undefined {
    const now = performance.now();
    for (const s of Object.values<SidePair<R>["sides"][R]>(this.#pair.sides)) {
      const role = s.plan.role;
      // The QEMU's own pid (its plugin's hello): the child is its reaper.
      const pid = s.hello?.pid ?? s.child.pid;
      const state = s.exitStatus ? undefined : processState(pid);
      if (state !== "T" && state !== "t") {
        delete this.#stoppedSince[role];
        continue;
      }
      const since = this.#stoppedSince[role] ??= now;
      if (now - since >= DEFAULTS.stoppedSeconds * 1000) {
        return `QEMU for side ${role} (pid ${pid}) is stopped (${
          state === "T" ? "by a signal such as SIGSTOP" : "by a debugger"
        }) and runs no further: continue it (SIGCONT) or end it`;
      }
    }
    const idle = now - this.#lastProgress;
    if (idle < this.#stallMs) return undefined;
    const roles = Object.keys(this.#pair.sides) as R[];
    const at = roles.map((r) => `side ${r} at ${(this.#insns[r] ?? 0).toLocaleString("en-US")}`);
    const behind = roles.length === 2 && roles.find((r) =>
      (this.#insns[r] ?? 0) === 0 &&
      roles.some((o) => (this.#insns[o] ?? 0) > 0)
    );
    return `No instruction ran on ${roles.length === 1 ? "the side" : "either side"} for ${
      Math.round(idle / 1000)
    } s (${at.join(", ")}): the run is stalled` +
      (behind
        ? `; QEMU for side ${behind} never ran its guest (started with -S, or -g waiting for a debugger?)`
        : " (a QEMU hung or waiting, or a guest asleep in a system call)");
  }
}

/** A process's state letter from /proc (R, S, D, T, t, Z...), or undefined. */
function processState(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return undefined;
  }
}

/**
 * One QEMU alone against the harness (recording a trace, or comparing
 * with one): the supervision loop of a one-side SidePair. It folds the
 * plugin's reports into the side's state until judge.ts's decideSolo (or
 * the caller's own test) says the run is over, and watches the clock and
 * the process as a pair's loop does (RunWatch).
 */
import { decideSolo, type Outcome } from "./judge.ts";
import type { PluginMessage, Role } from "../core/protocol.ts";
import { RunWatch, type WatchOptions } from "./run_watch.ts";
import type { SidePair } from "./side_pair.ts";
import { applyMessage, initialState, type SideState } from "./side_state.ts";

/** How to supervise one QEMU. */
export interface OneSideOptions extends WatchOptions {
  /** The hash the other side (a trace) has at the limit, when known. */
  readonly limitHash?: string | undefined;
  /** An outcome of the caller's own, tested first (e.g. "the dump is complete"). */
  readonly done?: ((s: SideState) => Outcome | undefined) | undefined;
  /** Called with the instructions run so far, at the plugin's progress reports. */
  readonly onProgress?: ((insns: number) => void) | undefined;
  /** Called with a line of what happens (for --verbose). */
  readonly onEvent?: ((line: string) => void) | undefined;
  /** Called with every message of the plugin (narrowing's steps). */
  readonly onMessage?: ((msg: PluginMessage) => void) | undefined;
}

/** Runs the loop until the run is decided: the outcome and the side's state. */
export async function superviseOne<R extends Role>(
  pair: SidePair<R>,
  role: R,
  opts: OneSideOptions,
): Promise<{ outcome: Outcome; state: SideState }> {
  using watch = new RunWatch(pair, opts);
  const state = initialState(pair.sides[role]);
  for (;;) {
    const outcome = opts.done?.(state) ?? decideSolo(state, watch.cx, opts.limitHash);
    if (outcome) return { outcome, state };
    const next = await pair.next();
    if (!next) continue;
    const { msg } = next;
    if (msg.t === "hello" || msg.t === "regs" || msg.t === "closed") {
      watch.heard(false, { [role]: state.insns } as Partial<Record<R, number>>);
      continue;
    }
    opts.onMessage?.(msg);
    applyMessage(state, msg);
    watch.heard(msg.t === "progress", { [role]: state.insns } as Partial<Record<R, number>>);
    if (msg.t === "progress") opts.onProgress?.(state.insns);
    else if (msg.t !== "blk" && msg.t !== "ev") opts.onEvent?.(`side ${role}: ${msg.t}`);
  }
}

/**
 * Where each side's debugger stops, from a verdict: before (or after) the
 * first differing instruction, or, when narrowing named the instruction
 * after which the registers first differ, before (or after) that one. Each
 * side in its own count: side B's positions are side A's plus the
 * difference transient excursions made (`insnB - insn`).
 */
import type { Role } from "../core/protocol.ts";
import type { Verdict } from "../verdict/verdict.ts";
import { DebugError } from "./debug_error.ts";

/** Stop just before the instruction runs, or just after. */
export type StopWhen = "before" | "after";

/** One side's stop. */
export interface SideTarget {
  /** The instruction's position in this side's stream (from 0). */
  readonly insn: number;
  /** Its address: the breakpoint's. */
  readonly pc: bigint;
  /** function+offset in the side's image, or null. */
  readonly symbol: string | null;
  /** Its disassembly ("" where there is none). */
  readonly disas: string;
}

/** Both sides' stops, and what the instruction is. */
export interface DebugTarget {
  readonly when: StopWhen;
  /** "divergence": the first differing instruction; "narrowed": the one narrowing named. */
  readonly what: "divergence" | "narrowed";
  readonly a: SideTarget;
  readonly b: SideTarget;
}

const NO_TARGET = "stop at a divergence: pass the verdict of a run that diverged";

/**
 * Where to stop both sides for `verdict`; throws DebugError when it names
 * nowhere. `narrowed: false`: at the divergence even where narrowing named
 * an instruction.
 */
export function debugTarget(
  verdict: Verdict,
  when: StopWhen,
  opts: { readonly narrowed?: boolean } = {},
): DebugTarget {
  const d = verdict.divergence;
  if (verdict.status !== "diverged" || !d) {
    throw new DebugError(
      `The verdict names no divergence to stop at (status ${verdict.status})`,
      NO_TARGET,
    );
  }
  if (verdict.trace) {
    throw new DebugError("The verdict compares with a trace: side a was never run live", NO_TARGET);
  }
  const shiftB = (d.insnB ?? d.insn) - d.insn;
  const n = d.narrow;
  if ((opts.narrowed ?? true) && n?.status === "done" && n.insn !== undefined && n.a && n.b) {
    const side = (role: Role, s: NonNullable<typeof n.a>, shift: number): SideTarget => ({
      insn: n.insn! + shift,
      pc: s.pc,
      symbol: s.symbol ?? d[role]?.symbol ?? null,
      disas: s.disas,
    });
    return { when, what: "narrowed", a: side("a", n.a, 0), b: side("b", n.b, shiftB) };
  }
  const side = (role: Role, insn: number): SideTarget => {
    const at = d[role];
    if (!at) {
      throw new DebugError(
        `Side ${role}'s stream ended before instruction ${insn}: there is no instruction to stop at`,
        NO_TARGET,
      );
    }
    return { insn, pc: at.pc, symbol: at.symbol, disas: at.disas ?? "" };
  };
  return { when, what: "divergence", a: side("a", d.insn), b: side("b", d.insn + shiftB) };
}

/**
 * The verdict of a lockstep run: plain data, rendered by the CLI as text or
 * JSON (the JSON schema is this shape, documented in the README).
 */
import type { BlockView, SideAt } from "./compare.ts";

/** How the run ended overall. */
export type Status = "match" | "diverged" | "inconclusive" | "error";

/** What stopped the run. */
export type StoppedBy =
  | "guest-exit"
  | "max-insns"
  | "timeout"
  | "divergence"
  | "crash"
  | "peer-lost"
  | "interrupted";

/** One side's QEMU, as run. */
export interface SideResult {
  readonly qemu: string;
  readonly version: string;
  readonly pluginApi: number;
  readonly image: string;
  readonly mode: "system" | "user";
  readonly argv: readonly string[];
  /** Exit code, or null when killed by a signal or still unknown. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Instructions and blocks this side retired, as its plugin last said. */
  readonly insns: number;
  readonly blocks: number;
  /** Peak resident set of this QEMU in kB, as its plugin last read it. */
  readonly peakRssKb: number;
  /** What the guest printed (stdout), bounded. */
  readonly output: string;
  /** The last lines QEMU wrote to stderr. */
  readonly stderrTail: string;
}

/** An instruction of the verdict, named from its image's symbols where it can be. */
export type NamedInsn = SideAt & {
  /** "function+0xoff" from the side's image, or null outside its symbols. */
  readonly symbol: string | null;
};

/** A block of context, named likewise. */
export type NamedBlock = BlockView & { readonly symbol: string | null };

/** Where the two streams first differ. */
export interface Divergence {
  /** Index (from 0) of the first instruction that differs. */
  readonly insn: number;
  /** What differs: only "pc" (instruction addresses) so far. */
  readonly kind: "pc";
  /** Each side's instruction at that index; null where its stream ended. */
  readonly a: NamedInsn | null;
  readonly b: NamedInsn | null;
  /** The last blocks up to and including the divergent one, per side. */
  readonly history: { readonly a: readonly NamedBlock[]; readonly b: readonly NamedBlock[] };
}

/** The result of one lockstep run. */
export interface Verdict {
  readonly version: 1;
  readonly status: Status;
  readonly stoppedBy: StoppedBy | null;
  /** One sentence saying what happened (for inconclusive and error, why). */
  readonly message: string;
  /** What was compared. */
  readonly compared: readonly string[];
  /** Differences between the sides found before the run (firmware, ...), with the fix. */
  readonly warnings: readonly string[];
  /** Instructions and blocks known to agree (or compared, on a match). */
  readonly insns: number;
  readonly blocks: number;
  readonly wallSeconds: number;
  readonly insnsPerSecond: number;
  readonly sides: { readonly a: SideResult; readonly b: SideResult };
  readonly divergence: Divergence | null;
  /** The run's private directory when kept (--keep-temp), else null. */
  readonly tempDir: string | null;
}

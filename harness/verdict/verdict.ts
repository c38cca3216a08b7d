/**
 * The verdict of a lockstep run: plain data, rendered by the CLI as text or
 * JSON (the JSON schema is this shape, documented in docs/verdict.md).
 */
import type { BlockView, InsnView, SideAt } from "./dump_diff.ts";
import { type DumpEvent, EventKind } from "../core/protocol.ts";
import { syscallName } from "../core/syscalls.ts";

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
  | "interrupted"
  | "stalled";

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
  /** linux-user threads: the guest thread id of the thread that ran it (`vcpu` is its number). */
  readonly tid?: number;
  /** "function+0xoff" from the side's image, or null outside its symbols. */
  readonly symbol: string | null;
  /** Its disassembly (objdump's, see `Verdict.disassembler`); absent where there is none. */
  readonly disas?: string;
};

/** An instruction of a block of context, with its disassembly where there is one. */
export type HistoryInsn = InsnView & { readonly disas?: string };

/** A block of context, named likewise. */
export type NamedBlock = Omit<BlockView, "insns"> & {
  readonly symbol: string | null;
  readonly insns: readonly HistoryInsn[];
};

/** A memory access, system call or register snapshot, as the verdict shows it. */
export interface EventView {
  readonly kind: "load" | "store" | "syscall" | "syscall-result" | "syscall-output" | "regs";
  /** regs: the address of the block whose start the snapshot was taken at. */
  readonly blockPc?: bigint;
  /** regs: a hash of the compared registers' values. */
  readonly hash?: bigint;
  /** load/store: the guest virtual address (0 when addresses are not compared). */
  readonly address?: bigint;
  /** syscall, syscall-result, syscall-output: the call's number, and its name where known. */
  readonly number?: number;
  readonly name?: string;
  /** load/store: bytes accessed. */
  readonly size?: number;
  /**
   * load/store: the value moved (plugin API 4 and later, else absent);
   * syscall-output: the 8 bytes at `offset`, read as a host integer.
   */
  readonly value?: bigint;
  /** syscall: a hash of its six arguments (0 when addresses are not compared). */
  readonly argsHash?: bigint;
  /** syscall-result: what the call returned (a negative errno on failure). */
  readonly result?: number;
  /** syscall-output: the bytes' offset in what the call wrote (4096 + … in its second buffer). */
  readonly offset?: number;
}

/**
 * Turns a plugin's event into its view; `values` says whether values were
 * read, `arch` names system calls.
 */
export function eventView(e: DumpEvent, values: boolean, arch = ""): EventView {
  const call = () => {
    const name = syscallName(arch, Number(e.a));
    return { number: Number(e.a), ...(name ? { name } : {}) };
  };
  switch (e.kind) {
    case EventKind.LOAD:
    case EventKind.STORE:
      return {
        kind: e.kind === EventKind.LOAD ? "load" : "store",
        address: e.a,
        size: e.size,
        ...(values ? { value: e.v } : {}),
      };
    case EventKind.SYSCALL:
      return { kind: "syscall", ...call(), argsHash: e.v };
    case EventKind.SYSRET:
      return { kind: "syscall-result", ...call(), result: Number(BigInt.asIntN(64, e.v)) };
    case EventKind.SYSOUT:
      return { kind: "syscall-output", ...call(), offset: e.size, value: e.v };
    default:
      return { kind: "regs", blockPc: e.a, hash: e.v };
  }
}

/**
 * A system call whose answer differs although the guest asked the same
 * (same number and arguments): the host's doing, not TCG's.
 */
export interface EnvironmentDifference {
  /** The call's name ("syscall N" where unknown), or the counter-reading instruction's. */
  readonly call: string;
  /** The system call's number (absent for an instruction). */
  readonly number?: number;
  /**
   * What differs: the call's result, or the bytes it wrote at `offset`
   * (plugin API 4); "counter": a value computed after the guest read the
   * host's time-stamp counter at instruction `insn`; "device": the same
   * after a port read at `insn` with several vCPUs; "signal": a handler
   * of a signal that comes at a moment (`call` names it, `number` is its
   * number) runs there on one side (`a`, `b`: each side's address then).
   */
  readonly what: "result" | "output" | "counter" | "device" | "auxv" | "cpu" | "signal";
  readonly offset?: number;
  readonly insn?: number;
  /**
   * Each side's value: a result in decimal, else "0x…"; null where absent.
   * For "auxv" and "cpu", each side's values of the differing entries.
   */
  readonly a: string | null;
  readonly b: string | null;
  /**
   * "auxv", "cpu": the entries of the two QEMUs' worlds that differ (the
   * auxiliary vector's, the CPU's) where the guest read them.
   */
  readonly entries?: readonly WorldEntry[];
  /** "signal": the handler's address ("0x…"), when the plugin could read it (API 4). */
  readonly handler?: string;
  /** Where the difference comes from, and what to do. */
  readonly hint: string;
}

/** An entry of the world a linux-user QEMU gives its guest, where two QEMUs differ. */
export interface WorldEntry {
  /** The auxiliary vector's; an x86 CPUID leaf's; an aarch64 ID register's. */
  readonly what: "auxv" | "cpuid" | "idreg";
  /** "AT_HWCAP2", "leaf 0x00000007 subleaf 0", "id_aa64isar0_el1". */
  readonly name: string;
  /** Each side's value as the probe printed it ("EAX EBX ECX EDX" for a leaf); null: absent. */
  readonly a: string | null;
  readonly b: string | null;
}

/**
 * How the worlds two linux-user QEMUs give a guest differ, learnt before
 * the run with the world probe (docs/environment.md, "Their worlds").
 */
export interface WorldDifference {
  /** The -cpu each side runs with (null: its QEMU's default). */
  readonly cpu: { readonly a: string | null; readonly b: string | null };
  readonly entries: readonly WorldEntry[];
  /**
   * A -cpu model both QEMUs know under which the probe saw the CPUs answer
   * the same on both (and as much of the vector as can be), or null.
   */
  readonly suggestion: string | null;
  /** What still differs under the suggestion (or under every model: the vector's entries). */
  readonly remaining: readonly WorldEntry[];
  /** How many models both QEMUs know were tried. */
  readonly tried: number;
}

/** An environment difference met before the divergence (see Divergence.environmentBefore). */
export interface EnvironmentBefore {
  /** Its instruction, in side A's count. */
  readonly insn: number;
  readonly environment: EnvironmentDifference;
  /** Each side's instruction there. */
  readonly a: NamedInsn | null;
  readonly b: NamedInsn | null;
}

/** Where the two streams first differ. */
export interface Divergence {
  /** Index (from 0) of the first instruction that differs, in side A's count. */
  readonly insn: number;
  /** The same in side B's count: other than `insn` after transient excursions of unequal length. */
  readonly insnB?: number;
  /**
   * What differs first: "pc" the instruction's address; "regs" the
   * registers at a snapshot before it; "mem" a memory access it made;
   * "syscall" a system call it made; "environment" the host's answer to a
   * system call it made (the run is then inconclusive: not TCG's doing);
   * "interleaving" (several vCPUs) another vCPU runs it on one side: the
   * two switched between vCPUs at different points.
   */
  readonly kind: "pc" | "regs" | "mem" | "syscall" | "environment" | "interleaving";
  /** For every kind but "pc": each side's differing event (null: none there). */
  readonly events?: { readonly a: EventView | null; readonly b: EventView | null };
  /** For "environment": the call, both values and a hint. */
  readonly environment?: EnvironmentDifference;
  /**
   * An environment difference the detail pass met first and went past:
   * the fast pass saw the streams part later, here, where this difference
   * is (which may follow from that one).
   */
  readonly environmentBefore?: EnvironmentBefore;
  /**
   * The guest's forked child the difference is in (linux-user), absent in
   * the guest's first process: its path in the process tree ("1.2") and
   * what it ran (see `Verdict.processes`). Its instructions count from the
   * guest's start, through the forks that made it.
   */
  readonly process?: { readonly path: string; readonly command: readonly string[] | null };
  /**
   * The registers that differ at `insn` (before it runs), with both
   * values; known from narrowing (absent when it did not run).
   */
  readonly regs?: readonly RegDiff[];
  /** What narrowing found, or why it did not run. */
  readonly narrow?: NarrowReport;
  /** Each side's instruction at that index; null where its stream ended. */
  readonly a: NamedInsn | null;
  readonly b: NamedInsn | null;
  /** The last blocks up to and including the divergent one, per side. */
  readonly history: { readonly a: readonly NamedBlock[]; readonly b: readonly NamedBlock[] };
  /**
   * Against a trace: the instructions the difference lies in when the
   * trace cannot name one (registers between two snapshots), with the
   * live side's instructions and registers there.
   */
  readonly window?: TraceWindow;
}

/** A window of the stream a difference lies in (see Divergence.window). */
export interface TraceWindow {
  /** Instructions [from, to): `size` of them. */
  readonly from: number;
  readonly to: number;
  readonly size: number;
  /** What bounds it. */
  readonly why: string;
  /** The live side's instructions in it, each with the registers it found changed. */
  readonly steps?: readonly WindowStep[];
}

/** One live instruction of a window, and the registers that changed before it. */
export interface WindowStep {
  readonly pos: number;
  readonly pc: bigint;
  readonly bytes: string;
  readonly disas: string;
  readonly regs: readonly { readonly name: string; readonly value: string }[];
}

/** The trace a run compared against (side a). */
export interface TraceInfo {
  readonly path: string;
  readonly bytes: number;
  /** When and where it was recorded. */
  readonly created: string;
  readonly host: string;
}

/** A register that differs: its value on each side (hex). */
export interface RegDiff {
  readonly name: string;
  readonly a: string;
  readonly b: string;
}

/** An instruction as narrowing saw it on one side. */
export interface StepView {
  readonly pc: bigint;
  readonly bytes: string;
  /** QEMU's disassembly, else objdump's ("" where neither gave one). */
  readonly disas: string;
  readonly symbol: string | null;
  /** The vCPU (linux-user: the guest thread) that ran it, where several run as one stream. */
  readonly vcpu?: number;
}

/**
 * Narrowing: both sides re-run alone to `to`, reading the compared
 * registers before every instruction from `from` on.
 */
export interface NarrowReport {
  /** done: `insn` is named; skipped: not run; failed: run, but no answer (see why). */
  readonly status: "done" | "skipped" | "failed";
  readonly why?: string;
  readonly from?: number;
  readonly to?: number;
  /**
   * The instruction after which the registers first differ; when they agree
   * up to the divergence, the divergent instruction itself.
   */
  readonly insn?: number;
  readonly a?: StepView | undefined;
  readonly b?: StepView | undefined;
  /** The registers that differ right after `insn` (empty: none do). */
  readonly regs?: readonly RegDiff[];
  readonly seconds?: number;
}

/**
 * A transient excursion: the streams parted in control flow at `insn` (side
 * A's count; `insnB` side B's) and met again after side A ran `lengthA`
 * and side B `lengthB` instructions (see harness/verdict/transient.ts).
 */
export interface Excursion {
  readonly insn: number;
  readonly insnB: number;
  readonly a: NamedInsn | null;
  readonly b: NamedInsn | null;
  readonly lengthA: number;
  readonly lengthB: number;
}

/**
 * The fast pass (docs/how-it-works.md): inline counting and checkpoints
 * only; the detail pass runs when it sees a difference.
 */
export interface FastPassReport {
  /**
   * match: it found nothing (the verdict is its own); apart: it found a
   * difference (see why), which the detail pass then looked into; ended:
   * the run ended otherwise (an error, a timeout, a crash: the verdict is
   * its own); not-run: see why.
   */
  readonly result: "match" | "apart" | "ended" | "not-run";
  readonly why: string | null;
  /** Instructions it ran (the fewer of the two sides). */
  readonly insns: number;
  readonly seconds: number;
  /** apart: the last checkpoint where the streams agreed, and the first where they did not. */
  readonly good?: number;
  readonly bad?: number;
  /**
   * apart, between good and bad: whether the detail pass saw a difference
   * there too. False: it did not, so two runs of the guest differ (the
   * verdict is then never a match); absent when it could not tell.
   */
  readonly confirmed?: boolean;
}

/** How the verdict's instructions were disassembled (harness/guest/disasm.ts). */
export interface DisassemblerInfo {
  /** The objdump command line used, without its input file; null when none ran. */
  readonly command: string | null;
  /** Why instructions have no disassembly (no objdump, one that failed), if so. */
  readonly note?: string;
}

/**
 * The run over time, per side: `[seconds since both QEMUs started,
 * instructions that side had retired]`, from the plugins' reports (at most
 * every 250 ms, at checkpoints), thinned to at most TIMELINE_POINTS a side.
 */
export interface Timeline {
  readonly a: readonly (readonly [number, number])[];
  readonly b: readonly (readonly [number, number])[];
  /** Seconds after the start when a side first reported a disagreement, or null. */
  readonly disagreedAt: number | null;
}

/**
 * A guest process (linux-user): each side's process trees paired by path,
 * each side's children by the order their parent forked them.
 */
export interface ProcessView {
  /** Its place in the tree: "1" the guest, "1.2" the second child "1" forked. */
  readonly path: string;
  /** The program it ran as far as known: the last it executed, else its parent's; null if unknown. */
  readonly command: readonly string[] | null;
  /** Whether it was compared in lockstep with the other side's process of that path. */
  readonly compared: boolean;
  /** Why not (or until when), else null. */
  readonly why: string | null;
  /** Its QEMU's pid on each side; null where that side made no such process. */
  readonly pids: { readonly a: number | null; readonly b: number | null };
}

/** The result of one lockstep run. */
export interface Verdict {
  readonly version: 1;
  readonly status: Status;
  readonly stoppedBy: StoppedBy | null;
  /** One sentence saying what happened (for inconclusive and error, why). */
  readonly message: string;
  /** What was compared: "pc", "regs", "mem", "syscalls". */
  readonly compared: readonly string[];
  /** The registers compared (empty unless "regs" is), and those left out with why. */
  readonly registers: readonly string[];
  readonly registersSkipped: readonly { readonly name: string; readonly why: string }[];
  /** What was asked for but could not be compared, and why. */
  readonly notCompared: readonly { readonly what: string; readonly why: string }[];
  /** Differences between the sides found before the run (firmware, ...), with the fix. */
  readonly warnings: readonly string[];
  /**
   * Instructions that agree: on a match, those compared; diverged, the
   * divergent index (every instruction before it agrees); otherwise those
   * both sides retired.
   */
  readonly insns: number;
  /**
   * Blocks both sides retired (the smaller side's count). Like
   * `insnsPerSecond` it counts what the sides ran, which on a divergence is
   * more than what agreed: `sides.a.insns` and `sides.b.insns` go with it.
   */
  readonly blocks: number;
  /** The run's wall-clock time, narrowing not included. */
  readonly wallSeconds: number;
  /** Instructions both sides retired (the smaller side's count) per second of `wallSeconds`. */
  readonly insnsPerSecond: number;
  readonly sides: { readonly a: SideResult; readonly b: SideResult };
  readonly divergence: Divergence | null;
  /** Transient excursions the run went past, in order (see Excursion). */
  readonly transients: readonly Excursion[];
  /** What the fast pass did. */
  readonly fastPass: FastPassReport;
  /** The run's private directory when kept (--keep-temp), else null. */
  readonly tempDir: string | null;
  /** How instructions were disassembled; absent from verdicts with no instruction to show. */
  readonly disassembler?: DisassemblerInfo;
  /** Instructions over time per side (absent when the run never started). */
  readonly timeline?: Timeline;
  /** Against a trace (--against): side a is this recording. */
  readonly trace?: TraceInfo;
  /**
   * The guest's processes (linux-user), when a guest forked or executed a
   * program: which were compared, and why the others were not.
   */
  readonly processes?: readonly ProcessView[];
  /**
   * linux-user across QEMUs: how the worlds the two QEMUs give the guest
   * differ (docs/environment.md, "Their worlds"); absent when equal or not learnt.
   */
  readonly world?: WorldDifference;
  /** QEMU's own log of the blocks around the divergence, per side (--log-at-divergence). */
  readonly divergenceLogs?: DivergenceLogs;
}

/** QEMU's `-d` log of one side, re-run to just before its divergent instruction. */
export interface SideLog {
  /** The instruction it stopped before: its position and address. */
  readonly insn: number;
  readonly pc: bigint;
  /** The -dfilter range: blocks starting from `from` to `to` were logged. */
  readonly from: bigint;
  readonly to: bigint;
  /** What QEMU wrote, cut after 256 KiB (`truncated`). */
  readonly text: string;
  readonly truncated: boolean;
}

/** Both sides' QEMU logs at the divergence, and the -d items asked for. */
export interface DivergenceLogs {
  readonly items: string;
  readonly a: SideLog;
  readonly b: SideLog;
}

/**
 * The dump comparator: given the blocks both sides dumped around a
 * disagreement, find the first instruction whose address differs. It
 * compares instructions, not blocks, so a block split differently on the
 * two sides (one instruction per TB, a different TB size, an icount cut)
 * is not a divergence.
 */
import { type DumpBlock, type DumpEvent, EventKind } from "../core/protocol.ts";

export type { DumpBlock, DumpEvent };

/** What one side dumped. */
export interface SideDump {
  /** Position up to which this side knows both streams agree. */
  readonly good: number;
  /** Position of the first disagreement this side knows of. */
  readonly bad: number;
  /** The dumped blocks, in order. */
  readonly blocks: readonly DumpBlock[];
  /** True when the side's stream ended there (guest exit), not just the dump. */
  readonly ended: boolean;
  /** Its events in the dumped range, in order (empty unless compared). */
  readonly events?: readonly DumpEvent[];
  /**
   * Several vCPUs as one stream (system mode, -smp): the instructions
   * each had run where the first dumped block starts, by vCPU index.
   */
  readonly vcpuInsns?: readonly number[];
}

/** One instruction of a block, for display. */
export interface InsnView {
  readonly pc: bigint;
  readonly bytes: string;
}

/** A block of context, for display. */
export interface BlockView {
  readonly index: number;
  readonly pc: bigint;
  readonly insns: readonly InsnView[];
  /** The vCPU that ran it (several vCPUs, where the plugin can tell). */
  readonly vcpu?: number;
}

/** Where one side was at the divergence. */
export interface SideAt {
  /** Address of the side's instruction at the divergent index. */
  readonly pc: bigint;
  /** Its bytes (hex). */
  readonly bytes: string;
  /** Start of the block holding it. */
  readonly blockPc: bigint;
  /** Several vCPUs: the one that ran it... */
  readonly vcpu?: number;
  /** ...and its index among that vCPU's own instructions (from 0), where the dump says. */
  readonly vcpuInsn?: number;
}

/** The comparator's answer. */
export type DumpDiff =
  | {
    readonly found: true;
    /** Index of the first instruction that differs. */
    readonly insn: number;
    /** Each side's instruction there; undefined where its stream ended. */
    readonly a: SideAt | undefined;
    readonly b: SideAt | undefined;
    /** The last `history` blocks up to and including the divergent one. */
    readonly history: { readonly a: BlockView[]; readonly b: BlockView[] };
    /** Set when an event (access, syscall) differs first: each side's. */
    readonly events?: { readonly a: DumpEvent | undefined; readonly b: DumpEvent | undefined };
  }
  | {
    readonly found: false;
    /** Why nothing was found. */
    readonly reason: string;
  };

interface Flat {
  readonly pc: bigint;
  readonly bytes: string;
  readonly block: number;
  /** Several vCPUs: the one that ran it, and its index in that vCPU's own count. */
  readonly cpu?: number;
  readonly own?: number;
}

function flatten(
  blocks: readonly DumpBlock[],
  vcpuInsns?: readonly number[],
): { first: number; insns: Flat[] } {
  const insns: Flat[] = [];
  const first = blocks[0]?.i ?? 0;
  const own = vcpuInsns ? [...vcpuInsns] : undefined;
  blocks.forEach((blk, bi) => {
    // Blocks are contiguous in the stream; a gap would be a plugin bug.
    if (blk.i !== first + insns.length) {
      throw new RangeError(
        `Dump is not contiguous: block at index ${blk.i}, expected ${first + insns.length}`,
      );
    }
    let pc = blk.pc;
    let off = 0;
    for (const size of blk.sizes) {
      const bytes = blk.bytes.slice(off, off + 2 * size);
      const cpu = blk.cpu;
      const n = cpu !== undefined && own && own[cpu] !== undefined ? own[cpu]++ : undefined;
      insns.push({
        pc,
        bytes,
        block: bi,
        ...(cpu === undefined ? {} : { cpu }),
        ...(n === undefined ? {} : { own: n }),
      });
      pc += BigInt(size);
      off += 2 * size;
    }
  });
  return { first, insns };
}

function view(blk: DumpBlock): BlockView {
  const insns: InsnView[] = [];
  let pc = blk.pc;
  let off = 0;
  for (const size of blk.sizes) {
    insns.push({ pc, bytes: blk.bytes.slice(off, off + 2 * size) });
    pc += BigInt(size);
    off += 2 * size;
  }
  return { index: blk.i, pc: blk.pc, insns, ...(blk.cpu === undefined ? {} : { vcpu: blk.cpu }) };
}

function historyOf(dump: SideDump, flat: Flat | undefined, depth: number): BlockView[] {
  const last = flat ? flat.block : dump.blocks.length - 1;
  return dump.blocks.slice(Math.max(0, last - depth + 1), last + 1).map(view);
}

const sameEvent = (x: DumpEvent, y: DumpEvent) =>
  x.pos === y.pos && x.kind === y.kind && x.a === y.a && x.size === y.size && x.v === y.v;

/**
 * The first pair of events, at or after `start` and before `end`, that
 * differs: each side's event there (undefined where one side has none).
 */
function firstEventDifference(
  a: readonly DumpEvent[],
  b: readonly DumpEvent[],
  start: number,
  end: number,
): { pos: number; a: DumpEvent | undefined; b: DumpEvent | undefined } | undefined {
  const ea = a.filter((e) => e.pos >= start && e.pos < end);
  const eb = b.filter((e) => e.pos >= start && e.pos < end);
  for (let i = 0; i < Math.max(ea.length, eb.length); i++) {
    const x = ea[i];
    const y = eb[i];
    if (x && y && sameEvent(x, y)) continue;
    return { pos: Math.min(x?.pos ?? Infinity, y?.pos ?? Infinity), a: x, b: y };
  }
  return undefined;
}

type Flattened = ReturnType<typeof flatten>;

/** Where a side was, given its flattened instruction there. */
function sideAt(f: Flat | undefined, dump: SideDump): SideAt | undefined {
  if (!f) return undefined;
  return {
    pc: f.pc,
    bytes: f.bytes,
    blockPc: dump.blocks[f.block]!.pc,
    ...(f.cpu === undefined ? {} : { vcpu: f.cpu }),
    ...(f.own === undefined ? {} : { vcpuInsn: f.own }),
  };
}

/**
 * Where comparison starts: both streams agree up to either side's `good`;
 * the later one, if both dumps still cover it.
 */
function startOf(a: SideDump, b: SideDump, fa: Flattened, fb: Flattened): number {
  const cover = Math.max(fa.first, fb.first);
  const start = Math.max(a.good, b.good);
  return start < cover ? Math.max(Math.min(a.good, b.good), cover) : start;
}

/**
 * Finds the first instruction at which the two dumped streams differ: in
 * its address, or (when events were compared) in an event it made.
 * `history` is how many blocks of context to return for each side.
 */
export function diffDumps(a: SideDump, b: SideDump, history: number): DumpDiff {
  const fa = flatten(a.blocks, a.vcpuInsns);
  const fb = flatten(b.blocks, b.vcpuInsns);
  const start = startOf(a, b, fa, fb);
  const pc = compareAddresses(a, b, fa, fb, start, history);
  const end = Math.min(
    fa.first + fa.insns.length,
    fb.first + fb.insns.length,
    pc.found ? pc.insn + 1 : Infinity,
  );
  const ev = firstEventDifference(compared(a.events), compared(b.events), start, end);
  // At the first differing address the events differ too: that is a "pc" divergence.
  if (!ev || (pc.found && pc.insn <= ev.pos)) return pc;
  const ia = fa.insns[ev.pos - fa.first];
  const ib = fb.insns[ev.pos - fb.first];
  return {
    found: true,
    insn: ev.pos,
    a: sideAt(ia, a),
    b: sideAt(ib, b),
    history: { a: historyOf(a, ia, history), b: historyOf(b, ib, history) },
    events: { a: ev.a, b: ev.b },
  };
}

/** Whether an event is a note (sysnote=on): never a difference of its own. */
function isNote(e: DumpEvent): boolean {
  return e.kind === EventKind.SYSNOTE || e.kind === EventKind.SYSNOTE_CALL;
}

/** The events that are compared: all but the notes. */
function compared(events: readonly DumpEvent[] | undefined): DumpEvent[] {
  return (events ?? []).filter((e) => !isNote(e));
}

/**
 * Where the streams part at `before`, what the notes (system calls not
 * compared, sysnote=on) say came first: the first noted result that
 * differs between the sides after the same call (number and arguments
 * alike), as each side's result event; undefined when the notes agree up
 * to there, or a call differs first (the guest's own doing).
 */
export function notedDifference(
  a: SideDump,
  b: SideDump,
  before: number,
): { readonly a: DumpEvent; readonly b: DumpEvent } | undefined {
  const start = Math.max(a.good, b.good);
  const notes = (d: SideDump) =>
    (d.events ?? []).filter((e) => isNote(e) && e.pos >= start && e.pos <= before);
  const na = notes(a);
  const nb = notes(b);
  for (let i = 0; i < Math.min(na.length, nb.length); i++) {
    const x = na[i]!;
    const y = nb[i]!;
    if (x.kind === y.kind && x.a === y.a && x.v === y.v) continue;
    const results = x.kind === EventKind.SYSNOTE && y.kind === EventKind.SYSNOTE && x.a === y.a;
    return results ? { a: x, b: y } : undefined;
  }
  return undefined;
}

function compareAddresses(
  a: SideDump,
  b: SideDump,
  fa: Flattened,
  fb: Flattened,
  start: number,
  history: number,
): DumpDiff {
  const endA = fa.first + fa.insns.length;
  const endB = fb.first + fb.insns.length;
  for (let i = start;; i++) {
    const ia = i < endA ? fa.insns[i - fa.first] : undefined;
    const ib = i < endB ? fb.insns[i - fb.first] : undefined;
    if (ia && ib) {
      // Several vCPUs: the same address run by another vCPU is a
      // difference too (the sides switched vCPUs elsewhere).
      if (ia.pc === ib.pc && ia.cpu === ib.cpu) continue;
    } else if (!ia && !ib) {
      return { found: false, reason: `both streams agree up to instruction ${i}` };
    } else if ((!ia && !a.ended) || (!ib && !b.ended)) {
      // One dump stops early without its stream having ended: nothing seen.
      return {
        found: false,
        reason: `the streams agree up to instruction ${i}, where a dump stops`,
      };
    }
    return {
      found: true,
      insn: i,
      a: sideAt(ia, a),
      b: sideAt(ib, b),
      history: { a: historyOf(a, ia, history), b: historyOf(b, ib, history) },
    };
  }
}

/** A side's dump by position: each instruction, and the blocks up to one. */
export interface FlatDump {
  /** The instruction at `pos`, if dumped. */
  at(pos: number): SideAt | undefined;
  /** The last `depth` blocks up to the one holding `pos`. */
  history(pos: number, depth: number): BlockView[];
}

/** A dump as FlatDump. */
export function flattenDump(dump: SideDump): FlatDump {
  const f = flatten(dump.blocks, dump.vcpuInsns);
  return {
    at: (pos) => sideAt(f.insns[pos - f.first], dump),
    history: (pos, depth) => historyOf(dump, f.insns[pos - f.first], depth),
  };
}

/** A side's instruction addresses for positions [from, to] (undefined: not dumped). */
export function addressesBetween(dump: SideDump, from: number, to: number): (bigint | undefined)[] {
  const f = flatten(dump.blocks);
  const out: (bigint | undefined)[] = [];
  for (let i = from; i <= to; i++) out.push(f.insns[i - f.first]?.pc);
  return out;
}

/** The position of the last register snapshot before `pos` in a side's dump. */
export function lastSnapshotBefore(dump: SideDump, pos: number): number | undefined {
  let last: number | undefined;
  for (const e of dump.events ?? []) {
    if (e.kind === EventKind.REGS && e.pos < pos) last = e.pos;
  }
  return last;
}

/** The first position the dump covers. */
export function dumpStart(dump: SideDump): number {
  return dump.blocks[0]?.i ?? dump.good;
}

/**
 * Where a side was, for a verdict's message: "0x401820 (thread 3, tid 7,
 * its instruction 248)", the vCPU or guest thread (`unit`) where known;
 * "its end" for none.
 */
export function whereRan(
  x: SideAt | null | undefined,
  unit: "thread" | "vCPU",
  tid?: number,
): string {
  if (!x) return "its end";
  const pc = `0x${x.pc.toString(16)}`;
  if (x.vcpu === undefined) return pc;
  return `${pc} (${unit} ${x.vcpu}${tid === undefined ? "" : `, tid ${tid}`}${
    x.vcpuInsn === undefined ? "" : `, its instruction ${x.vcpuInsn}`
  })`;
}

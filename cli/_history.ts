/**
 * Both sides' histories as rows aligned on the divergence, for the text and
 * HTML verdicts: row 0 holds each side's divergent instruction, row -1 the
 * one before it on each side, and so on, whatever blocks QEMU cut.
 */
import type { Divergence, NamedBlock } from "../mod.ts";

/** One side's instruction in a row. */
export interface Cell {
  /** Its position in this side's instruction count. */
  readonly index: number;
  readonly pc: bigint;
  readonly bytes: string;
  readonly disas: string | undefined;
  /** function+offset of this instruction, or null outside the image's symbols. */
  readonly symbol: string | null;
  /** True when this instruction is in another function than the one before it on its side. */
  readonly enters: boolean;
}

/** A row: each side's instruction at the same distance from the divergence. */
export interface Row {
  /** Distance from the divergence: 0 is the divergent instruction, -1 the one before. */
  readonly offset: number;
  readonly a: Cell | undefined;
  readonly b: Cell | undefined;
  /** The two sides differ here: address, bytes, or one side has no instruction. */
  readonly differs: boolean;
}

const FUNC = /^(.*?)(?:\+0x([0-9a-f]+))?$/;

/** function+offset of `pc` in a block whose start is named `symbol`. */
function symbolAt(block: NamedBlock, pc: bigint): string | null {
  if (!block.symbol) return null;
  const m = FUNC.exec(block.symbol)!;
  const off = BigInt(`0x${m[2] ?? "0"}`) + (pc - block.pc);
  return off === 0n ? m[1]! : `${m[1]}+0x${off.toString(16)}`;
}

const funcOf = (symbol: string | null) => symbol === null ? null : FUNC.exec(symbol)![1]!;

function cells(blocks: readonly NamedBlock[]): Cell[] {
  const out: Cell[] = [];
  let func: string | null | undefined;
  for (const b of blocks) {
    b.insns.forEach((x, i) => {
      const symbol = symbolAt(b, x.pc);
      const f = funcOf(symbol);
      out.push({
        index: b.index + i,
        pc: x.pc,
        bytes: x.bytes,
        disas: x.disas,
        symbol,
        enters: func === undefined || f !== func,
      });
      func = f;
    });
  }
  return out;
}

/**
 * The histories of `d` as aligned rows, oldest first, at most `before`
 * rows before the divergence and `after` after it (undefined: all).
 */
export function alignHistory(d: Divergence, before?: number, after?: number): Row[] {
  const a = cells(d.history.a);
  const b = cells(d.history.b);
  const at = { a: d.insn, b: d.insnB ?? d.insn };
  const byOffset = new Map<number, { a?: Cell; b?: Cell }>();
  for (const c of a) byOffset.set(c.index - at.a, { ...byOffset.get(c.index - at.a), a: c });
  for (const c of b) byOffset.set(c.index - at.b, { ...byOffset.get(c.index - at.b), b: c });
  return [...byOffset.entries()]
    .filter(([o]) => (before === undefined || o >= -before) && (after === undefined || o <= after))
    .sort(([x], [y]) => x - y)
    .map(([offset, r]) => ({
      offset,
      a: r.a,
      b: r.b,
      differs: !r.a || !r.b || r.a.pc !== r.b.pc || r.a.bytes !== r.b.bytes,
    }));
}

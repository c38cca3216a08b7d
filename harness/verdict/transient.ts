/**
 * Transient excursions. An asynchronous event (an interrupt, say) can make
 * one side run a few instructions elsewhere, a little earlier or later than
 * the other, and then carry on exactly as the other does. Such an excursion
 * is transient: the two streams meet again. The rule, applied to the dumps
 * of a disagreement whose first difference N is in control flow (kind
 * "pc"; a differing value is never transient):
 *
 *   the streams re-converge at (i, j), i and j in [N, N + window], when
 *   side a's instructions from i and side b's from j agree: the same
 *   addresses, and the same memory accesses and system calls (register
 *   snapshots are left out: they are taken on a grid of positions, which an
 *   excursion shifts), for SHAPE_RUN instructions when the excursion has
 *   one of the usual shapes (one side's is empty, or both are as long), for
 *   `run` instructions otherwise
 *
 * (or, when both streams end within `run`, what is left of them agrees).
 * Which pair is chosen is said at findReconvergence(); the comparison
 * resumes there, and everything after it is compared as before, registers
 * included, so an excursion that left a difference behind is still found.
 */
import type { SideDump } from "./dump_diff.ts";
import { EventKind } from "../core/protocol.ts";

/** Where two streams meet again: a logical position on each side. */
export interface Reconvergence {
  readonly a: number;
  readonly b: number;
}

/** Default bounds: how far an excursion may reach, and how long the streams must then agree. */
export const TRANSIENT_WINDOW = 50_000;
export const TRANSIENT_RUN = 4096;
/** How long the streams must agree after an excursion of one of the usual shapes (see findReconvergence()). */
export const SHAPE_RUN = 256;
/** After this many excursions, the next difference is the divergence. */
export const MAX_TRANSIENTS = 1000;

const MUL = 0x01000193;

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

function fold(x: bigint): number {
  return mix32(Number(x & 0xffffffffn) ^ mix32(Number((x >> 32n) & 0xffffffffn)));
}

/** One number per instruction of a dump: its address and its events. */
function digest(dump: SideDump): { first: number; values: Uint32Array } {
  const first = dump.blocks[0]?.i ?? 0;
  const n = dump.blocks.reduce((s, b) => s + b.sizes.length, 0);
  const values = new Uint32Array(n);
  let k = 0;
  for (const blk of dump.blocks) {
    let pc = blk.pc;
    for (const size of blk.sizes) {
      values[k++] = fold(pc);
      pc += BigInt(size);
    }
  }
  for (const e of dump.events ?? []) {
    const at = e.pos - first;
    if (e.kind === EventKind.REGS || at < 0 || at >= n) continue;
    const ev = mix32(fold(e.a) ^ Math.imul(e.kind, 0x9e3779b1) ^ (e.size << 8) ^ fold(e.v));
    values[at] = mix32(Math.imul(values[at]!, MUL) ^ ev);
  }
  return { first, values };
}

/** Hashes of every `run`-long window of `v` starting in [lo, hi]. */
function windows(v: Uint32Array, lo: number, hi: number, run: number): Map<number, number> {
  // Position p -> hash of v[p .. p + run), rolling.
  const out = new Map<number, number>();
  if (lo < 0 || lo + run > v.length) return out;
  let pow = 1;
  for (let k = 1; k < run; k++) pow = Math.imul(pow, MUL);
  let h = 0;
  for (let k = 0; k < run; k++) h = (Math.imul(h, MUL) + v[lo + k]!) >>> 0;
  for (let p = lo; p <= hi && p + run <= v.length; p++) {
    out.set(p, h);
    if (p + run < v.length) {
      h = (Math.imul((h - Math.imul(v[p]!, pow)) >>> 0, MUL) + v[p + run]!) >>> 0;
    }
  }
  return out;
}

/**
 * Finds where the streams meet again after their first difference at
 * `from` (logical positions in both dumps), or undefined when they do not
 * within `window` instructions (or the dumps do not reach far enough).
 *
 * In code that repeats itself (a loop), the streams also "agree" a whole
 * number of iterations apart, so the choice among matches matters. An
 * asynchronous event makes one of two shapes: one side runs extra
 * instructions (an interrupt the other side does not take there: one side's
 * excursion is empty), or both run the same extra instructions at different
 * points (an interrupt taken a little earlier on one side: both excursions
 * have the same length). Matches of those shapes come first, the nearest
 * first; any other match only when there is none of them.
 */
export function findReconvergence(
  a: SideDump,
  b: SideDump,
  from: number,
  window = TRANSIENT_WINDOW,
  run = TRANSIENT_RUN,
): Reconvergence | undefined {
  const da = digest(a);
  const db = digest(b);
  const endA = da.first + da.values.length;
  const endB = db.first + db.values.length;
  const ha = windows(da.values, from - da.first, from - da.first + window, run);
  const hb = windows(db.values, from - db.first, from - db.first + window, run);
  const agree = (i: number, j: number, need: number): boolean => {
    const p = i - da.first;
    const q = j - db.first;
    if (p < 0 || q < 0 || (i === from && j === from)) return false;
    // Both streams ended: they meet if what is left of them, at least
    // SHAPE_RUN instructions, is the same.
    const left = endA - i;
    const n = a.ended && b.ended && left === endB - j && left < need && left >= SHAPE_RUN
      ? left
      : need;
    if (p + n > da.values.length || q + n > db.values.length) return false;
    if (n === run && ha.has(p) && ha.get(p) !== hb.get(q)) return false;
    for (let k = 0; k < n; k++) if (da.values[p + k] !== db.values[q + k]) return false;
    return true;
  };
  // The two shapes, nearest first: (from, from + k), (from + k, from), (from + k, from + k).
  const shapeRun = Math.min(run, SHAPE_RUN);
  for (let k = 1; k <= window; k++) {
    for (const [i, j] of [[from, from + k], [from + k, from], [from + k, from + k]] as const) {
      if (agree(i, j, shapeRun)) return { a: i, b: j };
    }
  }
  // Any other match: the smallest i + j.
  const firstB = new Map<number, number>();
  for (const [q, h] of hb) if (!firstB.has(h)) firstB.set(h, q);
  let best: Reconvergence | undefined;
  for (const [p, h] of ha) {
    const i = p + da.first;
    if (best && i + from >= best.a + best.b) break;
    const q = firstB.get(h);
    if (q === undefined) continue;
    const j = q + db.first;
    if (agree(i, j, run) && (!best || i + j < best.a + best.b)) best = { a: i, b: j };
  }
  return best;
}

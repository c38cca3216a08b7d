/**
 * The guest threads' order as decisions (plugin-src/threads.c): each a
 * position and the thread that runs from there, two u64 little-endian, 16
 * bytes, packed in one byte array. The same bytes are the plugin's
 * `schedin=` file, a trace's trailer section and what the harness keeps of
 * a run: a long threaded run makes millions, so none is an object.
 */
/** A run's decisions, packed. */
export type Decisions = Uint8Array;

/** Bytes of one decision. */
export const DECISION_BYTES = 16;

/** How many decisions the bytes hold. */
export function decisionCount(d: Decisions): number {
  return Math.floor(d.length / DECISION_BYTES);
}

/** Every decision in order (one view over the bytes, however many there are). */
export function* eachDecision(d: Decisions): Generator<{ pos: bigint; thread: bigint }> {
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  for (let o = 0; o + DECISION_BYTES <= d.length; o += DECISION_BYTES) {
    yield { pos: v.getBigUint64(o, true), thread: v.getBigUint64(o + 8, true) };
  }
}

/** Whether a decision lies within `by` of position `p`. */
export function decisionNear(d: Decisions, p: number, by: number): boolean {
  for (const { pos } of eachDecision(d)) {
    if (Math.abs(Number(pos) - p) <= by) return true;
  }
  return false;
}

/** Decisions as they come, one at a time, kept packed. */
export class DecisionLog {
  #bytes = new Uint8Array(64 * DECISION_BYTES);
  #n = 0;

  push(pos: number, thread: number): void {
    if ((this.#n + 1) * DECISION_BYTES > this.#bytes.length) {
      const grown = new Uint8Array(this.#bytes.length * 2);
      grown.set(this.#bytes);
      this.#bytes = grown;
    }
    const v = new DataView(this.#bytes.buffer, this.#n * DECISION_BYTES, DECISION_BYTES);
    v.setBigUint64(0, BigInt(pos), true);
    v.setBigUint64(8, BigInt(thread), true);
    this.#n++;
  }

  /** The decisions so far (a view: valid until the next push). */
  get bytes(): Decisions {
    return this.#bytes.subarray(0, this.#n * DECISION_BYTES);
  }
}

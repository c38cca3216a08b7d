/**
 * The range of every number that comes from outside: an option, a field
 * of a suite file, a field of a trace's header. One table, one check, so
 * the CLI, a suite and a trace cannot disagree on what is too large (a
 * timeout past setTimeout's range fires at once; a trace chunk of 2^52
 * instructions asks a reader to inflate gigabytes).
 */
import { LIMITS } from "./defaults.ts";

/** Where a number must lie, both ends included. */
export interface Bound {
  readonly min: number;
  readonly max: number;
  /** Whole numbers only. */
  readonly integer: boolean;
  /** What it counts, for messages ("seconds", "instructions"). */
  readonly unit: string;
}

const whole = (min: number, max: number, unit: string): Bound => ({
  min,
  max,
  integer: true,
  unit,
});

/** The numbers that have a bound. */
export type BoundName =
  | "timeoutSeconds"
  | "maxInsns"
  | "history"
  | "historyLines"
  | "interval"
  | "window"
  | "transientWindow"
  | "regsEvery"
  | "chunk"
  | "detail"
  | "jobs";

/** The bounds by name. */
export const BOUNDS: Readonly<Record<BoundName, Bound>> = {
  /** A run's or a case's time limit: setTimeout's range, in seconds. */
  timeoutSeconds: { min: 0.001, max: LIMITS.timeoutSeconds, integer: false, unit: "seconds" },
  maxInsns: whole(1, Number.MAX_SAFE_INTEGER, "instructions"),
  history: whole(0, LIMITS.history, "blocks"),
  historyLines: whole(1, LIMITS.history, "lines"),
  interval: whole(1, LIMITS.interval, "instructions"),
  window: whole(0, LIMITS.window, "instructions"),
  transientWindow: whole(0, LIMITS.transientWindow, "instructions"),
  regsEvery: whole(1, LIMITS.interval, "instructions"),
  /** Instructions a trace chunk covers: what one chunk's decoding may hold. */
  chunk: whole(1, LIMITS.chunk, "instructions"),
  /** A trace's register snapshots: every this many instructions, 0 for none. */
  detail: whole(0, LIMITS.interval, "instructions"),
  jobs: whole(1, 256, "pairs"),
};

/** "a whole number of instructions from 1 to 4,194,304", for messages. */
export function describeBound(b: Bound): string {
  const n = (x: number) => x.toLocaleString("en-US", { maximumFractionDigits: 3 });
  return `${b.integer ? "a whole number" : "a number"} of ${b.unit} from ${n(b.min)} to ${
    n(b.max)
  }`;
}

/**
 * `value` if it is a finite number within `bound`; otherwise a RangeError
 * naming `name`, the value and the range. Callers turn it into their own
 * error (a usage error, a bad suite file, a damaged trace).
 */
export function checkBound(name: string, value: unknown, bound: Bound): number {
  if (
    typeof value !== "number" || !Number.isFinite(value) ||
    (bound.integer && !Number.isSafeInteger(value)) || value < bound.min || value > bound.max
  ) {
    const shown = typeof value === "number" ? String(value) : JSON.stringify(value) ?? "nothing";
    throw new RangeError(`Invalid ${name}: ${shown} (expected ${describeBound(bound)})`);
  }
  return value;
}

/**
 * A number written as text (an option's value): digits, and a decimal
 * part where the bound allows one; no sign, exponent or "Infinity". Then
 * checkBound().
 */
export function parseBounded(name: string, text: string, bound: Bound): number {
  const form = bound.integer ? /^\d+$/ : /^\d+(\.\d+)?$/;
  if (!form.test(text)) {
    throw new RangeError(`Invalid ${name}: ${text} (expected ${describeBound(bound)})`);
  }
  return checkBound(name, Number(text), bound);
}

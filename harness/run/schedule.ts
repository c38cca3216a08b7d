/**
 * The order guest threads ran in (linux-user, plugin-src/threads.c): the
 * side that decides writes each decision (a position and the thread that
 * runs from there, two u64 in the host's byte order) to its run
 * directory; a later pass over the same guest is given them to follow, so
 * that its re-run retraces the first run's order instead of meeting the
 * host's timing again. Single-threaded guests write nothing.
 */
import { join } from "../../deps/path.ts";
import { SCHEDULE_IN, SCHEDULE_OUT, type ScheduleFiles } from "../plan/command_line.ts";
import type { Role } from "../core/protocol.ts";
import type { Decision } from "../trace/format.ts";

/** Bytes of one decision. */
export const DECISION_BYTES = 16;

/** A pass's threads' order: the decisions it was given, then those it made. */
export interface Schedule {
  readonly bytes: Uint8Array;
}

/** How many decisions a schedule holds. */
export function decisions(s: Schedule | undefined): number {
  return s ? Math.floor(s.bytes.length / DECISION_BYTES) : 0;
}

/**
 * What the deciding side of a finished pass in `dir` followed and decided:
 * `given` (what it replayed) and its own, whole decisions only (a side
 * killed mid-write leaves a part). Undefined when there was none.
 */
export async function readSchedule(
  dir: string,
  given: Schedule | undefined,
): Promise<Schedule | undefined> {
  let own: Uint8Array;
  try {
    own = await Deno.readFile(join(dir, SCHEDULE_OUT));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return given;
    throw e;
  }
  own = own.subarray(0, own.length - (own.length % DECISION_BYTES));
  if (!given || given.bytes.length === 0) return own.length > 0 ? { bytes: own } : undefined;
  const bytes = new Uint8Array(given.bytes.length + own.length);
  bytes.set(given.bytes);
  bytes.set(own, given.bytes.length);
  return { bytes };
}

/** Puts a schedule to follow into a new run directory (before its QEMUs start). */
export async function placeSchedule(dir: string, s: Schedule | undefined): Promise<void> {
  if (s && s.bytes.length > 0) {
    await Deno.writeFile(join(dir, SCHEDULE_IN), s.bytes, { createNew: true, mode: 0o600 });
  }
}

/**
 * One side's schedule files in `dir`: the one placeSchedule() put there to
 * follow, and where the deciding side (`decides`) writes its own.
 */
export function scheduleFiles(
  dir: string,
  role: Role,
  decides: Role | undefined,
  s: Schedule | undefined,
): ScheduleFiles {
  return {
    ...(s && s.bytes.length > 0 ? { replay: join(dir, SCHEDULE_IN) } : {}),
    ...(role === decides ? { write: join(dir, SCHEDULE_OUT) } : {}),
  };
}

/** The plugin writes in the host's byte order. */
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A schedule's decisions, as a trace keeps them. */
export function scheduleDecisions(s: Schedule | undefined): Decision[] {
  if (!s) return [];
  const v = new DataView(s.bytes.buffer, s.bytes.byteOffset, s.bytes.byteLength);
  const out: Decision[] = [];
  for (let o = 0; o + DECISION_BYTES <= s.bytes.length; o += DECISION_BYTES) {
    out.push({ pos: v.getBigUint64(o, LITTLE), thread: v.getBigUint64(o + 8, LITTLE) });
  }
  return out;
}

/** A trace's decisions as a schedule to follow (undefined: none). */
export function decisionsSchedule(ds: readonly Decision[]): Schedule | undefined {
  if (ds.length === 0) return undefined;
  const bytes = new Uint8Array(ds.length * DECISION_BYTES);
  const v = new DataView(bytes.buffer);
  ds.forEach((d, i) => {
    v.setBigUint64(i * DECISION_BYTES, d.pos, LITTLE);
    v.setBigUint64(i * DECISION_BYTES + 8, d.thread, LITTLE);
  });
  return { bytes };
}

/**
 * The order guest threads ran in (linux-user, plugin-src/threads.c): the
 * side that decides reports each decision (a position and the thread that
 * runs from there) to the harness, which keeps the first process's; a
 * later run over the same guest is given them in a file to follow, so
 * that it retraces the first run's order instead of meeting the host's
 * timing again. Single-threaded guests make none.
 */
import { join } from "../../deps/path.ts";
import { SCHEDULE_IN, type ScheduleFiles } from "../plan/command_line.ts";
import type { Decision } from "../trace/format.ts";

/** A run's threads' order: its decisions, by position. */
export type Schedule = readonly Decision[];

/** Bytes of one decision in the file the plugin reads (two u64, host byte order). */
const DECISION_BYTES = 16;
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The order a run of the deciding side took: the decisions it was given
 * (`given`), then those it made itself once they ran out.
 */
export function runSchedule(given: Schedule | undefined, own: Schedule | undefined): Schedule {
  return [...(given ?? []), ...(own ?? [])];
}

/** Puts a schedule to follow into a new run directory (before its QEMUs start). */
export async function placeSchedule(dir: string, s: Schedule | undefined): Promise<void> {
  if (!s || s.length === 0) return;
  const bytes = new Uint8Array(s.length * DECISION_BYTES);
  const v = new DataView(bytes.buffer);
  s.forEach((d, i) => {
    v.setBigUint64(i * DECISION_BYTES, d.pos, LITTLE);
    v.setBigUint64(i * DECISION_BYTES + 8, d.thread, LITTLE);
  });
  await Deno.writeFile(join(dir, SCHEDULE_IN), bytes, { createNew: true, mode: 0o600 });
}

/** A side's files in `dir`: the schedule placeSchedule() put there to follow. */
export function scheduleFiles(dir: string, s: Schedule | undefined): ScheduleFiles {
  return s && s.length > 0 ? { replay: join(dir, SCHEDULE_IN) } : {};
}

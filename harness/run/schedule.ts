/**
 * The order guest threads ran in (linux-user, plugin-src/threads.c): the
 * side that decides reports each decision (a position and the thread that
 * runs from there) to the harness, which keeps the first process's,
 * packed (harness/trace/decisions.ts); a later run over the same guest is
 * given them in a file to follow, so that it retraces the first run's
 * order instead of meeting the host's timing again. Single-threaded
 * guests make none.
 */
import { join } from "../../deps/path.ts";
import { SCHEDULE_IN, type ScheduleFiles } from "../plan/command_line.ts";
import type { Decisions } from "../trace/decisions.ts";

/** A run's threads' order: its decisions, packed. */
export type Schedule = Decisions;

/**
 * The order a run of the deciding side took: the decisions it was given
 * (`given`), then those it made itself once they ran out.
 */
export function runSchedule(given: Schedule | undefined, own: Schedule | undefined): Schedule {
  const out = new Uint8Array((given?.length ?? 0) + (own?.length ?? 0));
  if (given) out.set(given);
  if (own) out.set(own, given?.length ?? 0);
  return out;
}

/** Puts a schedule to follow into a new run directory (before its QEMUs start). */
export async function placeSchedule(dir: string, s: Schedule | undefined): Promise<void> {
  if (s && s.length > 0) {
    await Deno.writeFile(join(dir, SCHEDULE_IN), s, { createNew: true, mode: 0o600 });
  }
}

/** A side's files in `dir`: the schedule placeSchedule() put there to follow. */
export function scheduleFiles(dir: string, s: Schedule | undefined): ScheduleFiles {
  return s && s.length > 0 ? { replay: join(dir, SCHEDULE_IN) } : {};
}

/**
 * After the verdict: both QEMUs run again to the divergence and stop
 * there, each under a gdbstub a debugger attaches to (session.ts). What to
 * stop at comes from the verdict (target.ts); a verdict read back from its
 * JSON (verdict_file.ts) is planned again from its command lines
 * (plan_from_verdict.ts). QEMU's own log of the blocks at the divergence
 * comes the same way (divergence_log.ts). docs/debugging.md describes it.
 *
 * This file is the folder's public face for the top mod.ts.
 *
 * @module
 */
export {
  type BatchOutput,
  debugBudget,
  type DebugRequest,
  DebugSession,
  type DebugSide,
  type SessionEnd,
} from "./session.ts";
export { type DebugTarget, debugTarget, type SideTarget, type StopWhen } from "./target.ts";
export { parseVerdict } from "./verdict_file.ts";
export { optionsFromVerdict, planFromVerdict } from "./plan_from_verdict.ts";
export { DebugError } from "./debug_error.ts";
export { GDB } from "./gdb_command.ts";
export { type DivergenceLogRequest, LOG_MAX_BYTES, logAtDivergence } from "./divergence_log.ts";

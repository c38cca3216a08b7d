/**
 * qemu-lockstep as a library: plan a run, run it, get a Verdict. Nothing
 * here prints or exits; cli/ is the front end.
 *
 * @module
 */
export { type LockstepOptions, planRun, type RunPlan, type SidePlan } from "./harness/plan.ts";
export { type Progress, runLockstep, type SessionOptions } from "./harness/session.ts";
export type {
  Divergence,
  Excursion,
  NarrowReport,
  RegDiff,
  SideResult,
  Status,
  StoppedBy,
  Verdict,
} from "./harness/verdict.ts";
export {
  compareDumps,
  type CompareResult,
  type DumpBlock,
  type SideDump,
} from "./harness/compare.ts";
export { chooseRegisters, type RegChoice, type RegInfo } from "./harness/registers.ts";
export { findReconvergence, type Reconvergence } from "./harness/transient.ts";
export { SetupError } from "./harness/errors.ts";
export { type ArchPreset, PRESETS } from "./harness/presets.ts";
export { buildPlugin, type BuiltPlugin } from "./harness/plugin_build.ts";
export { pluginApiFor, probeQemu, type QemuBinary } from "./harness/qemu_binary.ts";

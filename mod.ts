/**
 * qemu-lockstep as a library: plan a run, run it, get a Verdict; run a
 * suite of runs; find the QEMUs a machine has. Nothing here prints or
 * exits; cli/ is the front end and uses only what this module exports.
 *
 * @module
 */
export { DEFAULTS, LIMITS } from "./harness/defaults.ts";
export { type LockstepOptions, planRun, type RunPlan, type SidePlan } from "./harness/plan.ts";
export { type Progress, runLockstep, type SessionOptions } from "./harness/session.ts";
export type {
  DisassemblerInfo,
  Divergence,
  EnvironmentDifference,
  EventView,
  Excursion,
  HistoryInsn,
  NamedBlock,
  NamedInsn,
  NarrowReport,
  RegDiff,
  SideResult,
  Status,
  StepView,
  StoppedBy,
  Timeline,
  Verdict,
} from "./harness/verdict.ts";
export {
  type DisasInput,
  type DisasOptions,
  disassemble,
  type Disassembly,
  withDisassembly,
} from "./harness/disasm.ts";
export {
  type BlockView,
  compareDumps,
  type CompareResult,
  type SideDump,
} from "./harness/compare.ts";
export type { DumpBlock, DumpEvent, PluginMessage } from "./harness/protocol.ts";
export { chooseRegisters, type RegChoice, type RegInfo } from "./harness/registers.ts";
export { findReconvergence, type Reconvergence } from "./harness/transient.ts";
export { SetupError } from "./harness/errors.ts";
export { type ArchPreset, PRESETS } from "./harness/presets.ts";
export { buildPlugin, type BuiltPlugin } from "./harness/plugin_build.ts";
export { pluginApiFor, probeQemu, type QemuBinary } from "./harness/qemu_binary.ts";
export {
  type CaseResult,
  type Expectation,
  runSuite,
  shardOf,
  type SuiteCase,
  type SuiteRunOptions,
} from "./harness/suite.ts";
export {
  checkQemus,
  type DoctorRow,
  findQemus,
  QEMU_10_0_DIR,
  QEMU_10_2_DIR,
} from "./harness/doctor.ts";

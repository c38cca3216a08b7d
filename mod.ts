/**
 * qemu-lockstep as a library: plan a run, run it, get a Verdict; run a
 * suite of runs; find the QEMUs a machine has. Nothing here prints or
 * exits; cli/ is the front end and uses only what this module exports.
 * Each folder of harness/ says in its own mod.ts what it owns.
 *
 * @module
 */
export { DEFAULTS, LIMITS } from "./harness/core/mod.ts";
export type { DumpBlock, DumpEvent, PluginMessage } from "./harness/core/mod.ts";
export { QemuSetupError, SetupError } from "./harness/core/mod.ts";
export { type Bound, BOUNDS, checkBound, describeBound, parseBounded } from "./harness/core/mod.ts";
export {
  checkOutput,
  openOutputDir,
  OutputError,
  OutputFile,
  type OutputOptions,
  writeOutput,
} from "./harness/core/mod.ts";
export { type ArchPreset, PRESETS } from "./harness/core/mod.ts";
export type {
  DisassemblerInfo,
  Divergence,
  DivergenceLogs,
  EnvironmentDifference,
  EventView,
  Excursion,
  HistoryInsn,
  NamedBlock,
  NamedInsn,
  NarrowReport,
  RegDiff,
  SideLog,
  SideResult,
  Status,
  StepView,
  StoppedBy,
  Timeline,
  TraceInfo,
  TraceWindow,
  Verdict,
  WindowStep,
} from "./harness/verdict/mod.ts";
export { type BlockView, diffDumps, type DumpDiff, type SideDump } from "./harness/verdict/mod.ts";
export { findReconvergence, type Reconvergence } from "./harness/verdict/mod.ts";
export { openTrace, readTrace, type Trace, traceBytes } from "./harness/trace/mod.ts";
export {
  TraceError,
  type TraceHeader,
  type TraceOptions,
  type TraceSummary,
} from "./harness/trace/mod.ts";
export {
  type DisasInput,
  type DisasOptions,
  disassemble,
  type Disassembly,
  withDisassembly,
} from "./harness/guest/mod.ts";
export { buildPlugin, type BuiltPlugin } from "./harness/qemu/mod.ts";
export { openCacheDir } from "./harness/qemu/mod.ts";
export { pluginApiFor, probeQemu, type QemuBinary } from "./harness/qemu/mod.ts";
export { checkQemus, type DoctorRow, findQemus } from "./harness/qemu/mod.ts";
export { type LockstepOptions, planRun, type RunPlan, type SidePlan } from "./harness/plan/mod.ts";
export { chooseRegisters, type RegChoice, type RegInfo } from "./harness/plan/mod.ts";
export { type Progress, runLockstep, type SessionOptions } from "./harness/run/mod.ts";
export {
  fileSha256,
  type RecordOptions,
  type RecordResult,
  recordTrace,
} from "./harness/golden/mod.ts";
export { planAgainst, runAgainst } from "./harness/golden/mod.ts";
export {
  type BatchOutput,
  debugBudget,
  DebugError,
  type DebugRequest,
  DebugSession,
  type DebugSide,
  type DebugTarget,
  debugTarget,
  type DivergenceLogRequest,
  GDB,
  LOG_MAX_BYTES,
  logAtDivergence,
  optionsFromVerdict,
  parseVerdict,
  planFromVerdict,
  type SessionEnd,
  type SideTarget,
  type StopWhen,
} from "./harness/debug/mod.ts";
export { shellQuote } from "./harness/core/mod.ts";
export {
  type CaseResult,
  type Expectation,
  runSuite,
  shardOf,
  type SuiteCase,
  type SuiteRunOptions,
} from "./harness/suite/mod.ts";

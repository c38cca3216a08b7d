/**
 * What a run found and how it is judged from dumps: the Verdict type, the
 * dump comparator that finds the first differing instruction in two dumps
 * (dump_diff.ts), differences the environment makes, transient excursions,
 * and the timeline.
 *
 * This file is the folder's public face for the top mod.ts; the folders
 * above import its files directly.
 *
 * @module
 */
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
  WorldDifference,
  WorldEntry,
} from "./verdict.ts";
export { type BlockView, diffDumps, type DumpDiff, type SideDump } from "./dump_diff.ts";
export { findReconvergence, type Reconvergence } from "./transient.ts";

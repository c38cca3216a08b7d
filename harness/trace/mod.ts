/**
 * The golden trace file: its format and checks, the chunk codec, the
 * reader and the writer. Recording and running against a trace are
 * golden/.
 *
 * This file is the folder's public face for the top mod.ts; the folders
 * above import its files directly.
 *
 * @module
 */
export { openTrace, readTrace, type Trace, traceBytes } from "./reader.ts";
export { TraceError, type TraceHeader, type TraceOptions, type TraceSummary } from "./format.ts";

/**
 * The words every layer shares: errors and their hints, defaults and limits, the
 * plugin protocol (mirrored by plugin-src/protocol.h), per-arch presets,
 * system-call tables, the owners of a child process and of a temporary
 * directory, the reader of newline-delimited text, and how an output file
 * is written (whole, never through a planted link). Imports nothing else
 * of the library.
 *
 * This file is the folder's public face for the top mod.ts; the folders
 * above import its files directly.
 *
 * @module
 */
export { DEFAULTS, LIMITS } from "./defaults.ts";
export type { DumpBlock, DumpEvent, PluginMessage } from "./protocol.ts";
export { QemuSetupError, SetupError } from "./errors.ts";
export {
  checkOutput,
  openOutputDir,
  OutputError,
  OutputFile,
  type OutputOptions,
  writeOutput,
} from "./output_file.ts";
export { type ArchPreset, PRESETS } from "./arch_presets.ts";
export { shellQuote } from "./shell_quote.ts";
export { type Bound, BOUNDS, checkBound, describeBound, parseBounded } from "./bounds.ts";

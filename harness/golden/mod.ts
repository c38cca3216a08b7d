/**
 * Golden traces in use: recording one (record.ts and its stream), and
 * comparing a live QEMU against one (against.ts: the harness plays side A
 * from the trace, then names the first difference).
 *
 * This file is the folder's public face for the top mod.ts; the folders
 * above import its files directly.
 *
 * @module
 */
export { fileSha256, type RecordOptions, type RecordResult, recordTrace } from "./record.ts";
export { planAgainst, runAgainst } from "./against.ts";

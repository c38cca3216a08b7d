/**
 * One lockstep run: the pair of QEMUs under one owner, the control socket,
 * supervision, judging, resuming past transients, narrowing, and the session
 * that returns the Verdict.
 *
 * This file is the folder's public face for the top mod.ts; the folders
 * above import its files directly.
 *
 * @module
 */
export { type Progress, runLockstep, type SessionOptions } from "./session.ts";

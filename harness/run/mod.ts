/**
 * One lockstep run: the pair of QEMUs under one owner, the control socket,
 * supervision, judging, resuming past transients, narrowing, and the session
 * that returns the Verdict; also the loop that supervises one QEMU alone
 * against the harness, which golden/ uses.
 *
 * This file is the folder's public face for the top mod.ts; the folders
 * above import its files directly.
 *
 * @module
 */
export { type Progress, runLockstep, type SessionOptions } from "./session.ts";

/**
 * From options to a plan: the two QEMU command lines, the plugin's
 * arguments, what can be compared, and which registers.
 *
 * This file is the folder's public face for the top mod.ts; the folders
 * above import its files directly.
 *
 * @module
 */
export { type LockstepOptions, planRun, type RunPlan, type SidePlan } from "./plan.ts";
export { chooseRegisters, type RegChoice, type RegInfo } from "./registers.ts";

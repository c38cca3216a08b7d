/**
 * The plugin each side's QEMU loads for the re-runs, and in linux-user the
 * environment shim both preload: built (or taken from the cache) as the
 * lockstep run builds them, so that the re-runs see the guest's world as
 * that run did.
 */
import { buildPlanPlugins } from "../plan/plugins.ts";
import type { RunPlan } from "../plan/plan.ts";

/** Each side's plugin, and the shim (linux-user). */
export interface Plugins {
  readonly a: string;
  readonly b: string;
  readonly shim?: string | undefined;
}

/** Builds what `plan`'s re-runs load, into `cacheDir` (the default cache when undefined). */
export async function buildPlugins(plan: RunPlan, cacheDir: string | undefined): Promise<Plugins> {
  const { a, b, shim } = await buildPlanPlugins(plan, cacheDir);
  return { a: a.path, b: b.path, shim: shim?.path };
}

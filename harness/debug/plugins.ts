/**
 * The plugin each side's QEMU loads for the re-runs, and in linux-user the
 * environment shim both preload: built (or taken from the cache) as the
 * lockstep run builds them, so that the re-runs see the guest's world as
 * that run did.
 */
import { buildPlugin } from "../qemu/plugin_build.ts";
import type { RunPlan, SidePlan } from "../plan/plan.ts";

/** Each side's plugin, and the shim (linux-user). */
export interface Plugins {
  readonly a: string;
  readonly b: string;
  readonly shim?: string | undefined;
}

/** Builds what `plan`'s re-runs load, into `cacheDir` (the default cache when undefined). */
export async function buildPlugins(plan: RunPlan, cacheDir: string | undefined): Promise<Plugins> {
  const build = (side: SidePlan) =>
    buildPlugin({
      source: "lockstep",
      api: side.qemu.pluginApi,
      qemuPath: side.qemu.path,
      header: plan.pluginHeader,
      cacheDir,
    });
  const a = await build(plan.a);
  const same = plan.a.qemu.path === plan.b.qemu.path &&
    plan.a.qemu.pluginApi === plan.b.qemu.pluginApi;
  const b = same ? a : await build(plan.b);
  const shim = plan.mode === "user"
    ? await buildPlugin({ source: "env_shim", api: 0, qemuPath: plan.a.qemu.path, cacheDir })
    : undefined;
  return { a: a.path, b: b.path, shim: shim?.path };
}

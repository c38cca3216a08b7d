/**
 * What a plan's QEMUs load: the lockstep plugin built for each side's
 * plugin API (once when both sides share a QEMU), and in linux-user the
 * environment shim both preload. The lockstep run and the debugger's
 * re-runs build them here, so the re-runs see the world the run saw.
 */
import { buildPlugin, type BuiltPlugin } from "../qemu/plugin_build.ts";
import type { RunPlan, SidePlan } from "./plan.ts";

/** Each side's built plugin, and the shim (linux-user). */
export interface PlanPlugins {
  readonly a: BuiltPlugin;
  readonly b: BuiltPlugin;
  readonly shim: BuiltPlugin | undefined;
}

/** Builds (or takes from the cache in `cacheDir`, the default when undefined) what `plan` loads. */
export async function buildPlanPlugins(
  plan: RunPlan,
  cacheDir: string | undefined,
): Promise<PlanPlugins> {
  const build = (side: SidePlan) =>
    buildPlugin({
      source: "lockstep",
      api: side.qemu.pluginApi,
      qemuPath: side.qemu.path,
      header: plan.pluginHeader,
      cacheDir,
    });
  const a = await build(plan.a);
  const sameBuild = plan.a.qemu.pluginApi === plan.b.qemu.pluginApi &&
    plan.a.qemu.path === plan.b.qemu.path;
  const b = sameBuild ? a : await build(plan.b);
  const shim = plan.mode === "user"
    ? await buildPlugin({ source: "env_shim", api: 0, qemuPath: plan.a.qemu.path, cacheDir })
    : undefined;
  return { a, b, shim };
}

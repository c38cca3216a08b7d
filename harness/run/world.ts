/**
 * Before a linux-user run across two QEMUs (two binaries, or two -cpu
 * choices): the worlds they give the guest, learnt with the world probe
 * (harness/qemu/world_probe.ts). The plan carries how they differ, for the
 * judge (harness/verdict/world.ts), and the verdict warns of it.
 */
import { compareWorlds, cpuOf } from "../qemu/world_probe.ts";
import { cpuChoices, describeWorldEntries, worldFix } from "../verdict/world.ts";
import type { RunPlan } from "../plan/plan.ts";

/** Where the world probes are and where their answers are cached. */
export interface WorldOptions {
  /** The world probe guest for each arch (preset name) that has one. */
  readonly worldProbes?: Readonly<Record<string, string>> | undefined;
  readonly cacheDir?: string | undefined;
}

/**
 * `plan` with `world` set when its two sides' worlds differ, and the
 * warning that says so; the plan as it is when the sides run the same QEMU
 * with the same -cpu, outside linux-user, or with no probe for its arch.
 */
export async function withWorld(
  plan: RunPlan,
  opts: WorldOptions,
): Promise<RunPlan> {
  const probe = opts.worldProbes?.[plan.preset.name];
  const a = { qemu: plan.a.qemu.path, cpu: cpuOf(plan.extra.a, plan.env) };
  const b = { qemu: plan.b.qemu.path, cpu: cpuOf(plan.extra.b, plan.env) };
  if (plan.mode !== "user" || !probe || (a.qemu === b.qemu && a.cpu === b.cpu)) return plan;
  const world = await compareWorlds(a, b, { probe, cacheDir: opts.cacheDir });
  if (!world) return plan;
  return {
    ...plan,
    world,
    warnings: [
      ...plan.warnings,
      `The two QEMUs give the guest different worlds (${cpuChoices(world)}): ${
        describeWorldEntries(world.entries)
      }; ` +
      `${worldFix(world)}. A difference where the guest reads them is the environment's ` +
      `(docs/environment.md)`,
    ],
  };
}

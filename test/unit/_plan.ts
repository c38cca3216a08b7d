// A RunPlan for unit tests: no QEMU is asked, nothing runs.
import type { RunPlan, SidePlan } from "../../harness/plan/plan.ts";
import { PRESETS } from "../../harness/core/arch_presets.ts";
import { DEFAULTS } from "../../harness/core/defaults.ts";

/** One side of a fake plan: QEMU `api` at a made-up path. */
export function fakeSide(role: "a" | "b", api: number, mode: "system" | "user"): SidePlan {
  const qemu = {
    path: `/opt/qemu-${role}/bin/qemu-${mode === "user" ? "x86_64" : "system-x86_64"}`,
    version: api >= 2 ? "10.2.2" : "7.2.22",
    pluginApi: api,
  };
  return mode === "user"
    ? {
      role,
      mode: "user",
      qemu,
      image: `/guests/${role}/hello`,
      command: "/bin/sh",
      head: ["/usr/bin/setarch", "x86_64", "-R", qemu.path, "-seed", "1", "-d", "plugin,nochain"],
      tail: ["-0", "hello"],
    }
    : {
      role,
      mode: "system",
      qemu,
      image: `/guests/${role}/kernel`,
      command: qemu.path,
      head: ["-M", "pc", "-d", "plugin,nochain"],
      tail: ["-kernel", `/guests/${role}/kernel`],
    };
}

/** A plan with defaults, `overrides` on top. */
export function fakePlan(
  overrides: Partial<RunPlan> & { apis?: [number, number] } = {},
): RunPlan {
  const mode = overrides.mode ?? "user";
  const [apiA, apiB] = overrides.apis ?? [1, 1];
  return {
    preset: PRESETS.x86_64!,
    mode,
    history: DEFAULTS.history,
    maxInsns: undefined,
    interval: DEFAULTS.interval,
    window: DEFAULTS.window,
    pluginHeader: undefined,
    guestArgs: [],
    guestName: mode === "user" ? "hello" : "kernel",
    extra: { a: [], b: [] },
    compare: ["pc"],
    maskRegs: [],
    regsEvery: DEFAULTS.regsEvery,
    narrow: true,
    transientWindow: 0,
    fast: {
      enabled: true,
      why: null,
      interval: DEFAULTS.fastInterval,
      window: DEFAULTS.fastWindow,
    },
    notCompared: [],
    sameLayout: true,
    fixedDevices: false,
    ldPrefix: undefined,
    counters: false,
    warnings: [],
    env: { PATH: "/usr/bin:/bin" },
    cwd: "/",
    a: fakeSide("a", apiA, mode),
    b: fakeSide("b", apiB, mode),
    ...overrides,
  };
}

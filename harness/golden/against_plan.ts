/**
 * Planning a run against a golden trace: what must be as it was recorded,
 * and the trace's registers on the live side.
 */

import { QemuSetupError } from "../core/errors.ts";
import { type LockstepOptions, planRun, type RunPlan } from "../plan/plan.ts";
import { findPreset } from "../core/arch_presets.ts";
import type { Role } from "../core/protocol.ts";
import { fileSha256 } from "./record.ts";
import type { RegChoice } from "../plan/registers.ts";
import type { Trace } from "../trace/reader.ts";
import { TraceError } from "../trace/format.ts";
import { DEFAULTS } from "../core/defaults.ts";
import { resolve } from "../../deps/path.ts";

/**
 * A run that does not fit the trace (a TraceError: the same whatever the
 * QEMU under test, so --bisect stops rather than skips).
 */
function mismatch(trace: Trace, what: string, hint: string): TraceError {
  return new TraceError(`Cannot compare with trace ${trace.name}: ${what}`, hint);
}

const same = (x: readonly string[], y: readonly string[]) =>
  x.length === y.length && x.every((v, i) => v === y[i]);

const shell = (args: readonly string[]) =>
  args.length === 0 ? "none" : args.map((a) => JSON.stringify(a)).join(" ");

/**
 * Plans a run against `trace`: side A is the trace (its QEMU neither run
 * nor probed), side B the live QEMU. Whatever the recorded stream depends
 * on must be as it was (the image by its sha256, the architecture, mode,
 * QEMU arguments, guest arguments): a mismatch is a SetupError naming it.
 */
export async function planAgainst(opts: LockstepOptions, trace: Trace): Promise<RunPlan> {
  const h = trace.header;
  const o = h.options;
  if (opts.qemuA || (opts.extraA?.length ?? 0) > 0) {
    throw mismatch(
      trace,
      `side a is the trace (QEMU ${h.qemu.version}): --qemu-a and --extra-a do not apply`,
      "pick the live QEMU with --qemu (or --qemu-b), its own arguments with --extra-b",
    );
  }
  if (opts.fast === false || (opts.transientWindow ?? 0) > 0) {
    throw mismatch(
      trace,
      "--no-fast and --transient-window need a live side a",
      "drop them; the trace names the first difference by itself",
    );
  }
  const preset = findPreset(opts.arch);
  if (preset && preset.name !== h.arch) {
    throw mismatch(
      trace,
      `it was recorded for ${h.arch}, this run is ${preset.name}`,
      `run it as ${h.arch}`,
    );
  }
  const image = await fileSha256(resolve(opts.image));
  if (image.sha256 !== h.image.sha256) {
    throw mismatch(
      trace,
      `image ${opts.image} is not the one it was recorded with (sha256 ${
        image.sha256.slice(0, 16)
      }…; the trace's ${h.image.name} has ${h.image.sha256.slice(0, 16)}…)`,
      "give the recorded image as <IMAGE>; a modified guest goes in --image-b",
    );
  }
  if ((opts.bios ?? false) !== o.bios) {
    throw mismatch(
      trace,
      `it was recorded ${o.bios ? "with" : "without"} --bios`,
      o.bios ? "add --bios" : "drop --bios",
    );
  }
  if (!same(opts.extra ?? [], o.extra)) {
    throw mismatch(
      trace,
      `it was recorded with the QEMU arguments ${shell(o.extra)}, this run has ${
        shell(opts.extra ?? [])
      }`,
      "pass the same --extra; arguments for the live QEMU alone go in --extra-b",
    );
  }
  if (!same(opts.guestArgs ?? [], o.guestArgs)) {
    throw mismatch(
      trace,
      `the guest was recorded with the arguments ${shell(o.guestArgs)}, this run gives ${
        shell(opts.guestArgs ?? [])
      }`,
      "give the same guest arguments after --",
    );
  }
  if ((opts.maskRegs?.length ?? 0) > 0 && !same(opts.maskRegs!, o.maskRegs)) {
    throw mismatch(
      trace,
      `its register snapshots leave out ${shell(o.maskRegs)}; --mask-reg cannot change that`,
      "drop --mask-reg, or record again with it",
    );
  }
  // pc is always compared (comparisons()): a trace recorded with
  // --compare syscalls holds pc and syscalls.
  const asked = opts.compare ?? ["all"];
  if (
    !(asked.length === 1 && asked[0] === "all") &&
    !same([...new Set(["pc", ...asked])].sort(), [...h.compared].sort())
  ) {
    throw mismatch(
      trace,
      `it holds ${h.compared.join(", ")}; --compare cannot change that`,
      "drop --compare, or record again with it",
    );
  }
  const end = trace.summary.end;
  let maxInsns = o.maxInsns ?? undefined;
  if (opts.maxInsns !== undefined && opts.maxInsns !== o.maxInsns) {
    const ok = opts.maxInsns <= end.insns &&
      (opts.maxInsns === end.insns || opts.maxInsns % h.interval === 0);
    if (!ok) {
      throw mismatch(
        trace,
        `it holds hashes at multiples of ${h.interval} instructions up to ${end.insns}, not at --max-insns ${opts.maxInsns}`,
        `use a multiple of ${h.interval} up to ${end.insns}, or no --max-insns`,
      );
    }
    maxInsns = opts.maxInsns;
  }
  const plan = await planRun({
    ...opts,
    guestName: o.guestName,
    maxInsns,
    compare: ["all"],
    knownQemuA: h.qemu,
  });
  if (plan.mode !== h.mode) {
    throw mismatch(
      trace,
      `it was recorded in ${h.mode} mode, this run is in ${plan.mode} mode`,
      h.mode === "user" ? "add --user" : "add --system",
    );
  }
  const live = plan.b.qemu;
  if (h.compared.includes("regs") && live.pluginApi < 2) {
    // The QEMU under test's doing (its version): skipped by --bisect.
    throw new QemuSetupError(
      `Cannot compare with trace ${trace.name}: it holds register snapshots, which side b's QEMU ${live.version} (plugin API ${live.pluginApi}) cannot take (API 2, QEMU 9.0 or later)`,
      "compare on a QEMU of 9.0 or later, or record the trace with --compare pc,syscalls",
    );
  }
  if (h.outputs && live.pluginApi < 4) {
    throw new QemuSetupError(
      `Cannot compare with trace ${trace.name}: it holds what system calls wrote, which side b's QEMU ${live.version} (plugin API ${live.pluginApi}) cannot read (API 4, QEMU 9.2 or later)`,
      "compare on a QEMU of 9.2 or later, or record the trace on a QEMU before 9.2",
    );
  }
  // The trace holds addresses (events' and results'): the live side keeps
  // them too. Two versions may place a linux-user guest differently.
  const warnings = plan.mode === "user" && live.version !== h.qemu.version
    ? [
      `The trace was recorded on QEMU ${h.qemu.version}, side b is ${live.version}: in linux-user ` +
      `two versions may place the guest's stack and mappings differently, and the trace holds ` +
      `addresses; a difference in one is then not TCG's (record the trace with the same version)`,
    ]
    : [];
  const notCompared = [
    {
      what: "mem",
      why: "a trace holds no memory accesses (compare two live QEMUs with --no-fast for them)",
    },
    ...(h.compared.includes("regs") ? [] : [{
      what: "regs",
      why: `the trace holds no registers (QEMU ${h.qemu.version}, plugin API ${h.qemu.pluginApi}` +
        (h.qemu.pluginApi >= 2 ? `, or none of ${h.arch} described` : "") + ")",
    }]),
  ];
  return {
    ...plan,
    compare: h.compared,
    sameLayout: true,
    // A trace keeps the host's counter values (record= writes none).
    counters: false,
    warnings: [...plan.warnings, ...warnings],
    notCompared,
    fast: { enabled: true, why: null, interval: h.interval, window: DEFAULTS.fastWindow },
  };
}

/** The trace's registers, as indices into the live side's list; missing ones are a QemuSetupError. */
export function traceRegisters(
  trace: Trace,
): (listed: Partial<Record<Role, readonly { name: string; size: number }[]>>) => RegChoice {
  return (listed) => {
    const list = listed.b ?? [];
    const index = new Map(list.map((r, i) => [r.name, i]));
    const missing = trace.header.registers.filter((n) => !index.has(n));
    if (missing.length > 0) {
      throw new QemuSetupError(
        `Cannot compare with trace ${trace.name}: side b's QEMU does not describe the registers ${
          missing.join(", ")
        }, which its snapshots hold`,
        "record the trace again with --mask-reg for them",
      );
    }
    const b = trace.header.registers.map((n) => index.get(n)!);
    return { names: trace.header.registers, a: b, b, skipped: [] };
  };
}

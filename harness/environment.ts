/**
 * The guest's environment (linux-user): whether the first difference two
 * dumps show is the host's answer to a system call rather than anything
 * TCG computed, and what to tell the user then. How both sides are made to
 * see the same world is in docs/environment.md.
 */
import { type DumpEvent, EventKind } from "./protocol.ts";
import { ENVIRONMENT_CALLS, syscallName } from "./syscalls.ts";
import type { EnvironmentDifference } from "./verdict.ts";

const ANSWERS: readonly number[] = [EventKind.SYSRET, EventKind.SYSOUT];

/**
 * The environment difference behind a pair of first differing events, if
 * it is one: a system call's result, or what it wrote, differs while the
 * call itself (its number, and its arguments, compared before) agrees.
 */
export function environmentDifference(
  x: DumpEvent | undefined,
  y: DumpEvent | undefined,
  arch: string,
): EnvironmentDifference | undefined {
  const e = x ?? y;
  if (!e || !ANSWERS.includes(e.kind)) return undefined;
  for (const other of [x, y]) {
    if (other && (!ANSWERS.includes(other.kind) || other.a !== e.a)) return undefined;
  }
  const number = Number(e.a);
  const name = syscallName(arch, number);
  const call = name ?? `syscall ${number}`;
  const output = e.kind === EventKind.SYSOUT;
  const value = (v: DumpEvent | undefined) =>
    !v || v.kind !== e.kind
      ? null
      : output
      ? `0x${v.v.toString(16)}`
      : BigInt.asIntN(64, v.v).toString();
  return {
    call,
    number,
    what: output ? "output" : "result",
    ...(output ? { offset: e.size } : {}),
    a: value(x),
    b: value(y),
    hint: name && ENVIRONMENT_CALLS.includes(name)
      ? `lockstep answers ${name} with fixed values on both sides through its environment ` +
        `shim (docs/environment.md): one side's QEMU ran without it, or reached the host ` +
        `another way`
      : `the guest asked the same (number and arguments agree) and the host answered ` +
        `differently: a file, device or host state that differs between the sides, or QEMU's ` +
        `emulation of ${call}; not TCG's doing (docs/environment.md)`,
  };
}

/** One sentence for the verdict's message. */
export function describeEnvironment(d: EnvironmentDifference, insn: number): string {
  const call = `${d.call} (${d.number})`;
  const sides = `${d.a ?? "nothing"} on side a, ${d.b ?? "nothing"} on side b`;
  return d.what === "result"
    ? `The environment differs at instruction ${insn}: ${call} returned ${sides}`
    : `The environment differs at instruction ${insn}: ${call} wrote ${sides} ` +
      `(at byte ${d.offset} of what it wrote)`;
}

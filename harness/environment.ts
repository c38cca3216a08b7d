/**
 * The guest's environment (linux-user): whether the first difference two
 * dumps show is the host's answer to a system call rather than anything
 * TCG computed, and what to tell the user then. How both sides are made to
 * see the same world is in docs/environment.md.
 */
import { type DumpEvent, EventKind } from "./protocol.ts";
import { ENVIRONMENT_CALLS, syscallName } from "./syscalls.ts";
import type { EnvironmentDifference } from "./verdict.ts";
import { join } from "../deps/path.ts";

/**
 * The directory under a run's own that QEMU gets as its -L prefix: QEMU
 * looks a guest's absolute paths up there first, so the guest's
 * /dev/urandom and /dev/random are the files placeDevices() writes.
 */
export const DEVICE_ROOT = "root";

/** Bytes of each device file: reads past them see its end. */
const DEVICE_BYTES = 64 << 10;

/**
 * Writes the guest's /dev/urandom and /dev/random under `runDir`: the same
 * fixed pseudo-random bytes on both sides and in every run (regular files,
 * not character devices).
 */
export async function placeDevices(runDir: string): Promise<void> {
  const dev = join(runDir, DEVICE_ROOT, "dev");
  await Deno.mkdir(dev, { recursive: true });
  const bytes = new Uint8Array(DEVICE_BYTES);
  const view = new DataView(bytes.buffer);
  // splitmix64, as plugin-src/env_shim.c, with another seed.
  let state = 0x646576696365n; // "device"
  const M = (1n << 64n) - 1n;
  for (let i = 0; i < DEVICE_BYTES; i += 8) {
    state = (state + 0x9e3779b97f4a7c15n) & M;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
    view.setBigUint64(i, z ^ (z >> 31n), true);
  }
  for (const name of ["urandom", "random"]) await Deno.writeFile(join(dev, name), bytes);
}

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

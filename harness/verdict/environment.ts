/**
 * The guest's environment (linux-user): whether the first difference two
 * dumps show is the host's answer to a system call rather than anything
 * TCG computed, and what to tell the user then. How both sides are made to
 * see the same world is in docs/environment.md.
 */
import { type DumpBlock, type DumpEvent, EventKind } from "../core/protocol.ts";
import { ENVIRONMENT_CALLS, syscallName } from "../core/syscalls.ts";
import type { EnvironmentDifference } from "./verdict.ts";
import { describeWorldEntries } from "./world.ts";
import { join } from "../../deps/path.ts";

/**
 * The directory under a run's own that QEMU gets as its -L prefix: QEMU
 * looks a guest's absolute paths up there first, so the guest's
 * /dev/urandom and /dev/random are the files placeDevices() writes.
 */
export const DEVICE_ROOT = "root";

/** Bytes of each device file: reads past them see its end. */
const DEVICE_BYTES = 64 << 10;

/** The device files placeDevices() writes, under the root's dev/. */
const DEVICES = ["urandom", "random"];

/**
 * Writes the guest's /dev/urandom and /dev/random under `runDir`: the same
 * fixed pseudo-random bytes on both sides and in every run (regular files,
 * not character devices). With the user's own prefix (`-L`, say a cross
 * toolchain's libraries), the root links to each thing it holds, so that
 * QEMU still finds the guest's loader and libraries there.
 */
export async function placeDevices(runDir: string, prefix?: string): Promise<void> {
  const root = join(runDir, DEVICE_ROOT);
  const dev = join(root, "dev");
  await Deno.mkdir(dev, { recursive: true });
  if (prefix !== undefined) {
    await linkEntries(prefix, root, ["dev"]);
    await linkEntries(join(prefix, "dev"), dev, DEVICES);
  }
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
  for (const name of DEVICES) await Deno.writeFile(join(dev, name), bytes);
}

/** Links each entry of directory `from` (if it is one) into `to`, but those named in `except`. */
async function linkEntries(from: string, to: string, except: readonly string[]): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(from));
  } catch {
    return; // no such directory: nothing to link
  }
  for (const e of entries) {
    if (!except.includes(e.name)) await Deno.symlink(join(from, e.name), join(to, e.name));
  }
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

/** An instruction that reads a host counter: its name, and whether `hex` (its bytes) is one. */
const COUNTER_READS: Readonly<Record<string, (hex: string) => string | undefined>> = {
  x86_64: (hex) => hex === "0f31" ? "rdtsc" : hex === "0f01f9" ? "rdtscp" : undefined,
  aarch64: (hex) => {
    if (hex.length !== 8) return undefined;
    // MRS Xt, CNTPCT_EL0 / CNTVCT_EL0 / CNTPCTSS_EL0 / CNTVCTSS_EL0, little-endian.
    const word = parseInt(hex.match(/../g)!.reverse().join(""), 16) & ~0x1f;
    const names: Record<number, string> = {
      0xd53be020: "mrs cntpct_el0",
      0xd53be040: "mrs cntvct_el0",
      0xd53be0a0: "mrs cntpctss_el0",
      0xd53be0c0: "mrs cntvctss_el0",
    };
    return names[word >>> 0];
  },
};

/**
 * The last instruction at or before position `pos` of a side's dumped
 * blocks that read the host's time-stamp counter, which linux-user passes
 * through (x86 rdtsc, aarch64 cntvct_el0): no system call, so the shim
 * cannot answer it.
 */
export function counterReadBefore(
  blocks: readonly DumpBlock[],
  pos: number,
  arch: string,
): { insn: number; pc: bigint; name: string } | undefined {
  const match = COUNTER_READS[arch];
  if (!match) return undefined;
  let found: { insn: number; pc: bigint; name: string } | undefined;
  for (const blk of blocks) {
    let pc = blk.pc;
    let off = 0;
    blk.sizes.forEach((size, k) => {
      const name = blk.i + k <= pos ? match(blk.bytes.slice(off, off + 2 * size)) : undefined;
      if (name) found = { insn: blk.i + k, pc, name };
      pc += BigInt(size);
      off += 2 * size;
    });
  }
  return found;
}

/** The events whose value the guest computes, which a counter read may feed. */
const COMPUTED: readonly number[] = [
  EventKind.LOAD,
  EventKind.STORE,
  EventKind.REGS,
  EventKind.SYSCALL,
];

/**
 * A value that differs (a load's or store's, the registers, or a system
 * call's arguments) after the guest read the host's counter since the
 * streams last agreed: most likely the counter's doing. Not certain: the
 * hint says so. A call's result is the host's answer (environmentDifference()).
 */
export function counterDifference(
  x: DumpEvent | undefined,
  y: DumpEvent | undefined,
  read: { insn: number; pc: bigint; name: string },
): EnvironmentDifference | undefined {
  if (!x || !y || x.kind !== y.kind || x.a !== y.a || x.size !== y.size) return undefined;
  if (!COMPUTED.includes(x.kind)) return undefined;
  return {
    call: read.name,
    what: "counter",
    insn: read.insn,
    a: `0x${x.v.toString(16)}`,
    b: `0x${y.v.toString(16)}`,
    hint: `the guest read the host's time-stamp counter (${read.name} at instruction ` +
      `${read.insn}, 0x${read.pc.toString(16)}) after the streams last agreed, and linux-user ` +
      `gives each side its host's counter: a value computed from it differs. Most likely not ` +
      `TCG's doing; if the value cannot come from the counter, look at the instruction named ` +
      `(docs/environment.md)`,
  };
}

/** One sentence for the verdict's message. */
export function describeEnvironment(d: EnvironmentDifference, insn: number): string {
  return `The environment differs at instruction ${insn}: ${environmentDetail(d)}`;
}

/** What differs, as a clause ("read (0) returned 3 on side a, 5 on side b"). */
export function environmentDetail(d: EnvironmentDifference): string {
  if (d.what === "auxv" || d.what === "cpu") {
    const read = d.what === "auxv"
      ? "the streams part before the guest's first system call, having read only its initial " +
        "stack, whose auxiliary vector differs"
      : `the guest asked its CPU (${d.call} at instruction ${d.insn}), which answers differently`;
    return `the two QEMUs give the guest different worlds, and ${read}: ${
      describeWorldEntries(d.entries ?? [])
    }`;
  }
  if (d.what === "counter") {
    return `a value differs (${d.a} on side a, ${d.b} on side b) after ${d.call} read the ` +
      `host's counter at instruction ${d.insn}`;
  }
  const call = `${d.call} (${d.number})`;
  const sides = `${d.a ?? "nothing"} on side a, ${d.b ?? "nothing"} on side b`;
  return d.what === "result"
    ? `${call} returned ${sides}`
    : `${call} wrote ${sides} (at byte ${d.offset} of what it wrote)`;
}

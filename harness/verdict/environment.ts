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

/** Whether `hex` (an instruction's bytes) is an x86 port read: in, ins (any prefixes). */
function x86PortRead(hex: string): boolean {
  let i = 0;
  while (
    i < hex.length &&
    ["66", "67", "f2", "f3", "2e", "3e", "26", "36", "64", "65"].includes(hex.slice(i, i + 2))
  ) {
    i += 2;
  }
  return ["e4", "e5", "ec", "ed", "6c", "6d"].includes(hex.slice(i, i + 2));
}

/**
 * Several vCPUs in system mode (the dump names them): the last x86 port
 * read (`in`, `ins`) at or before `pos` of a side's dumped blocks. Under
 * icount a device's clock is the virtual clock, which QEMU's round-robin
 * can move between runs when an application processor starts
 * (docs/limits.md): a value read from a device may differ with every
 * instruction alike. The caller asks only when both QEMUs were given the
 * same machine.
 */
export function deviceReadBefore(
  blocks: readonly DumpBlock[],
  pos: number,
  arch: string,
): { insn: number; pc: bigint; name: string } | undefined {
  if ((arch !== "x86_64" && arch !== "i386") || !blocks.some((b) => b.cpu !== undefined)) {
    return undefined;
  }
  let found: { insn: number; pc: bigint; name: string } | undefined;
  for (const blk of blocks) {
    let pc = blk.pc;
    let off = 0;
    blk.sizes.forEach((size, k) => {
      if (blk.i + k <= pos && x86PortRead(blk.bytes.slice(off, off + 2 * size))) {
        found = { insn: blk.i + k, pc, name: "in" };
      }
      pc += BigInt(size);
      off += 2 * size;
    });
  }
  return found;
}

/**
 * A value that differs after a port read (deviceReadBefore()): most likely
 * the device's answer, from a virtual clock that moved, not TCG's doing.
 */
export function deviceDifference(
  x: DumpEvent | undefined,
  y: DumpEvent | undefined,
  read: { insn: number; pc: bigint; name: string },
): EnvironmentDifference | undefined {
  return readDifference(
    x,
    y,
    read,
    "device",
    `the guest read a device port (in at instruction ${read.insn}, ` +
      `0x${read.pc.toString(16)}) after the streams last agreed, and with several vCPUs QEMU's ` +
      `virtual clock, which devices count time by, can differ between runs (docs/limits.md): a ` +
      `value computed from it differs. Most likely not TCG's doing; if the value cannot come ` +
      `from the device, look at the instruction named`,
  );
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
  return readDifference(
    x,
    y,
    read,
    "counter",
    `the guest read the host's time-stamp counter (${read.name} at instruction ` +
      `${read.insn}, 0x${read.pc.toString(16)}) after the streams last agreed, and linux-user ` +
      `gives each side its host's counter: a value computed from it differs. Most likely not ` +
      `TCG's doing; if the value cannot come from the counter, look at the instruction named ` +
      `(docs/environment.md)`,
  );
}

/**
 * The same value (a load's or store's, the registers, a call's arguments)
 * differing after an instruction `read` that the environment answers: the
 * difference as `what`, with `hint`.
 */
function readDifference(
  x: DumpEvent | undefined,
  y: DumpEvent | undefined,
  read: { insn: number; pc: bigint; name: string },
  what: "counter" | "device",
  hint: string,
): EnvironmentDifference | undefined {
  if (!x || !y || x.kind !== y.kind || x.a !== y.a || x.size !== y.size) return undefined;
  if (!COMPUTED.includes(x.kind)) return undefined;
  return {
    call: read.name,
    what,
    insn: read.insn,
    a: `0x${x.v.toString(16)}`,
    b: `0x${y.v.toString(16)}`,
    hint,
  };
}

/** One sentence for the verdict's message. */
export function describeEnvironment(d: EnvironmentDifference, insn: number): string {
  return `The environment differs at instruction ${insn}: ${environmentDetail(d)}`;
}

/** Linux's signal numbers (all but sparc's), for the verdict's words. */
const SIGNALS: Readonly<Record<number, string>> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  6: "SIGABRT",
  10: "SIGUSR1",
  12: "SIGUSR2",
  14: "SIGALRM",
  15: "SIGTERM",
  17: "SIGCHLD",
  18: "SIGCONT",
  20: "SIGTSTP",
  21: "SIGTTIN",
  22: "SIGTTOU",
  23: "SIGURG",
  24: "SIGXCPU",
  25: "SIGXFSZ",
  26: "SIGVTALRM",
  27: "SIGPROF",
  28: "SIGWINCH",
  29: "SIGIO",
  30: "SIGPWR",
};

/** A signal's name on `arch` ("signal N" where not known). */
export function signalName(sig: number, arch: string): string {
  if (arch.startsWith("sparc")) return sig === 20 ? "SIGCHLD" : `signal ${sig}`;
  return SIGNALS[sig] ?? `signal ${sig}`;
}

/** One side of a process, as far as its signals go (see PairSide). */
export interface SignalSide {
  /** Handlers its process installed for signals that come at a moment. */
  readonly handlers?: readonly { readonly sig: number; readonly pc: bigint | null }[];
  /** Children it forked (a child's end sends SIGCHLD). */
  readonly forks?: number;
}

/**
 * Where the streams part at `pcs` (each side's address, null at its end;
 * `next`: each side's next one): whether that is a handler of a signal that comes at a moment, not
 * at an instruction (a child's end, a timer), running on one side only.
 * Its address known (the plugin read it), the handler is named when one
 * side is at it (or at the instruction after the first difference), and
 * nothing is said otherwise; unknown, a process that may get such a signal
 * may be there, and the verdict says so rather than blame TCG.
 */
export function signalDifference(
  sides: readonly [SignalSide, SignalSide],
  pcs: readonly [bigint | null, bigint | null],
  arch: string,
  next: readonly (bigint | undefined)[] = [],
): EnvironmentDifference | undefined {
  const hex = (pc: bigint | null) => pc === null ? null : `0x${pc.toString(16)}`;
  const sigchld = arch.startsWith("sparc") ? 20 : 17;
  const all = sides.flatMap((s) => s.handlers ?? []);
  // `next`: each side's instruction after it. Where the first difference is
  // the signal frame QEMU writes (stores of the last instruction before the
  // handler, QEMU 7.2), the handler is the next instruction on that side.
  const at = all.find((h) => h.pc !== null && (pcs.includes(h.pc) || next.includes(h.pc)));
  const forked = sides.some((s) => (s.forks ?? 0) > 0);
  // Where the address is unknown, only signals that come by themselves:
  // SIGCHLD once a child was forked, a timer's or an I/O's (not sparc's
  // numbers). A SIGINT or SIGTERM handler (bash has them) waits for a kill
  // that a lockstep run does not send.
  const byThemselves = arch.startsWith("sparc") ? [] : [14, 23, 26, 27, 29];
  const maybe = at
    ? undefined
    : all.find((h) => h.pc === null && (h.sig === sigchld ? forked : byThemselves.includes(h.sig)));
  const h = at ?? maybe;
  if (!h) return undefined;
  const name = signalName(h.sig, arch);
  const when = h.sig === sigchld ? "when a child ends" : "at a moment of the host's";
  return {
    call: name,
    number: h.sig,
    what: "signal",
    a: hex(pcs[0]),
    b: hex(pcs[1]),
    ...(at ? { handler: hex(at.pc)! } : {}),
    hint: at
      ? `${name} comes ${when}, not at an instruction: each side's guest took it at another ` +
        "instruction. Not TCG's doing; a guest that waits for its children (or blocks the signal) " +
        "takes it at the same place"
      : `${name} comes ${when}, not at an instruction, and the guest handles it; where the ` +
        "plugin reads guest memory (plugin API 4, QEMU 9.2 or later; below it a linux-user guest " +
        "mapped at its own addresses) it knows where the handler is and tells it from a " +
        "difference of TCG's",
  };
}

/**
 * A noted result that differs (see notedDifference()): the environment's
 * answer to a call the guest made alike, at instruction `insn`, before the
 * streams part; as a result difference.
 */
export function notedEnvironment(
  x: DumpEvent,
  y: DumpEvent,
  arch: string,
): EnvironmentDifference | undefined {
  const asResult = (e: DumpEvent): DumpEvent => ({ ...e, kind: EventKind.SYSRET });
  const d = environmentDifference(asResult(x), asResult(y), arch);
  return d && { ...d, insn: x.pos };
}

/** What differs, as a clause ("read (0) returned 3 on side a, 5 on side b"). */
export function environmentDetail(d: EnvironmentDifference): string {
  if (d.what === "signal") {
    const sides = `side a at ${d.a ?? "its end"}, side b at ${d.b ?? "its end"}`;
    return d.handler === undefined
      ? `the streams part (${sides}) in a process that handles ${d.call}, whose handler may run ` +
        "there on one side only"
      : [d.a, d.b].includes(d.handler ?? null)
      ? `${d.call}'s handler (${d.handler}) runs there on one side only (${sides})`
      : `${d.call}'s handler (${d.handler}) runs right after it on one side only, whose signal ` +
        `frame QEMU writes there (${sides})`;
  }
  if (d.what === "auxv" || d.what === "cpu") {
    const read = d.what === "auxv"
      ? "the streams part before the guest's first system call, having read only its initial " +
        "stack, whose auxiliary vector differs"
      : `the guest asked its CPU (${d.call} at instruction ${d.insn}), which answers differently`;
    return `the two QEMUs give the guest different worlds, and ${read}: ${
      describeWorldEntries(d.entries ?? [])
    }`;
  }
  if (d.what === "device") {
    return `a value differs (${d.a} on side a, ${d.b} on side b) after the guest read a device ` +
      `port at instruction ${d.insn}, with several vCPUs`;
  }
  if (d.what === "counter") {
    return `a value differs (${d.a} on side a, ${d.b} on side b) after ${d.call} read the ` +
      `host's counter at instruction ${d.insn}`;
  }
  const call = `${d.call} (${d.number})`;
  const sides = `${d.a ?? "nothing"} on side a, ${d.b ?? "nothing"} on side b`;
  return d.what === "result"
    ? `${call}${d.insn !== undefined ? ` at instruction ${d.insn}` : ""} returned ${sides}`
    : `${call} wrote ${sides} (at byte ${d.offset} of what it wrote)`;
}

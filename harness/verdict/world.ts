/**
 * The guest's world across QEMUs (linux-user): what a QEMU gives every
 * guest besides its program, as the world probe prints it (the auxiliary
 * vector; x86_64 CPUID, aarch64 ID registers), the differences between two
 * sides' worlds, and whether a divergence follows where they differ. The
 * probe runs before the run (harness/qemu/world_probe.ts); the rule is in
 * docs/environment.md ("Their worlds").
 */
import { type DumpBlock, EventKind } from "../core/protocol.ts";
import type { SideDump } from "./dump_diff.ts";
import type { EnvironmentDifference, WorldDifference, WorldEntry } from "./verdict.ts";

/** What a QEMU gives a guest besides its program, for one -cpu. */
export interface World {
  /** The auxiliary vector's entries in order: its type and its value as printed. */
  readonly auxv: readonly (readonly [number, string])[];
  /** What the CPU says of itself: "cpuid LEAF SUBLEAF" or "idreg NAME" to its value. */
  readonly cpu: Readonly<Record<string, string>>;
}

/** The names of the auxiliary vector's entry types (Linux's elf.h). */
const AT_NAMES: Readonly<Record<number, string>> = {
  3: "AT_PHDR",
  4: "AT_PHENT",
  5: "AT_PHNUM",
  6: "AT_PAGESZ",
  7: "AT_BASE",
  8: "AT_FLAGS",
  9: "AT_ENTRY",
  11: "AT_UID",
  12: "AT_EUID",
  13: "AT_GID",
  14: "AT_EGID",
  15: "AT_PLATFORM",
  16: "AT_HWCAP",
  17: "AT_CLKTCK",
  23: "AT_SECURE",
  24: "AT_BASE_PLATFORM",
  25: "AT_RANDOM",
  26: "AT_HWCAP2",
  27: "AT_RSEQ_FEATURE_SIZE",
  28: "AT_RSEQ_ALIGN",
  29: "AT_HWCAP3",
  30: "AT_HWCAP4",
  31: "AT_EXECFN",
  32: "AT_SYSINFO",
  33: "AT_SYSINFO_EHDR",
  51: "AT_MINSIGSTKSZ",
};

/** An auxiliary vector entry's name ("AT_HWCAP2"), or "AT_? (N)". */
export function auxvName(type: number): string {
  return AT_NAMES[type] ?? `AT_? (${type})`;
}

/**
 * The world the probe printed, or undefined when `text` is not a whole
 * probe's output (it ends with a line "end").
 */
export function parseWorld(text: string): World | undefined {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  if (lines.at(-1) !== "end") return undefined;
  const auxv: [number, string][] = [];
  const cpu: Record<string, string> = {};
  for (const line of lines.slice(0, -1)) {
    const aux = /^auxv (\d+) (.+)$/.exec(line);
    const id = /^(cpuid 0x[0-9a-f]{8} \d+|idreg \w+) (.+)$/.exec(line);
    if (aux) auxv.push([Number(aux[1]), aux[2]!]);
    else if (id) cpu[id[1]!] = id[2]!;
    else return undefined;
  }
  return { auxv, cpu };
}

/** The entries in which two worlds differ: the vector's first, then the CPU's; empty when equal. */
export function worldEntries(a: World, b: World): WorldEntry[] {
  const out: WorldEntry[] = [];
  const va = new Map(a.auxv);
  const vb = new Map(b.auxv);
  const types = [...new Set([...a.auxv.map(([t]) => t), ...b.auxv.map(([t]) => t)])];
  for (const t of types) {
    const x = va.get(t) ?? null;
    const y = vb.get(t) ?? null;
    if (x !== y) out.push({ what: "auxv", name: auxvName(t), a: x, b: y });
  }
  const order = (w: World) => w.auxv.map(([t]) => auxvName(t)).join(" ");
  if (out.length === 0 && order(a) !== order(b)) {
    out.push({ what: "auxv", name: "order", a: order(a), b: order(b) });
  }
  const keys = [...new Set([...Object.keys(a.cpu), ...Object.keys(b.cpu)])].sort();
  for (const k of keys) {
    const x = a.cpu[k] ?? null;
    const y = b.cpu[k] ?? null;
    if (x === y) continue;
    const [what, ...rest] = k.split(" ");
    out.push({
      what: what === "cpuid" ? "cpuid" : "idreg",
      name: what === "cpuid" ? `leaf ${rest[0]} subleaf ${rest[1]}` : rest[0]!,
      a: x,
      b: y,
    });
  }
  return out;
}

/** How many bits the CPU's answers set: the richer of two equal choices is suggested. */
export function cpuBits(w: World): number {
  let n = 0;
  for (const v of Object.values(w.cpu)) {
    for (const word of v.split(" ")) {
      if (!/^0x[0-9a-f]+$/.test(word)) continue;
      for (let x = BigInt(word); x > 0n; x >>= 1n) n += Number(x & 1n);
    }
  }
  return n;
}

/**
 * An instruction that asks the CPU what it is: x86 `cpuid`; aarch64 `mrs`
 * of an ID register (op0 3, op1 0, CRn 0: MIDR_EL1, the ID_AA64*_EL1 that
 * linux-user lets EL0 read) or of CTR_EL0, DCZID_EL0.
 */
const CPU_READS: Readonly<Record<string, (hex: string) => string | undefined>> = {
  x86_64: (hex) => hex === "0fa2" ? "cpuid" : undefined,
  aarch64: (hex) => {
    if (hex.length !== 8) return undefined;
    const word = parseInt(hex.match(/../g)!.reverse().join(""), 16) >>> 0;
    // MRS: 1101 0101 0011 op0[0] op1 CRn CRm op2 Rt (op0 = 3, so bit 19 set).
    if ((word & 0xfff00000) >>> 0 !== 0xd5300000) return undefined;
    const op1 = (word >>> 16) & 7;
    const crn = (word >>> 12) & 0xf;
    const crm = (word >>> 8) & 0xf;
    const op2 = (word >>> 5) & 7;
    if (op1 === 0 && crn === 0) return "mrs (an ID register)";
    if (op1 === 3 && crn === 0 && crm === 0 && (op2 === 1 || op2 === 7)) {
      return op2 === 1 ? "mrs ctr_el0" : "mrs dczid_el0";
    }
    return undefined;
  },
};

/** The first instruction at or before `pos` in `blocks` that asks the CPU what it is. */
export function cpuReadBefore(
  blocks: readonly DumpBlock[],
  pos: number,
  arch: string,
): { insn: number; pc: bigint; name: string } | undefined {
  const match = CPU_READS[arch];
  if (!match) return undefined;
  for (const blk of blocks) {
    let pc = blk.pc;
    let off = 0;
    for (let k = 0; k < blk.sizes.length && blk.i + k <= pos; k++) {
      const size = blk.sizes[k]!;
      const name = match(blk.bytes.slice(off, off + 2 * size));
      if (name) return { insn: blk.i + k, pc, name };
      pc += BigInt(size);
      off += 2 * size;
    }
  }
  return undefined;
}

/** What the rule reads of a side's dump: its blocks, and its events (system calls). */
type DumpSide = Pick<SideDump, "blocks" | "events">;

/** What else the rule needs to know of the run. */
export interface WorldRun {
  readonly arch: string;
  /** Both sides run the same image file (no --image-b). */
  readonly sameImage: boolean;
  /** System calls are compared: the dumps hold every call as an event. */
  readonly syscalls: boolean;
}

/**
 * The world's difference behind a divergence at `pos` (side a's count, the
 * dumps' logical positions), if the rule says it is one:
 *
 * - the CPU: the two CPUs answer differently, and the guest asked its CPU
 *   (an instruction of CPU_READS) at or before `pos`, on either side;
 * - the auxiliary vector: the vectors differ, both sides run the same
 *   image, and `pos` comes before the guest's first system call on both
 *   sides (the dumps reach back to its first instruction and hold no call
 *   before `pos`). Until then, a linux-user guest has read nothing from
 *   the host but its initial stack (its arguments and environment, made
 *   the same, and the vector) and its CPU.
 *
 * Most likely, not certainly, the world's doing: TCG may also differ
 * there. The hint says so, and the -cpu that makes the worlds equal (if
 * one does) lets the user see whether the difference remains.
 */
export function worldDifferenceAt(
  diff: WorldDifference,
  a: DumpSide,
  b: DumpSide,
  pos: number,
  run: WorldRun,
): EnvironmentDifference | undefined {
  const cpu = diff.entries.filter((e) => e.what !== "auxv");
  const auxv = diff.entries.filter((e) => e.what === "auxv");
  const read = cpu.length > 0
    ? cpuReadBefore(a.blocks, pos, run.arch) ?? cpuReadBefore(b.blocks, pos, run.arch)
    : undefined;
  const early = (s: DumpSide) =>
    s.blocks[0]?.i === 0 &&
    !(s.events ?? []).some((e) => e.kind === EventKind.SYSCALL && e.pos < pos);
  const vector = auxv.length > 0 && run.sameImage && run.syscalls && early(a) && early(b);
  if (!read && !vector) return undefined;
  // The CPU first when the guest asked it: a -cpu may make that equal.
  const entries = [...(read ? cpu : []), ...(vector ? auxv : [])];
  const parts = [
    ...(read
      ? [
        `after the guest asked its CPU (${read.name} at instruction ${read.insn}, ` +
        `0x${read.pc.toString(16)}), which answers differently`,
      ]
      : []),
    ...(vector
      ? [
        `before the guest's first system call, while all it has read from the host is its ` +
        `initial stack, whose auxiliary vector differs`,
      ]
      : []),
  ];
  return {
    call: read ? read.name : "the auxiliary vector",
    what: read ? "cpu" : "auxv",
    ...(read ? { insn: read.insn } : {}),
    a: describeSide(entries, "a"),
    b: describeSide(entries, "b"),
    entries,
    hint: `the two QEMUs give the guest different worlds (${
      cpuChoices(diff)
    }) and the streams part ${parts.join(", and ")}: most likely the world's doing, not TCG's; ${
      worldFix(diff)
    } (docs/environment.md)`,
  };
}

/** The -cpu each side ran with, as a clause ("-cpu max on both sides"). */
export function cpuChoices(diff: WorldDifference): string {
  const name = (c: string | null) => c === null ? "its QEMU's default CPU" : `-cpu ${c}`;
  return diff.cpu.a === diff.cpu.b
    ? `${name(diff.cpu.a)} on both sides`
    : `${name(diff.cpu.a)} on side a, ${name(diff.cpu.b)} on side b`;
}

/** What makes the two worlds equal, as the probe saw it, or that nothing does. */
export function worldFix(diff: WorldDifference): string {
  const left = diff.remaining.map((e) => e.name).join(", ");
  if (diff.suggestion === null) {
    return `no -cpu model both QEMUs know makes them equal (${diff.tried} tried)`;
  }
  const flag = `--extra=-cpu --extra=${diff.suggestion}`;
  return diff.remaining.length === 0
    ? `${flag} makes them equal (the probe saw it on both QEMUs): run with it to see whether ` +
      `a difference remains, which would then be TCG's`
    : `${flag} makes the CPUs answer the same (the probe saw it on both QEMUs), but ${left} ` +
      `still ${diff.remaining.length === 1 ? "differs" : "differ"} under it: of the ` +
      `${diff.tried} models both QEMUs know, none makes the whole world equal`;
}

/** A side's values of the differing entries, as one string ("AT_MINSIGSTKSZ absent, …"). */
function describeSide(entries: readonly WorldEntry[], side: "a" | "b"): string {
  return entries.map((e) => `${e.name} ${e[side] ?? "absent"}`).join(", ");
}

/** The differing entries, as the message names them: the first few, and how many more. */
export function describeWorldEntries(entries: readonly WorldEntry[], most = 4): string {
  const shown = entries.slice(0, most).map((e) =>
    `${e.what === "cpuid" ? "CPUID " : ""}${e.name} ${e.a ?? "absent"} on side a, ` +
    `${e.b ?? "absent"} on side b`
  );
  const more = entries.length - shown.length;
  return shown.join("; ") + (more > 0 ? `; and ${more} more (see the JSON verdict)` : "");
}

/**
 * Disassembly of the instructions a verdict shows, with binutils' objdump
 * on the bytes the plugins dumped (the plugin's hot path stays as it is).
 * All of a verdict's instructions go into one small relocatable ELF, one
 * section per instruction at its own address: one objdump run disassembles
 * them all, branch targets read as real addresses, and an instruction that
 * objdump decodes to another length spoils only its own section. A missing
 * or unable objdump leaves the instructions without disassembly and says so
 * in a note; it never fails the verdict.
 */
import type { ArchPreset } from "./presets.ts";
import type { RunPlan } from "./plan.ts";
import type { StepView, Verdict } from "./verdict.ts";

/** One instruction to disassemble: its address and bytes (hex). */
export interface DisasInput {
  readonly pc: bigint;
  readonly bytes: string;
  /** arm only: the instruction is Thumb (T32), not A32. */
  readonly thumb?: boolean;
}

/** What objdump made of a batch of instructions. */
export interface Disassembly {
  /** The disassembly of `pc` with `bytes` (as given), or undefined. */
  get(pc: bigint, bytes: string): string | undefined;
  /** The objdump command line (without the file), or null when none ran. */
  readonly command: string | null;
  /** Why instructions have no disassembly, when some have none for a reason of ours. */
  readonly note?: string;
}

/** How to run objdump. */
export interface DisasOptions {
  /** The objdump binary (default "objdump": binutils-multiarch's knows every preset). */
  readonly objdump?: string;
}

/** At most this many distinct instructions are disassembled (ELF section numbers stay small). */
export const MAX_DISAS = 20_000;

const SHT_PROGBITS = 1;
const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const SHT_RISCV_ATTRIBUTES = 0x70000003;
const SHF_ALLOC_EXEC = 0x6;
const EF_ARM_EABI5 = 0x05000000;

/** The objdump arguments for `preset` (architecture and options). */
export function objdumpArgs(preset: ArchPreset): string[] {
  const d = preset.objdump;
  return ["-m", d.arch, ...(d.options ? ["-M", d.options] : [])];
}

const key = (pc: bigint, bytes: string) => `${pc.toString(16)}:${bytes.toLowerCase()}`;

/** Hex to bytes; undefined for anything that is not whole bytes of hex. */
function hexBytes(hex: string): Uint8Array | undefined {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A growing byte buffer with fixed-size writes in one byte order. */
class Writer {
  #buf = new Uint8Array(4096);
  #view = new DataView(this.#buf.buffer);
  length = 0;
  constructor(readonly little: boolean) {}

  #room(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.#room(1);
    this.#buf[this.length++] = v;
  }
  u16(v: number): void {
    this.#room(2);
    this.#view.setUint16(this.length, v, this.little);
    this.length += 2;
  }
  u32(v: number): void {
    this.#room(4);
    this.#view.setUint32(this.length, v, this.little);
    this.length += 4;
  }
  u64(v: bigint): void {
    this.#room(8);
    this.#view.setBigUint64(this.length, BigInt.asUintN(64, v), this.little);
    this.length += 8;
  }
  /** An address or size: 4 bytes in ELF32, 8 in ELF64. */
  word(v: bigint, wide: boolean): void {
    if (wide) this.u64(v);
    else this.u32(Number(BigInt.asUintN(32, v)));
  }
  bytes(b: Uint8Array): void {
    this.#room(b.length);
    this.#buf.set(b, this.length);
    this.length += b.length;
  }
  align(n: number): void {
    while (this.length % n) this.u8(0);
  }
  done(): Uint8Array {
    return this.#buf.slice(0, this.length);
  }
}

/** A section of the container: name, type, address, contents. */
interface Section {
  name: string;
  type: number;
  flags: number;
  addr: bigint;
  data: Uint8Array;
  link?: number;
  info?: number;
  entsize?: number;
}

/** A .riscv.attributes section naming the ISA (objdump takes its extensions from it). */
function riscvAttributes(isa: string): Uint8Array {
  const enc = new TextEncoder();
  const vendor = enc.encode("riscv\0");
  const arch = enc.encode(isa + "\0");
  // 'A', then one vendor subsection: its length, "riscv", then a file
  // subsection (tag 1, its length) holding Tag_RISCV_arch (5) as a string.
  const fileLen = 1 + 4 + 1 + arch.length;
  const subLen = 4 + vendor.length + fileLen;
  const w = new Writer(true);
  w.u8(0x41);
  w.u32(subLen);
  w.bytes(vendor);
  w.u8(1);
  w.u32(fileLen);
  w.u8(5);
  w.bytes(arch);
  return w.done();
}

/**
 * A relocatable ELF for `preset` holding each instruction in a section of
 * its own (named `.iN`, N its index in `insns`) at its address. On arm,
 * mapping symbols ($a, $t) say which instructions are Thumb.
 */
export function containerElf(preset: ArchPreset, insns: readonly DisasInput[]): Uint8Array {
  const wide = preset.elfClass === 2;
  const little = !(preset.bigEndian ?? false);
  const sections: Section[] = insns.map((x, i) => ({
    name: `.i${i}`,
    type: SHT_PROGBITS,
    flags: SHF_ALLOC_EXEC,
    addr: x.pc,
    data: hexBytes(x.bytes) ?? new Uint8Array(0),
  }));
  if (preset.objdump.isa) {
    sections.push({
      name: ".riscv.attributes",
      type: SHT_RISCV_ATTRIBUTES,
      flags: 0,
      addr: 0n,
      data: riscvAttributes(preset.objdump.isa),
    });
  }
  if (preset.name === "arm") {
    // One local mapping symbol at the start of each instruction's section.
    const strtab = new Writer(little);
    strtab.u8(0);
    const names = { a: strtab.length, t: strtab.length + 3 };
    strtab.bytes(new TextEncoder().encode("$a\0$t\0"));
    const sym = new Writer(little);
    sym.bytes(new Uint8Array(16)); // the null symbol (ELF32: 16 bytes)
    insns.forEach((x, i) => {
      sym.u32(x.thumb ? names.t : names.a);
      sym.u32(0); // value: the section's start
      sym.u32(0); // size
      sym.u8(0); // STB_LOCAL, STT_NOTYPE
      sym.u8(0);
      sym.u16(i + 1); // its section's index
    });
    const symIndex = sections.length + 1;
    sections.push({
      name: ".symtab",
      type: SHT_SYMTAB,
      flags: 0,
      addr: 0n,
      data: sym.done(),
      link: symIndex + 1,
      info: insns.length + 1,
      entsize: 16,
    });
    sections.push({ name: ".strtab", type: SHT_STRTAB, flags: 0, addr: 0n, data: strtab.done() });
  }
  const shstr = new Writer(little);
  shstr.u8(0);
  const nameAt = sections.map((s) => {
    const at = shstr.length;
    shstr.bytes(new TextEncoder().encode(s.name + "\0"));
    return at;
  });
  const shstrName = shstr.length;
  shstr.bytes(new TextEncoder().encode(".shstrtab\0"));
  sections.push({ name: ".shstrtab", type: SHT_STRTAB, flags: 0, addr: 0n, data: shstr.done() });
  nameAt.push(shstrName);

  const ehsize = wide ? 64 : 52;
  const shentsize = wide ? 64 : 40;
  const w = new Writer(little);
  w.bytes(new Uint8Array(ehsize)); // the header, written last
  const offsets = sections.map((s) => {
    w.align(4);
    const at = w.length;
    w.bytes(s.data);
    return at;
  });
  w.align(8);
  const shoff = w.length;
  w.bytes(new Uint8Array(shentsize)); // section 0
  sections.forEach((s, i) => {
    w.u32(nameAt[i]!);
    w.u32(s.type);
    w.word(BigInt(s.flags), wide);
    w.word(s.addr, wide);
    w.word(BigInt(offsets[i]!), wide);
    w.word(BigInt(s.data.length), wide);
    w.u32(s.link ?? 0);
    w.u32(s.info ?? 0);
    w.word(1n, wide); // alignment
    w.word(BigInt(s.entsize ?? 0), wide);
  });
  const out = w.done();
  const h = new Writer(little);
  h.bytes(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, wide ? 2 : 1, little ? 1 : 2, 1, 0]));
  h.bytes(new Uint8Array(8));
  h.u16(1); // ET_REL
  h.u16(preset.elfMachines[0]!);
  h.u32(1);
  h.word(0n, wide); // entry
  h.word(0n, wide); // program headers: none
  h.word(BigInt(shoff), wide);
  h.u32(preset.name === "arm" ? EF_ARM_EABI5 : 0);
  h.u16(ehsize);
  h.u16(0);
  h.u16(0);
  h.u16(shentsize);
  h.u16(sections.length + 1);
  h.u16(sections.length); // .shstrtab is the last section
  out.set(h.done(), 0);
  return out;
}

/**
 * Comments objdump derives from the instructions before this one, which in
 * the container are unrelated (RISC-V's value of a register set by an
 * earlier lui or auipc): dropped. Comments from the instruction alone (an
 * x86 rip-relative address) stay.
 */
const CONTEXT_COMMENTS: Readonly<Record<string, RegExp>> = { riscv64: /\s+#.*$/ };

/**
 * Reads `objdump -d` output of a container: for each section `.iN`, the
 * instruction text when objdump decoded exactly one instruction at its
 * address (another length would misread the bytes), else undefined.
 * `arch` (a preset's name) says which comments to drop.
 */
export function parseObjdump(
  text: string,
  insns: readonly DisasInput[],
  arch = "",
): (string | undefined)[] {
  const drop = CONTEXT_COMMENTS[arch];
  const lines = new Map<number, { addr: bigint; text: string }[]>();
  let current: { addr: bigint; text: string }[] | undefined;
  for (const line of text.split("\n")) {
    const section = /^Disassembly of section \.i(\d+):$/.exec(line);
    if (section) {
      current = [];
      lines.set(Number(section[1]), current);
      continue;
    }
    const insn = /^\s*([0-9a-f]+):\s+(\S.*)$/.exec(line);
    if (insn && current) current.push({ addr: BigInt(`0x${insn[1]}`), text: insn[2]! });
  }
  return insns.map((x, i) => {
    const got = lines.get(i);
    if (!got || got.length !== 1 || got[0]!.addr !== BigInt.asUintN(64, x.pc)) return undefined;
    const t = got[0]!.text.replace(drop ?? /$^/, "").replace(/\s+/g, " ").trim();
    // How objdump says it does not know an instruction, per architecture.
    const unknown = /\(bad\)|^\.(byte|short|word|inst|[248]byte)\b|<UNDEFINED>|^unknown$/;
    return t === "" || unknown.test(t) ? undefined : t;
  });
}

/**
 * Disassembles `insns` for `preset` in one objdump run (see the module
 * comment). Never throws: trouble becomes the result's note.
 */
export async function disassemble(
  preset: ArchPreset,
  insns: readonly DisasInput[],
  opts: DisasOptions = {},
): Promise<Disassembly> {
  const objdump = opts.objdump ?? "objdump";
  const args = ["-d", "-z", "-w", "--no-show-raw-insn", ...objdumpArgs(preset)];
  const command = [objdump, ...args].join(" ");
  const unique = new Map<string, DisasInput>();
  for (const x of insns) {
    if (hexBytes(x.bytes) && !unique.has(key(x.pc, x.bytes))) unique.set(key(x.pc, x.bytes), x);
  }
  const list = [...unique.values()].slice(0, MAX_DISAS);
  const found = new Map<string, string>();
  const result = (note?: string): Disassembly => ({
    get: (pc, bytes) => found.get(key(pc, bytes)),
    command: note === undefined || found.size > 0 ? command : null,
    ...(note !== undefined ? { note } : {}),
  });
  if (list.length === 0) return result();
  let file: string | undefined;
  try {
    file = await Deno.makeTempFile({ prefix: "lockstep-disas-", suffix: ".o" });
    await Deno.writeFile(file, containerElf(preset, list));
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command(objdump, {
        args: [...args, file],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        env: { LC_ALL: "C" },
      }).output();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        return result(`no disassembly: ${objdump} not found (install binutils-multiarch)`);
      }
      throw e;
    }
    const dec = new TextDecoder();
    if (!out.success) {
      const said = dec.decode(out.stderr).trim().split("\n")[0]?.replaceAll(`${file}: `, "");
      return result(
        `no disassembly: ${objdump} failed${said ? `: ${said}` : ""} (binutils-multiarch's ` +
          `objdump knows every preset)`,
      );
    }
    parseObjdump(dec.decode(out.stdout), list, preset.name).forEach((t, i) => {
      if (t !== undefined) found.set(key(list[i]!.pc, list[i]!.bytes), t);
    });
    return result(
      unique.size > list.length
        ? `only the first ${MAX_DISAS} distinct instructions were disassembled`
        : undefined,
    );
  } catch (e) {
    return result(`no disassembly: ${(e as Error)?.message ?? e}`);
  } finally {
    if (file) await Deno.remove(file).catch(() => {});
  }
}

/** The preset to disassemble a run's instructions with (a SPARC32PLUS program may use V9's). */
function presetFor(plan: RunPlan): ArchPreset {
  const v8plus = [plan.a, plan.b].some((s) => /qemu-sparc32plus$/.test(s.qemu.path));
  return plan.preset.name === "sparc" && v8plus
    ? { ...plan.preset, objdump: { arch: "sparc:v8plusb" } }
    : plan.preset;
}

/**
 * The verdict with `disas` on every instruction it shows (the divergence,
 * both histories, narrowing where QEMU gave none, transient excursions),
 * from one objdump run, and `disassembler` saying how.
 */
export async function withDisassembly(
  v: Verdict,
  plan: RunPlan,
  opts: DisasOptions = {},
): Promise<Verdict> {
  const d = v.divergence;
  const n = d?.narrow;
  // arm: a block holding a 2-byte instruction is Thumb, and so is all of it.
  const thumbBlocks = new Set<bigint>();
  for (const b of [...(d?.history.a ?? []), ...(d?.history.b ?? [])]) {
    if (b.insns.some((x) => x.bytes.length === 4)) thumbBlocks.add(b.pc);
  }
  const thumb = (bytes: string, blockPc?: bigint) =>
    bytes.length === 4 || (blockPc !== undefined && thumbBlocks.has(blockPc));
  const wanted: DisasInput[] = [];
  const want = (x: { pc: bigint; bytes: string } | null | undefined, blockPc?: bigint) => {
    if (x) wanted.push({ pc: x.pc, bytes: x.bytes, thumb: thumb(x.bytes, blockPc) });
  };
  if (d) {
    want(d.a, d.a?.blockPc);
    want(d.b, d.b?.blockPc);
    for (const b of [...d.history.a, ...d.history.b]) for (const x of b.insns) want(x, b.pc);
    if (n?.a && !n.a.disas) want(n.a);
    if (n?.b && !n.b.disas) want(n.b);
  }
  for (const x of v.transients) {
    want(x.a, x.a?.blockPc);
    want(x.b, x.b?.blockPc);
  }
  if (wanted.length === 0) return v;
  const dis = await disassemble(presetFor(plan), wanted, opts);
  const named = <T extends { pc: bigint; bytes: string }>(x: T): T & { disas?: string } => {
    const text = dis.get(x.pc, x.bytes);
    return text === undefined ? x : { ...x, disas: text };
  };
  const step = (s: StepView | undefined) =>
    s && !s.disas ? { ...s, disas: dis.get(s.pc, s.bytes) ?? "" } : s;
  return {
    ...v,
    divergence: d && {
      ...d,
      a: d.a && named(d.a),
      b: d.b && named(d.b),
      history: {
        a: d.history.a.map((b) => ({ ...b, insns: b.insns.map(named) })),
        b: d.history.b.map((b) => ({ ...b, insns: b.insns.map(named) })),
      },
      ...(n ? { narrow: { ...n, a: step(n.a), b: step(n.b) } } : {}),
    },
    transients: v.transients.map((x) => ({ ...x, a: x.a && named(x.a), b: x.b && named(x.b) })),
    disassembler: { command: dis.command, ...(dis.note !== undefined ? { note: dis.note } : {}) },
  };
}

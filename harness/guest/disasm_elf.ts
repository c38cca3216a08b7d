/**
 * The container objdump reads: a small ELF file of the instructions to
 * disassemble, one section each at its address, for the preset's
 * architecture and flags (disasm.ts runs objdump on it).
 */
import type { ArchPreset } from "../core/arch_presets.ts";
import type { DisasInput } from "./disasm.ts";

const SHT_PROGBITS = 1;
const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const SHT_RISCV_ATTRIBUTES = 0x70000003;
const SHF_ALLOC_EXEC = 0x6;
const EF_ARM_EABI5 = 0x05000000;

/** Hex to bytes; undefined for anything that is not whole bytes of hex. */
export function hexBytes(hex: string): Uint8Array | undefined {
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

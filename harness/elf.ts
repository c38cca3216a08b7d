/**
 * Just enough ELF reading to pick the emulation mode and check the
 * architecture: header fields, program headers and notes.
 */

/** What the mode decision needs to know about an image. */
export interface ElfInfo {
  readonly elfClass: 1 | 2;
  readonly machine: number;
  readonly type: number;
  readonly osabi: number;
  readonly entry: bigint;
  readonly hasInterp: boolean;
  readonly hasLinuxNote: boolean;
  readonly hasMultiboot: boolean;
}

const PT_INTERP = 3;
const PT_NOTE = 4;
const ET_DYN = 3;
const OSABI_LINUX = 3;
const MULTIBOOT_MAGIC = 0x1badb002;

/** Parses the ELF header of `bytes`, or returns undefined if it is not ELF. */
export function parseElf(bytes: Uint8Array): ElfInfo | undefined {
  if (
    bytes.length < 52 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c ||
    bytes[3] !== 0x46
  ) {
    return undefined;
  }
  const elfClass = bytes[4];
  if (elfClass !== 1 && elfClass !== 2) return undefined;
  const little = bytes[5] === 1;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => view.getUint16(o, little);
  const u32 = (o: number) => view.getUint32(o, little);
  const word = (o: number) => elfClass === 2 ? view.getBigUint64(o, little) : BigInt(u32(o));
  const is64 = elfClass === 2;
  const type = u16(16);
  const machine = u16(18);
  const entry = word(24);
  const phoff = Number(word(is64 ? 32 : 28));
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);

  let hasInterp = false;
  let hasLinuxNote = false;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + phentsize > bytes.length) break;
    const ptype = u32(ph);
    if (ptype === PT_INTERP) hasInterp = true;
    if (ptype === PT_NOTE) {
      const off = Number(word(is64 ? ph + 8 : ph + 4));
      const size = Number(word(is64 ? ph + 32 : ph + 16));
      hasLinuxNote ||= notesNameGnuAbiTag(bytes, view, little, off, size);
    }
  }
  // QEMU's x86 machines load an ELF with -kernel only if it is multiboot:
  // the header must sit in the first 8 KiB, 4-byte aligned.
  let hasMultiboot = false;
  for (let o = 0; o + 4 <= Math.min(bytes.length, 8192); o += 4) {
    if (view.getUint32(o, true) === MULTIBOOT_MAGIC) {
      hasMultiboot = true;
      break;
    }
  }
  return {
    elfClass,
    machine,
    type,
    osabi: bytes[7] ?? 0,
    entry,
    hasInterp,
    hasLinuxNote,
    hasMultiboot,
  };
}

function notesNameGnuAbiTag(
  bytes: Uint8Array,
  view: DataView,
  little: boolean,
  off: number,
  size: number,
): boolean {
  const end = Math.min(off + size, bytes.length);
  let o = off;
  while (o + 12 <= end) {
    const namesz = view.getUint32(o, little);
    const descsz = view.getUint32(o + 4, little);
    const type = view.getUint32(o + 8, little);
    const name = new TextDecoder().decode(bytes.subarray(o + 12, o + 12 + namesz)).replace(
      /\0+$/,
      "",
    );
    // NT_GNU_ABI_TAG (1) from "GNU": glibc's crt1 marks Linux programs so.
    if (name === "GNU" && type === 1) return true;
    o += 12 + align4(namesz) + align4(descsz);
  }
  return false;
}

const align4 = (n: number) => (n + 3) & ~3;

/**
 * Whether an image is a Linux user-mode program. The rule (docs/usage.md, "Mode"):
 * an ELF with an interpreter, position-independent (ET_DYN), OSABI Linux or a
 * GNU ABI-tag note is one; so is an x86 ELF without a multiboot header,
 * which QEMU's PC machines could not boot anyway. Anything else (a bare-metal
 * ELF, a bzImage, a raw binary) runs in system mode.
 */
export function isLinuxUserImage(elf: ElfInfo | undefined): boolean {
  if (!elf) return false;
  if (elf.hasInterp || elf.type === ET_DYN || elf.osabi === OSABI_LINUX || elf.hasLinuxNote) {
    return true;
  }
  const x86 = elf.machine === 3 || elf.machine === 62;
  return x86 && !elf.hasMultiboot;
}

/** A readable name for an ELF machine number. */
export function elfMachineName(machine: number): string {
  const names: Record<number, string> = {
    2: "SPARC",
    3: "i386",
    18: "SPARC32PLUS",
    40: "ARM",
    43: "SPARC V9",
    62: "x86-64",
    183: "AArch64",
    243: "RISC-V",
  };
  return names[machine] ?? `machine ${machine}`;
}

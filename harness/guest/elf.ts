/**
 * Just enough ELF reading to pick the emulation mode and check the
 * architecture: header fields, program headers and notes. Images come from
 * users and can be anything: every read is bounded by the file's size and
 * by fixed limits, so a damaged or hostile header gives an answer (or a
 * problem to report), never a hang or an exception. Only the parts needed
 * are read, never the whole image.
 */

/** Random access to an image's bytes. */
export interface ByteSource {
  /** Size in bytes. */
  readonly size: number;
  /** Up to `length` bytes from `offset` (fewer at the end of the file). */
  read(offset: number, length: number): Uint8Array;
}

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
  /** Why QEMU could not load it as it is (truncated, headers outside the file), or null. */
  readonly problem: string | null;
}

const PT_LOAD = 1;
const PT_INTERP = 3;
const PT_NOTE = 4;
const ET_DYN = 3;
const OSABI_LINUX = 3;
const MULTIBOOT_MAGIC = 0x1badb002;
/** QEMU's x86 machines look for the multiboot header in the first 8 KiB. */
const MULTIBOOT_SEARCH = 8192;
/** Bytes of one note segment read at the most (the ABI tag is near its start). */
const NOTE_READ = 64 << 10;

/** A source over bytes in memory. */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: (offset, length) =>
      offset >= bytes.length ? new Uint8Array(0) : bytes.subarray(offset, offset + length),
  };
}

/** A source over an open file of `size` bytes (reads at offsets; nothing is kept). */
export function fileSource(file: Deno.FsFile, size: number): ByteSource {
  return {
    size,
    read(offset, length) {
      const want = Math.max(0, Math.min(length, size - offset));
      const buf = new Uint8Array(want);
      if (want === 0) return buf;
      file.seekSync(offset, Deno.SeekMode.Start);
      let got = 0;
      while (got < want) {
        const n = file.readSync(buf.subarray(got));
        if (n === null || n === 0) break;
        got += n;
      }
      return buf.subarray(0, got);
    },
  };
}

/** Bounded little/big-endian reads of one chunk of bytes. */
function reader(bytes: Uint8Array, little: boolean) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fits = (o: number, n: number) => o >= 0 && o + n <= bytes.length;
  return {
    u16: (o: number) => (fits(o, 2) ? view.getUint16(o, little) : 0),
    u32: (o: number) => (fits(o, 4) ? view.getUint32(o, little) : 0),
    u64: (o: number) => (fits(o, 8) ? view.getBigUint64(o, little) : 0n),
  };
}

/** Parses an image's ELF headers, or returns undefined if it is not ELF. */
export function parseElf(src: ByteSource | Uint8Array): ElfInfo | undefined {
  const file = src instanceof Uint8Array ? bytesSource(src) : src;
  const head = file.read(0, 64);
  if (
    head.length < 52 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c ||
    head[3] !== 0x46
  ) {
    return undefined;
  }
  const elfClass = head[4];
  if (elfClass !== 1 && elfClass !== 2) return undefined;
  const is64 = elfClass === 2;
  const little = head[5] !== 2;
  const h = reader(head, little);
  // Offsets and sizes stay exact (a damaged file's may pass 2^53) until
  // checked against the file's size; messages print them as they are.
  const word = (r: ReturnType<typeof reader>, o: number): bigint =>
    is64 ? r.u64(o) : BigInt(r.u32(o));
  const type = h.u16(16);
  const machine = h.u16(18);
  const entry = is64 ? h.u64(24) : BigInt(h.u32(24));
  const phoff = word(h, is64 ? 32 : 28);
  const phentsize = h.u16(is64 ? 54 : 42);
  const phnum = h.u16(is64 ? 56 : 44);
  const minEntry = is64 ? 56 : 32;

  let problem: string | null = null;
  let hasInterp = false;
  let hasLinuxNote = false;
  if (phnum > 0 && phentsize !== minEntry) {
    // QEMU's loaders take only entries of the standard size.
    problem = `its program headers are ${phentsize} bytes each, not the ${minEntry} of ELF${
      is64 ? 64 : 32
    }`;
  } else if (phnum > 0 && phoff + BigInt(phnum * phentsize) > BigInt(file.size)) {
    problem =
      `its program headers (at byte ${phoff}) reach past the end of the file (${file.size} bytes)`;
  } else if (phnum > 0) {
    const table = file.read(Number(phoff), phnum * phentsize);
    const p = reader(table, little);
    for (let i = 0; i < phnum; i++) {
      const ph = i * phentsize;
      const ptype = p.u32(ph);
      const offset = word(p, is64 ? ph + 8 : ph + 4);
      const filesz = word(p, is64 ? ph + 32 : ph + 16);
      if (ptype === PT_INTERP) hasInterp = true;
      if ((ptype === PT_LOAD || ptype === PT_NOTE) && offset + filesz > BigInt(file.size)) {
        problem ??= `segment ${i} (bytes ${offset} to ${offset + filesz}) reaches past the end ` +
          `of the file (${file.size} bytes): the file is truncated`;
        continue;
      }
      if (ptype === PT_NOTE && !hasLinuxNote) {
        hasLinuxNote = notesHaveGnuAbiTag(
          file.read(Number(offset), Math.min(Number(filesz), NOTE_READ)),
          little,
        );
      }
    }
  }
  // QEMU's x86 machines load an ELF with -kernel only if it is multiboot:
  // the header must sit in the first 8 KiB, 4-byte aligned.
  const start = file.read(0, MULTIBOOT_SEARCH);
  const m = reader(start, true);
  let hasMultiboot = false;
  for (let o = 0; o + 4 <= start.length; o += 4) {
    if (m.u32(o) === MULTIBOOT_MAGIC) {
      hasMultiboot = true;
      break;
    }
  }
  return {
    elfClass,
    machine,
    type,
    osabi: head[7] ?? 0,
    entry,
    hasInterp,
    hasLinuxNote,
    hasMultiboot,
    problem,
  };
}

/** Rounds a note field's size up to 4 bytes (sizes are 32-bit: no wrap in doubles). */
const align4 = (n: number) => Math.ceil(n / 4) * 4;

function notesHaveGnuAbiTag(notes: Uint8Array, little: boolean): boolean {
  const r = reader(notes, little);
  let o = 0;
  while (o + 12 <= notes.length) {
    const namesz = r.u32(o);
    const descsz = r.u32(o + 4);
    const type = r.u32(o + 8);
    // NT_GNU_ABI_TAG (1) from "GNU": glibc's crt1 marks Linux programs so.
    if (
      type === 1 && namesz === 4 && o + 16 <= notes.length &&
      notes[o + 12] === 0x47 && notes[o + 13] === 0x4e && notes[o + 14] === 0x55 &&
      notes[o + 15] === 0
    ) {
      return true;
    }
    o += 12 + align4(namesz) + align4(descsz);
  }
  return false;
}

/**
 * Whether an image is a Linux user-mode program. The rule (docs/usage.md,
 * "Mode"): an ELF with an interpreter, position-independent (ET_DYN), OSABI
 * Linux or a GNU ABI-tag note is one; so is an x86 ELF without a multiboot
 * header, which QEMU's PC machines could not boot anyway. Anything else (a
 * bare-metal ELF, a bzImage, a raw binary) runs in system mode.
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

/**
 * The gdb command line that attaches to one side: gdb-multiarch, the
 * architecture (BFD's name for it, which objdump takes too: the preset's
 * objdump machine), the image's symbols when it is an ELF file, and the
 * side's port.
 */
import type { ArchPreset } from "../core/arch_presets.ts";

/** The debugger the harness runs and names (Debian's package gdb-multiarch). */
export const GDB = "gdb-multiarch";

/** What the command line is made from. */
export interface GdbCommandRequest {
  readonly preset: ArchPreset;
  /** The side's image, given to gdb for its symbols when it is an ELF file. */
  readonly image: string;
  readonly elf: boolean;
  readonly port: number;
}

/**
 * gdb's arguments after the program name: quiet, the image (its symbols,
 * architecture and byte order) or else the architecture and byte order,
 * files from this machine rather than through the stub, the target.
 */
export function gdbArgs(r: GdbCommandRequest): string[] {
  return [
    "-q",
    ...(r.elf ? [r.image] : [
      "-ex",
      `set architecture ${r.preset.objdump.arch}`,
      // gdb takes the byte order from the image; with none it guesses.
      ...(r.preset.bigEndian ? ["-ex", "set endian big"] : []),
    ]),
    "-ex",
    "set sysroot /",
    "-ex",
    `target remote 127.0.0.1:${r.port}`,
  ];
}

/** Whether `path` starts as an ELF file does. */
export async function isElf(path: string): Promise<boolean> {
  try {
    using f = await Deno.open(path);
    const head = new Uint8Array(4);
    return (await f.read(head)) === 4 && head[0] === 0x7f && head[1] === 0x45 &&
      head[2] === 0x4c && head[3] === 0x46;
  } catch {
    return false;
  }
}

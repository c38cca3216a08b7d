/**
 * Per-architecture defaults: which QEMU binaries run a guest and which
 * machine arguments system mode starts it with. One table, one place.
 */

/** How one architecture is emulated. */
export interface ArchPreset {
  /** The name users type on the command line. */
  readonly name: string;
  /** `qemu-system-*` binary for system mode. */
  readonly system: string;
  /** Machine arguments for system mode (before the image options). */
  readonly machine: readonly string[];
  /** `qemu-*` binary for linux-user mode. */
  readonly user: string;
  /** ELF e_machine values that belong to this architecture. */
  readonly elfMachines: readonly number[];
  /** ELF class (1 = 32-bit, 2 = 64-bit) of this architecture's images. */
  readonly elfClass: 1 | 2;
  /** Firmware files system mode loads from QEMU's data directories. */
  readonly firmware: readonly string[];
  /** Registers are read in target byte order: true where that is big-endian. */
  readonly bigEndian?: boolean;
  /**
   * How objdump disassembles this architecture (harness/guest/disasm.ts): its
   * `-m` machine, `-M` options, and for RISC-V the ISA string whose
   * extensions it decodes.
   */
  readonly objdump: { readonly arch: string; readonly options?: string; readonly isa?: string };
}

const common = ["-nographic", "-monitor", "none", "-parallel", "none", "-net", "none"];

/** The architectures qemu-lockstep knows, by name. */
export const PRESETS: Readonly<Record<string, ArchPreset>> = {
  sparc: {
    name: "sparc",
    system: "qemu-system-sparc",
    machine: ["-M", "SS-20", "-m", "256", ...common],
    user: "qemu-sparc",
    elfMachines: [2, 18],
    elfClass: 1,
    firmware: ["openbios-sparc32"],
    bigEndian: true,

    objdump: { arch: "sparc" },
  },
  sparc64: {
    name: "sparc64",
    system: "qemu-system-sparc64",
    machine: ["-M", "sun4u", "-m", "256", ...common],
    user: "qemu-sparc64",
    elfMachines: [43],
    elfClass: 2,
    firmware: ["openbios-sparc64"],
    bigEndian: true,

    objdump: { arch: "sparc:v9b" },
  },
  x86_64: {
    name: "x86_64",
    system: "qemu-system-x86_64",
    machine: ["-M", "pc", "-m", "512", ...common],
    user: "qemu-x86_64",
    elfMachines: [62],
    elfClass: 2,
    firmware: ["bios-256k.bin", "linuxboot_dma.bin"],

    objdump: { arch: "i386:x86-64", options: "intel" },
  },
  i386: {
    name: "i386",
    system: "qemu-system-i386",
    machine: ["-M", "pc", "-m", "256", ...common],
    user: "qemu-i386",
    elfMachines: [3],
    elfClass: 1,
    firmware: ["bios-256k.bin", "linuxboot_dma.bin"],

    objdump: { arch: "i386", options: "intel" },
  },
  aarch64: {
    name: "aarch64",
    system: "qemu-system-aarch64",
    machine: ["-M", "virt", "-cpu", "cortex-a57", "-m", "128", ...common],
    user: "qemu-aarch64",
    elfMachines: [183],
    elfClass: 2,
    firmware: [],

    objdump: { arch: "aarch64" },
  },
  arm: {
    name: "arm",
    system: "qemu-system-arm",
    machine: ["-M", "virt", "-cpu", "cortex-a15", "-m", "128", ...common],
    user: "qemu-arm",
    elfMachines: [40],
    elfClass: 1,
    firmware: [],

    objdump: { arch: "arm" },
  },
  riscv64: {
    name: "riscv64",
    system: "qemu-system-riscv64",
    machine: ["-M", "virt", "-bios", "none", "-m", "128", ...common],
    user: "qemu-riscv64",
    elfMachines: [243],
    elfClass: 2,
    firmware: [],

    objdump: { arch: "riscv:rv64", isa: "rv64gcv_zba_zbb_zbc_zbs" },
  },
};

/** The preset for `arch`, or undefined when there is none. */
export function findPreset(arch: string): ArchPreset | undefined {
  return Object.hasOwn(PRESETS, arch) ? PRESETS[arch] : undefined;
}

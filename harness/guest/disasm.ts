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
import { containerElf, hexBytes } from "./disasm_elf.ts";
import type { ArchPreset } from "../core/arch_presets.ts";
import type { StepView, Verdict } from "../verdict/verdict.ts";
import { makeTmpdirOwned, type OwnedTempDir } from "../core/owned_temp_dir.ts";
import { join } from "../../deps/path.ts";

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

/** The objdump arguments for `preset` (architecture and options). */
export function objdumpArgs(preset: ArchPreset): string[] {
  const d = preset.objdump;
  return ["-m", d.arch, ...(d.options ? ["-M", d.options] : [])];
}

const key = (pc: bigint, bytes: string) => `${pc.toString(16)}:${bytes.toLowerCase()}`;

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
  let dir: OwnedTempDir | undefined;
  try {
    // In a directory of this run's own: should the run be killed, the next sweeps it.
    dir = await makeTmpdirOwned("disas");
    const file = join(dir.path, "container.o");
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
    await dir?.[Symbol.asyncDispose]();
  }
}

/** What disassembling a run needs of its plan: the arch and each side's QEMU. */
export interface DisasRun {
  readonly preset: ArchPreset;
  readonly a: { readonly qemu: { readonly path: string } };
  readonly b: { readonly qemu: { readonly path: string } };
}

/** The preset to disassemble a run's instructions with (a SPARC32PLUS program may use V9's). */
function presetFor(plan: DisasRun): ArchPreset {
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
  plan: DisasRun,
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

export { containerElf } from "./disasm_elf.ts";

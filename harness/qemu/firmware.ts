/**
 * Differences between two QEMUs that are not TCG's doing: the firmware each
 * one loads from its data directories. Found before the run, so a verdict
 * inside the firmware is not blamed on the code generator.
 */
import { join } from "../../deps/path.ts";

/** The data directories a QEMU searches, in order, with the given -L options. */
export async function dataDirs(qemu: string, args: readonly string[]): Promise<string[]> {
  const ls: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "-L" && args[i + 1]) ls.push("-L", args[++i]!);
  }
  try {
    const out = await new Deno.Command(qemu, {
      args: [...ls, "-L", "help"],
      stdout: "piped",
      stderr: "null",
    })
      .output();
    return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.trim()).filter((l) => l);
  } catch {
    return [];
  }
}

/** Where `name` is found first in `dirs`, or undefined. */
export function findFirmware(dirs: readonly string[], name: string): string | undefined {
  for (const dir of dirs) {
    try {
      const path = join(dir, name);
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

async function digest(path: string): Promise<string> {
  const bytes = await Deno.readFile(path);
  return Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** One side, as far as firmware goes. */
export interface FirmwareSide {
  readonly qemu: string;
  /** The side's QEMU arguments (for -L and -bios). */
  readonly args: readonly string[];
}

/**
 * Sentences naming each firmware file the two sides would load from
 * different contents, with the fix; empty when they agree.
 */
export async function compareFirmware(
  names: readonly string[],
  a: FirmwareSide,
  b: FirmwareSide,
): Promise<string[]> {
  // A -bios given to a side replaces the default firmware.
  if (names.length === 0 || a.args.includes("-bios") || b.args.includes("-bios")) return [];
  const [dirsA, dirsB] = await Promise.all([dataDirs(a.qemu, a.args), dataDirs(b.qemu, b.args)]);
  const warnings: string[] = [];
  for (const name of names) {
    const fa = findFirmware(dirsA, name);
    const fb = findFirmware(dirsB, name);
    if (!fa || !fb) continue;
    if (fa === fb || (await digest(fa)) === (await digest(fb))) continue;
    warnings.push(
      `The sides load different firmware ${name} (side a: ${fa}, side b: ${fb}), so their streams ` +
        `legitimately differ inside it: to compare TCG alone, pass the same file to both, ` +
        `e.g. --extra=-bios --extra=${fa}`,
    );
  }
  return warnings;
}

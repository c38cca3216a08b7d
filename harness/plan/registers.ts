/**
 * Which registers the two sides compare. Each plugin lists the registers
 * its QEMU describes (name, gdb feature, size); the session answers both
 * with the ones they share, in one order, less those that are not state of
 * the guest's computation or that the user masked.
 */
import type { RegInfo } from "../core/protocol.ts";

export type { RegInfo };

/** A register left out, and why. */
export interface RegSkip {
  readonly name: string;
  readonly why: string;
}

/** The agreed registers: indices into each side's list, in one order. */
export interface RegChoice {
  readonly names: readonly string[];
  readonly a: readonly number[];
  readonly b: readonly number[];
  readonly skipped: readonly RegSkip[];
}

/** The program counter under its names: compared as the instruction stream. */
const PC_NAMES = new Set(["pc", "rip", "eip", "npc", "nip"]);

/**
 * System-register features (IDs, counters, MMU and trap control): outside
 * the code a TCG change usually breaks, and they differ between QEMU
 * versions that add CPU features.
 */
const SYSTEM_FEATURE = /sys|csr/i;

/** Picks the registers both sides compare. */
export function chooseRegisters(
  a: readonly RegInfo[],
  b: readonly RegInfo[],
  mask: readonly string[],
): RegChoice {
  const masked = new Set(mask.map((m) => m.toLowerCase()));
  const inB = new Map(b.map((r, i) => [r.name, i]));
  const names: string[] = [];
  const ia: number[] = [];
  const ib: number[] = [];
  const skipped: RegSkip[] = [];
  let system = 0;
  a.forEach((r, i) => {
    const j = inB.get(r.name);
    if (masked.has(r.name.toLowerCase())) {
      skipped.push({ name: r.name, why: "masked (--mask-reg)" });
    } else if (PC_NAMES.has(r.name.toLowerCase())) {
      skipped.push({ name: r.name, why: "compared as the instruction stream" });
    } else if (SYSTEM_FEATURE.test(r.feature)) {
      system++;
    } else if (j === undefined) {
      skipped.push({ name: r.name, why: "side b's QEMU does not describe it" });
    } else if (b[j]!.size !== r.size || r.size <= 0) {
      skipped.push({ name: r.name, why: `sizes differ (${r.size} and ${b[j]!.size} bytes)` });
    } else {
      names.push(r.name);
      ia.push(i);
      ib.push(j);
    }
  });
  if (system > 0) {
    skipped.push({
      name: `${system} system registers`,
      why: "system-register features are not compared",
    });
  }
  const inA = new Set(a.map((r) => r.name));
  for (const r of b) {
    if (!inA.has(r.name) && !SYSTEM_FEATURE.test(r.feature)) {
      skipped.push({ name: r.name, why: "side a's QEMU does not describe it" });
    }
  }
  return { names, a: ia, b: ib, skipped };
}

/** A register's bytes (hex, target order) as a number in hex. */
export function regValue(hex: string, bigEndian: boolean): string {
  const bytes = hex.match(/../g) ?? [];
  const ordered = bigEndian ? bytes : bytes.reverse();
  return "0x" + (ordered.join("").replace(/^0+(?=.)/, "") || "0");
}

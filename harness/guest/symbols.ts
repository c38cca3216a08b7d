/**
 * Naming guest addresses: function+offset from the image's own symbol
 * table (read with nm), so a verdict says "in mix_step" rather than only
 * giving two hex numbers.
 */
import type { BlockView } from "../verdict/dump_diff.ts";
import type { Divergence, Excursion, NamedBlock } from "../verdict/verdict.ts";

/** Names addresses of one image. */
export interface Symbolizer {
  /** "name+0xoff" for an address inside a known symbol, else null. */
  name(pc: bigint): string | null;
}

interface Sym {
  readonly start: bigint;
  readonly end: bigint;
  readonly name: string;
}

/** Parses `nm -n -S --defined-only` output into text symbols, by address. */
export function parseNm(text: string): Sym[] {
  const syms: Sym[] = [];
  for (const line of text.split("\n")) {
    const parts = line.trim().split(/\s+/);
    // With a size: addr size type name; without: addr type name.
    const [addr, size, type, name] = parts.length >= 4
      ? parts
      : [parts[0], undefined, parts[1], parts[2]];
    if (!addr || !type || !name || !/^[tTwW]$/.test(type)) continue;
    const start = BigInt(`0x${addr}`);
    syms.push({ start, end: size ? start + BigInt(`0x${size}`) : -1n, name });
  }
  syms.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  // A symbol without a size reaches to the next one.
  return syms.map((s, i) => s.end >= 0n ? s : { ...s, end: syms[i + 1]?.start ?? s.start + 1n });
}

/** A symbolizer over parsed symbols. */
export function symbolizer(syms: readonly Sym[]): Symbolizer {
  return {
    name(pc: bigint): string | null {
      let lo = 0;
      let hi = syms.length - 1;
      let best: Sym | undefined;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (syms[mid]!.start <= pc) {
          best = syms[mid];
          lo = mid + 1;
        } else {
          hi = mid - 1;
        }
      }
      if (!best || pc >= best.end) return null;
      const off = pc - best.start;
      return off === 0n ? best.name : `${best.name}+0x${off.toString(16)}`;
    },
  };
}

/**
 * Reads an image's symbols with nm; an image without any (or no nm) names
 * nothing. A raw binary `NAME.bin` takes its symbols from `NAME.elf` beside
 * it, the usual pair a bare-metal build leaves.
 */
export async function loadSymbols(image: string): Promise<Symbolizer> {
  const elf = image.replace(/\.bin$/, ".elf");
  const source = elf !== image && (await Deno.stat(elf).then(() => true, () => false))
    ? elf
    : image;
  try {
    const out = await new Deno.Command("nm", {
      args: ["-n", "-S", "--defined-only", source],
      stdout: "piped",
      stderr: "null",
    }).output();
    return symbolizer(out.success ? parseNm(new TextDecoder().decode(out.stdout)) : []);
  } catch {
    return symbolizer([]);
  }
}

/** The images the two sides run (a run plan is one). */
export interface SideImages {
  readonly a: { readonly image: string };
  readonly b: { readonly image: string };
}

/** Names each excursion's instructions from the sides' images. */
export async function nameExcursions(
  xs: readonly Excursion[],
  plan: SideImages,
): Promise<Excursion[]> {
  if (xs.length === 0) return [];
  const symA = await loadSymbols(plan.a.image);
  const symB = plan.b.image === plan.a.image ? symA : await loadSymbols(plan.b.image);
  return xs.map((x) => ({
    ...x,
    a: x.a && { ...x.a, symbol: symA.name(x.a.pc) },
    b: x.b && { ...x.b, symbol: symB.name(x.b.pc) },
  }));
}

/** Adds function+offset names from each side's image to a divergence. */
export async function nameDivergence(d: Divergence, plan: SideImages): Promise<Divergence> {
  const symA = await loadSymbols(plan.a.image);
  const symB = plan.b.image === plan.a.image ? symA : await loadSymbols(plan.b.image);
  const blocks = (views: readonly BlockView[], sym: Symbolizer): NamedBlock[] =>
    views.map((v) => ({ ...v, symbol: sym.name(v.pc) }));
  const n = d.narrow;
  const e = d.environmentBefore;
  return {
    ...d,
    ...(n
      ? {
        narrow: {
          ...n,
          ...(n.a ? { a: { ...n.a, symbol: symA.name(n.a.pc) } } : {}),
          ...(n.b ? { b: { ...n.b, symbol: symB.name(n.b.pc) } } : {}),
        },
      }
      : {}),
    a: d.a && { ...d.a, symbol: symA.name(d.a.pc) },
    b: d.b && { ...d.b, symbol: symB.name(d.b.pc) },
    history: { a: blocks(d.history.a, symA), b: blocks(d.history.b, symB) },
    ...(e
      ? {
        environmentBefore: {
          ...e,
          a: e.a && { ...e.a, symbol: symA.name(e.a.pc) },
          b: e.b && { ...e.b, symbol: symB.name(e.b.pc) },
        },
      }
      : {}),
  };
}

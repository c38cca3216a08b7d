// The ELF reader against damaged and hostile images: thousands of mutated
// real ELFs, each read in bounded time to an answer (never an exception).
import { type ByteSource, parseElf } from "../../harness/guest/elf.ts";
import { equal, ok } from "../../deps/assert.ts";

const build = new URL("../guests/build/", import.meta.url).pathname;
const IMAGES = [
  `${build}x86_64-hello`,
  `${build}x86_64-glibc`,
  `${build}sparc-hello.elf`,
  `${build}aarch64-hello.elf`,
  `${build}riscv64-hello.elf`,
  "/bin/true",
];

/** A small deterministic PRNG (xorshift32), so a failure can be replayed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

/** The image with some bytes changed and perhaps cut short; reads count towards a bound. */
function mutated(orig: Uint8Array, patches: Map<number, number>, size: number) {
  let bytesRead = 0;
  const src: ByteSource = {
    size,
    read(offset, length) {
      const end = Math.min(size, offset + length);
      if (offset >= end) return new Uint8Array(0);
      const out = orig.slice(offset, end);
      for (const [o, v] of patches) if (o >= offset && o < end) out[o - offset] = v;
      bytesRead += out.length;
      return out;
    },
  };
  return { src, read: () => bytesRead };
}

/** Offsets of the fields a hostile image would aim at: header, program headers, notes. */
function targets(orig: Uint8Array): number[] {
  const info = new DataView(orig.buffer, orig.byteOffset);
  const is64 = orig[4] === 2;
  const little = orig[5] !== 2;
  const phoff = Number(is64 ? info.getBigUint64(32, little) : info.getUint32(28, little));
  const phentsize = info.getUint16(is64 ? 54 : 42, little);
  const phnum = info.getUint16(is64 ? 56 : 44, little);
  const out = [16, 18, 24, is64 ? 32 : 28, is64 ? 54 : 42, is64 ? 56 : 44];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    out.push(ph, ph + (is64 ? 8 : 4), ph + (is64 ? 32 : 16));
    if (info.getUint32(ph, little) === 4) {
      const off = Number(is64 ? info.getBigUint64(ph + 8, little) : info.getUint32(ph + 4, little));
      out.push(off, off + 4, off + 8);
    }
  }
  return out;
}

const HOSTILE = [0xfffffff4, 0x80000000, 0xffffffff, 0x7fffffff, 0, 1, 3];

Deno.test("damaged and hostile ELF images are read in bounded time, to an answer", () => {
  const next = rng(0x5eed);
  let cases = 0;
  let problems = 0;
  for (const path of IMAGES) {
    const orig = Deno.readFileSync(path);
    const little = orig[5] !== 2;
    const fields = targets(orig);
    for (let k = 0; k < 600; k++) {
      const patches = new Map<number, number>();
      const kind = next(3);
      if (kind === 0) {
        // Random bytes in the first 4 KiB.
        for (let n = 1 + next(8); n > 0; n--) patches.set(next(4096), next(256));
      } else {
        // A 32-bit field set to a value that wraps naive arithmetic.
        const at = fields[next(fields.length)]!;
        const v = HOSTILE[next(HOSTILE.length)]!;
        for (let b = 0; b < 4; b++) {
          patches.set(at + b, (v >>> (little ? 8 * b : 24 - 8 * b)) & 0xff);
        }
      }
      const size = kind === 2 ? next(orig.length) : orig.length;
      const { src, read } = mutated(orig, patches, size);
      const started = performance.now();
      const info = parseElf(src);
      const ms = performance.now() - started;
      ok(ms < 200, `${path} case ${k}: ${ms} ms`);
      // At most the largest program header table (65,535 entries of 56 bytes) and a few KiB.
      ok(read() <= 4 << 20, `${path} case ${k}: read ${read()} bytes`);
      if (info) {
        ok(info.problem === null || typeof info.problem === "string");
        if (info.problem) problems++;
      }
      cases++;
    }
  }
  equal(cases, IMAGES.length * 600);
  // The mutations do produce damaged images the reader reports.
  ok(problems > 100, `${problems} problems found`);
});

Deno.test("the note size that once made the reader loop forever is read past", () => {
  const orig = Deno.readFileSync(`${build}x86_64-glibc`);
  const little = true;
  const info = new DataView(orig.buffer, orig.byteOffset);
  const phoff = Number(info.getBigUint64(32, little));
  const phnum = info.getUint16(56, little);
  for (const namesz of [0xfffffff4, 0x80000000]) {
    const patches = new Map<number, number>();
    for (let i = 0; i < phnum; i++) {
      const ph = phoff + i * 56;
      if (info.getUint32(ph, little) !== 4) continue;
      const off = Number(info.getBigUint64(ph + 8, little));
      for (let b = 0; b < 4; b++) patches.set(off + b, (namesz >>> (8 * b)) & 0xff);
    }
    ok(patches.size > 0, "no note segment");
    const parsed = parseElf(mutated(orig, patches, orig.length).src);
    ok(parsed);
    equal(parsed.machine, 62);
  }
});

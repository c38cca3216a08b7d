/**
 * The bench's workloads: what users run. Two loops built from
 * test/guests (three instructions a block, and ten), real programs as
 * Debian ships them (dynamically linked: a compiler pass, an interpreter,
 * a compressor on a file made here, the same bytes every time), the Debian
 * kernel's boot (with one vCPU and with two), a pthread program and the
 * sparc32 guest under OpenBIOS; each on every QEMU version set-up
 * provides (the threads from plugin API 2 on).
 */
import { QEMUS } from "./run.ts";
import type { Workload } from "./measure.ts";
import { join } from "../deps/path.ts";

const root = new URL("../", import.meta.url).pathname;
const guests = `${root}test/guests/build/`;

/** The workloads' names, in the order they run. */
export const WORKLOAD_NAMES = [
  "loop",
  "dense",
  "cc1",
  "python",
  "gzip",
  "kernel",
  "kernel-smp2",
  "threads",
  "sparc",
] as const;

/** Debian 12's C compiler proper, run as the gcc driver runs it. */
const CC1 = "/usr/lib/gcc/x86_64-linux-gnu/12/cc1";

/**
 * The interpreter's script: integer arithmetic, list indexing and a loop,
 * no hashing of strings (whose seed would differ from run to run).
 */
function pythonScript(iterations: number): string {
  return [
    "t = [0] * 1000",
    "s = 0",
    `for i in range(${iterations}):`,
    "    j = (i * 7919) % 1000",
    "    t[j] = (t[j] + i) & 0xffff",
    "    s = (s * 31 + t[j]) % 1000003",
    "print(s)",
  ].join("\n");
}

/**
 * `bytes` of text for the compressor: words and numbers drawn by a
 * 64-bit LCG from a fixed seed, so every run compresses the same bytes.
 */
export function compressorInput(bytes: number): Uint8Array {
  const words = [
    "lorem",
    "ipsum",
    "qemu",
    "lockstep",
    "plugin",
    "block",
    "insn",
    "trace",
    "guest",
    "hash",
    "mark",
    "cpu",
    "tcg",
    "sparc",
    "kernel",
    "x86",
  ].map((w) => new TextEncoder().encode(w));
  const out = new Uint8Array(bytes);
  const mask = (1n << 64n) - 1n;
  let x = 12345n;
  let n = 0;
  while (n < bytes) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & mask;
    const r = Number(x >> 33n);
    const word = r % 7 === 0
      ? new TextEncoder().encode(String(r % 100_000))
      : words[r % words.length]!;
    out.set(word.subarray(0, bytes - n), n);
    n += Math.min(word.length, bytes - n);
    if (n < bytes) out[n++] = r % 13 === 0 ? 0x0a : 0x20;
  }
  return out;
}

/**
 * The workloads on every QEMU; `dir` holds the files they read (made by
 * writeInputs()). `quick` makes the long ones short.
 */
export function workloads(quick: boolean, dir: string): Workload[] {
  const stop = quick ? 300_000_000 : undefined;
  const list: Workload[] = [];
  for (const [version, qemu] of Object.entries(QEMUS)) {
    const user = (name: string, image: string, guestArgs: string[]): Workload => ({
      name,
      qemu: version,
      options: { arch: "x86_64", image, qemu: qemu("qemu-x86_64"), guestArgs },
    });
    list.push(
      user("loop", `${guests}x86_64-loop`, [quick ? "20000000" : "1000000000"]),
      // As many instructions as the loop, ten a block.
      user("dense", `${guests}x86_64-dense`, [quick ? "6000000" : "300000000"]),
      user("cc1", CC1, [
        "-quiet",
        "-imultiarch",
        "x86_64-linux-gnu",
        `-I${root}test/guests/common`,
        "-O2",
        `${root}test/guests/common/checksum.c`,
        "-o",
        "/dev/null",
      ]),
      user("python", "/usr/bin/python3.11", [
        "-I",
        "-S",
        "-c",
        pythonScript(quick ? 10_000 : 150_000),
      ]),
      user("gzip", "/usr/bin/gzip", ["-6", "-c", join(dir, quick ? "small.txt" : "input.txt")]),
      {
        name: "kernel",
        qemu: version,
        options: {
          arch: "x86_64",
          image: `${guests}vmlinuz`,
          qemu: qemu("qemu-system-x86_64"),
          extra: ["-append", "console=ttyS0 panic=-1"],
          maxInsns: stop,
        },
      },
      // Two vCPUs in turn, one stream (plugin-src/vcpus.c): the second
      // comes up at about 4.7 G instructions, so only the whole boot shows it.
      {
        name: "kernel-smp2",
        qemu: version,
        options: {
          arch: "x86_64",
          image: `${guests}vmlinuz`,
          qemu: qemu("qemu-system-x86_64"),
          extra: ["-smp", "2", "-append", "console=ttyS0 panic=-1"],
        },
      },
      {
        name: "sparc",
        qemu: version,
        options: {
          arch: "sparc",
          image: `${guests}sparc-hello.elf`,
          qemu: qemu("qemu-system-sparc"),
          maxInsns: stop,
        },
      },
    );
    // Four pthread workers on a queue with condition variables, one at a
    // time (plugin-src/threads.c): plugin API 2 on, so not on 7.2.
    if (version !== "7.2") list.push(user("threads", `${guests}x86_64-threads`, ["condvar"]));
  }
  return list;
}

/** Writes the files the workloads read into `dir`: the compressor's inputs. */
export async function writeInputs(dir: string): Promise<void> {
  await Deno.writeFile(join(dir, "input.txt"), compressorInput(4 << 20));
  await Deno.writeFile(join(dir, "small.txt"), compressorInput(256 << 10));
}

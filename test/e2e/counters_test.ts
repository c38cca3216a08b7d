// The same world for dynamically linked programs (docs/environment.md): on
// plugin API 5 (QEMU 10.2) the plugins write the same value after every read
// of the time-stamp counter, which Debian's dynamic loader makes at its
// instruction 17; and such programs get the fixed /dev/urandom that static
// ones get, on 7.2 too, also through a cross toolchain's -L prefix. Debian's
// programs are run as installed.
import { QEMU_10_2_DIR } from "../../cli/setup_qemus.ts";
import { AARCH64_PREFIX, buildCounterReaders, haveCompiler } from "./_counter_reader.ts";
import { runCli } from "./_cli.ts";
import { equal, match, ok } from "../../deps/assert.ts";

const q102 = (name: string) => `${QEMU_10_2_DIR}${name}`;

/** placeDevices()'s first bytes: what the guest's /dev/urandom starts with. */
const FIXED_URANDOM = "3da8a24c";

Deno.test("a dynamically linked Debian program matches itself past its loader's rdtsc, in the detail pass, on QEMU 10.2", async () => {
  for (
    const [image, ...args] of [["/usr/bin/sha256sum", "/etc/hostname"], [
      "/usr/bin/python3.11",
      "-c",
      "print(sum(range(99)))",
    ]]
  ) {
    const r = await runCli([
      "--json",
      "--no-fast",
      "--max-insns",
      "100000",
      "--qemu",
      q102("qemu-x86_64"),
      "x86_64",
      image!,
      "--",
      ...args,
    ]);
    // Memory values are compared from the first instruction: the value the
    // loader stores at instruction 23 is the same on both sides.
    equal(r.code, 0, r.stderr);
    equal(r.json.status, "match");
    ok(r.json.compared.includes("mem"));
    equal(r.json.insns, 100000);
  }
});

Deno.test("a counter read gives 10^12 plus its position on both sides, x86_64 and aarch64, in both passes", async () => {
  const g = await buildCounterReaders();
  try {
    const runs: [string, string, string, string[]][] = [
      ["x86_64", g.x86_64, "qemu-x86_64", []],
    ];
    if (g.aarch64) {
      runs.push(["aarch64", g.aarch64, "qemu-aarch64", [
        `--extra=-L`,
        `--extra=${AARCH64_PREFIX}`,
      ]]);
    }
    for (const [arch, image, qemu, extra] of runs) {
      const counters = new Set<string>();
      for (const pass of [[], ["--no-fast"]]) {
        const r = await runCli(["--json", ...pass, ...extra, "--qemu", q102(qemu), arch, image]);
        equal(r.code, 0, r.stderr);
        equal(r.json.sides.a.output, r.json.sides.b.output);
        const m = r.json.sides.a.output.match(/^counter (\d+)$/m);
        ok(m, r.json.sides.a.output);
        const value = BigInt(m[1]);
        ok(value > 10n ** 12n && value < 10n ** 12n + BigInt(r.json.insns), `${arch}: ${value}`);
        counters.add(m[1]);
      }
      // The fast pass and the detail pass read the same value.
      equal(counters.size, 1, arch);
    }
  } finally {
    await Deno.remove(g.dir, { recursive: true });
  }
});

Deno.test("dynamically linked programs read the fixed /dev/urandom on QEMU 7.2 and 10.2, and see the host's / and /dev", async () => {
  for (const qemu of [[], ["--qemu", q102("qemu-x86_64")]]) {
    const od = await runCli([
      "--json",
      ...qemu,
      "x86_64",
      "/usr/bin/od",
      "--",
      "-An",
      "-tx1",
      "-N4",
      "/dev/urandom",
    ]);
    equal(od.code, 0, od.stderr);
    equal(od.json.sides.a.output.replaceAll(/\s/g, ""), FIXED_URANDOM);
    // The run's root stands for the two devices only, not for / or /dev.
    const ls = await runCli(["--json", ...qemu, "x86_64", "/usr/bin/ls", "--", "/", "/dev"]);
    equal(ls.code, 0, ls.stderr);
    for (const name of ["usr", "etc", "null", "zero", "urandom"]) {
      match(ls.json.sides.a.output, new RegExp(`^${name}$`, "m"));
    }
  }
});

Deno.test({
  name:
    "an aarch64 program linked against the cross toolchain's libraries (-L) reads the fixed /dev/urandom",
  ignore: !haveCompiler("aarch64-linux-gnu-gcc"),
  fn: async () => {
    const g = await buildCounterReaders();
    try {
      const extra = [`--extra=-L`, `--extra=${AARCH64_PREFIX}`];
      for (const qemu of [[], ["--qemu", q102("qemu-aarch64")]]) {
        const r = await runCli(["--json", ...qemu, ...extra, "aarch64", g.aarch64!]);
        for (const side of [r.json.sides.a, r.json.sides.b]) {
          match(side.output, new RegExp(`^urandom ${FIXED_URANDOM}$`, "m"), r.stderr);
        }
        // 7.2 gives each side its host's counter, which the guest prints.
        if (qemu.length) equal(r.code, 0, r.stderr);
      }
    } finally {
      await Deno.remove(g.dir, { recursive: true });
    }
  },
});

// Two different QEMU builds: Debian's 7.2 (plugin API 1) on side A against
// Debian trixie's 10.0 (API 4, installed by scripts/setup.sh --tests) on side B.
import { QEMU_10_0_DIR } from "../../cli/setup_qemus.ts";
import { buildPlugin } from "../../harness/qemu/plugin_build.ts";
import { GUESTS, runCli, tempDir } from "./_cli.ts";
import { equal, match, ok } from "../../deps/assert.ts";

const g = (name: string) => GUESTS + name;
const q10 = (arch: string) => `${QEMU_10_0_DIR}qemu-system-${arch}`;

const guests: [string, string, string[]][] = [
  ["sparc", "sparc-bios", ["--bios"]],
  ["aarch64", "aarch64-hello", []],
  ["riscv64", "riscv64-hello", []],
];
const image = (base: string, variant = false) =>
  g(`${base}${variant ? "-variant" : ""}${base.endsWith("bios") ? ".bin" : ".elf"}`);

for (const [arch, base, opts] of guests) {
  Deno.test(`${arch}: QEMU 7.2 against 10.0 finds no divergence, also with one insn per TB on 10.0`, async () => {
    const plain = await runCli(["--json", ...opts, "--qemu-b", q10(arch), arch, image(base)]);
    equal(plain.code, 0, plain.stderr);
    equal(plain.json.status, "match");
    equal(plain.json.sides.a.version, "7.2.22");
    match(plain.json.sides.b.version, /^10\.0\./);
    equal(plain.json.sides.a.pluginApi, 1);
    equal(plain.json.sides.b.pluginApi, 4);
    const split = await runCli([
      "--json",
      ...opts,
      "--qemu-b",
      q10(arch),
      "--extra-b=-accel",
      "--extra-b=tcg,one-insn-per-tb=on",
      arch,
      image(base),
    ]);
    equal(split.code, 0, split.stderr);
    // The guest's last block may be left part-way (its power-off store):
    // what agrees may stop a few instructions short of the claimed end.
    ok(split.json.insns <= plain.json.insns && split.json.insns > plain.json.insns - 32);
    // The two versions now cut blocks differently: one instruction each on B.
    equal(split.json.sides.b.blocks, split.json.sides.b.insns);
    ok(split.json.sides.a.blocks < split.json.sides.b.blocks / 2);
  });

  Deno.test(`${arch}: a planted difference is found at the same instruction across versions as within 7.2`, async () => {
    const args = ["--json", ...opts, arch, image(base), "--image-b", image(base, true)];
    const same = await runCli(args);
    const cross = await runCli([...args, "--qemu-b", q10(arch)]);
    for (const r of [same, cross]) equal(r.code, 1, r.stderr);
    equal(cross.json.divergence.insn, same.json.divergence.insn);
    equal(cross.json.divergence.a.pc, same.json.divergence.a.pc);
    equal(cross.json.divergence.b.pc, same.json.divergence.b.pc);
    // Named from the images' symbols.
    match(cross.json.divergence.b.symbol ?? "", /^mix_step/);
  });
}

Deno.test("OpenBIOS differs between 7.2 and 10.0: the verdict names the firmware, and its fix matches", async () => {
  const args = ["--json", "--qemu-b", q10("sparc"), "sparc", g("sparc-hello.elf")];
  const r = await runCli(args);
  equal(r.code, 1, r.stderr);
  equal(r.json.warnings.length, 1);
  match(r.json.warnings[0], /different firmware openbios-sparc32/);
  // Inside the firmware: no symbol of the guest image on either side.
  equal(r.json.divergence.a.symbol, null);
  equal(r.json.divergence.b.symbol, null);
  const fix = /e\.g\. (--extra=-bios --extra=\S+)/.exec(r.json.warnings[0])![1]!.split(" ");
  const fixed = await runCli([...fix, ...args]);
  equal(fixed.code, 0, fixed.stderr);
  equal(fixed.json.status, "match");
  equal(fixed.json.warnings.length, 0);
});

Deno.test("doctor lists the three QEMU versions set-up provides, with their plugin API", async () => {
  const r = await runCli(["doctor", "--json"]);
  equal(r.code, 0, r.stderr);
  const rows: { path: string; version: string; pluginApi: number; plugin: string | null }[] =
    r.json.qemus;
  const sparc = rows.filter((x) => x.path.endsWith("/qemu-system-sparc"));
  equal(sparc.length, 3);
  ok(sparc.some((x) => x.version === "7.2.22" && x.pluginApi === 1 && x.plugin));
  ok(sparc.some((x) => /^10\.0\./.test(x.version) && x.pluginApi === 4 && x.plugin));
  ok(sparc.some((x) => x.version === "10.2.2" && x.pluginApi === 5 && x.plugin));
  // QEMU 10.2's linux-user loads plugins (trixie's is static, without them).
  ok(rows.some((x) => x.path.endsWith("/qemu-10.2/bin/qemu-x86_64") && x.pluginApi === 5));
  ok(rows.some((x) => x.path.endsWith("/qemu-10.2/bin/qemu-aarch64") && x.pluginApi === 5));
});

Deno.test("the plugin builds against the project's own declarations for every API version", async () => {
  await using cache = await tempDir();
  for (const api of [1, 2, 3, 4, 5]) {
    const built = await buildPlugin({
      source: "lockstep",
      api,
      qemuPath: "/nonexistent/qemu",
      cacheDir: cache.path,
    });
    equal(built.header.origin, "own");
    const syms = await new Deno.Command("nm", {
      args: ["-D", "--defined-only", built.path],
      stdout: "piped",
    }).output();
    const text = new TextDecoder().decode(syms.stdout);
    match(text, /qemu_plugin_version/);
    match(text, /qemu_plugin_install/);
  }
});

// The worlds two linux-user QEMUs give a guest (docs/environment.md,
// "Their worlds"): Debian's 7.2 against the 10.2 set-up builds, through the
// world probe (test/guests/glibc/world_probe.c) and its cache.
import { QEMU_10_2_DIR } from "../../cli/setup_qemus.ts";
import { GUESTS, runCli, tempDir } from "./_cli.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";
import { join } from "../../deps/path.ts";
import { type Schema, validate } from "../_json_schema.ts";

const schema: Schema = JSON.parse(
  await Deno.readTextFile(new URL("../../docs/verdict.schema.json", import.meta.url)),
);

const q102 = `${QEMU_10_2_DIR}qemu-x86_64`;
const g = (name: string) => GUESTS + name;
const cross = (cpu: string, ...rest: string[]) => [
  "--json",
  `--extra=-cpu`,
  `--extra=${cpu}`,
  "--qemu-b",
  q102,
  "x86_64",
  ...rest,
];

// deno-lint-ignore no-explicit-any
const names = (env: any) => env.entries.map((e: { name: string }) => e.name);

Deno.test("a static glibc program across 7.2 and 10.2 stops in its auxv walk: the world's, named", async () => {
  await using cache = await tempDir();
  const r = await runCli(["--cache-dir", cache.path, ...cross("max", g("x86_64-env"))]);
  equal(r.code, 3, r.stderr);
  equal(r.json.status, "inconclusive");
  const d = r.json.divergence;
  equal(d.kind, "environment");
  equal(d.insn, 296);
  match(d.a.symbol, /^_dl_aux_init/);
  equal(d.environment.what, "auxv");
  // 10.2 gives every guest a vDSO, 7.2 none: one more entry to walk.
  deepEqual(d.environment.entries, [
    { what: "auxv", name: "AT_SYSINFO_EHDR", a: null, b: "present" },
  ]);
  match(r.json.message, /AT_SYSINFO_EHDR absent on side a, present on side b/);
  // The CPUs differ too (the warning says so), and a -cpu that makes them
  // equal was found by probing; none makes the vector equal.
  const warning = r.json.warnings.find((w: string) => w.startsWith("The two QEMUs give"));
  match(warning, /CPUID leaf 0x00000007 subleaf 0/);
  match(d.environment.hint, /--extra=-cpu --extra=\S+ makes the CPUs answer the same/);
  match(d.environment.hint, /AT_SYSINFO_EHDR still differs under it/);
  // The whole difference is in the verdict, as the schema says.
  deepEqual(validate(schema, r.json, { strict: true }), []);
  equal(r.json.world.cpu.a, "max");
  ok(r.json.world.entries.length > 1);
  deepEqual(r.json.world.remaining, d.environment.entries);
  // The answers were cached, as regular files of this user's.
  const cached = [...Deno.readDirSync(cache.path)].filter((e) => e.name.startsWith("world-"));
  ok(cached.length >= 2 && cached.every((e) => e.isFile));
  // Written in private directories, none left behind.
  deepEqual([...Deno.readDirSync(cache.path)].filter((e) => e.name.startsWith(".world-")), []);
});

Deno.test("a guest that asks CPUID: the leaves that differ, and the suggested -cpu makes both match", async () => {
  const r = await runCli(cross("max", g("x86_64-cpuid")));
  equal(r.code, 3, r.stderr);
  const env = r.json.divergence.environment;
  equal(env.what, "cpu");
  equal(env.call, "cpuid");
  ok(names(env).includes("leaf 0x00000007 subleaf 0"), JSON.stringify(names(env)));
  const leaf7 = env.entries.find((e: { name: string }) => e.name === "leaf 0x00000007 subleaf 0");
  ok(leaf7.a !== leaf7.b && leaf7.a && leaf7.b);
  const cpu = /--extra=-cpu --extra=(\S+) makes the CPUs answer the same/.exec(env.hint)![1]!;
  deepEqual(validate(schema, r.json, { strict: true }), []);
  const fixed = await runCli(cross(cpu, g("x86_64-cpuid")));
  equal(fixed.code, 0, fixed.stderr);
  equal(fixed.json.status, "match");
  // What no -cpu changes is still said.
  const warning = fixed.json.warnings.find((w: string) => w.startsWith("The two QEMUs give"));
  match(warning, /AT_SYSINFO_EHDR absent on side a, present on side b/);
  ok(!/CPUID/.test(warning), warning);
});

Deno.test("aarch64: the vector's HWCAPs and vDSO named; the suggested -cpu leaves the vDSO alone", async () => {
  const run = (cpu: string) =>
    runCli([
      "--json",
      "--extra=-cpu",
      `--extra=${cpu}`,
      "--qemu-b",
      `${QEMU_10_2_DIR}qemu-aarch64`,
      "aarch64",
      g("aarch64-env"),
    ]);
  const r = await run("max");
  equal(r.code, 3, r.stderr);
  const d = r.json.divergence;
  match(d.a.symbol, /^_dl_aux_init/);
  equal(d.environment.what, "auxv");
  deepEqual(names(d.environment), ["AT_HWCAP", "AT_HWCAP2", "AT_SYSINFO_EHDR"]);
  ok(r.json.world.entries.some((e: { what: string }) => e.what === "idreg"));
  const cpu = /--extra=-cpu --extra=(\S+) makes the CPUs answer the same/.exec(
    d.environment.hint,
  )![1]!;
  // Under it the probe saw the CPUs equal: only what no -cpu changes is left.
  const fixed = await run(cpu);
  equal(fixed.code, 3, fixed.stderr);
  deepEqual(names(fixed.json.divergence.environment), ["AT_SYSINFO_EHDR"]);
  deepEqual(fixed.json.world.entries.map((e: { name: string }) => e.name), ["AT_SYSINFO_EHDR"]);
});

Deno.test("one QEMU on both sides: no world to compare, and the static program matches", async () => {
  const r = await runCli([
    "--json",
    "--extra=-cpu",
    "--extra=max",
    "--qemu",
    q102,
    "x86_64",
    g("x86_64-env"),
  ]);
  equal(r.code, 0, r.stderr);
  equal(r.json.status, "match");
  deepEqual(r.json.warnings, []);
});

Deno.test("one QEMU with two -cpu: the vector's AT_HWCAP named, and one of the two suggested", async () => {
  await using out = await tempDir();
  const page = join(out.path, "verdict.html");
  const args = [
    "--qemu",
    q102,
    "--extra-a=-cpu",
    "--extra-a=max",
    "--extra-b=-cpu",
    "--extra-b=Skylake-Client",
    "x86_64",
    g("x86_64-env"),
  ];
  const r = await runCli(["--json", "--html", page, ...args]);
  equal(r.code, 3, r.stderr);
  equal(r.json.divergence.environment.what, "auxv");
  ok(names(r.json.divergence.environment).includes("AT_HWCAP"));
  deepEqual(r.json.world.cpu, { a: "max", b: "Skylake-Client" });
  ok(["max", "Skylake-Client"].includes(r.json.world.suggestion), r.json.world.suggestion);
  deepEqual(r.json.world.remaining, []);
  equal(r.json.world.tried, 2);
  // The first difference is a store of the vector's value: a value, not the host's answer.
  match(Deno.readTextFileSync(page), /different worlds \(its auxiliary vector\): not TCG/);
  const text = await runCli(args);
  equal(text.code, 3, text.stderr);
  match(text.stderr, /first differing value of that instruction:/);
  match(text.stderr, /not TCG: the two QEMUs give the guest different worlds/);
});

Deno.test("a planted difference across 7.2 and 10.2 is still TCG's (exit 1), the worlds warned of", async () => {
  const r = await runCli([
    ...cross("max", g("x86_64-hello")),
    "--image-b",
    g("x86_64-hello-variant"),
  ]);
  equal(r.code, 1, r.stderr);
  equal(r.json.divergence.kind, "pc");
  equal(r.json.divergence.insn, 3362);
  ok(r.json.warnings.some((w: string) => w.startsWith("The two QEMUs give")));
});

Deno.test("the world cache: a trusted answer is used, a planted link or a file others can write is not", async () => {
  await using cache = await tempDir();
  const args = ["--cache-dir", cache.path, ...cross("max", g("x86_64-env"))];
  const first = await runCli(args);
  equal(first.code, 3, first.stderr);
  const files = () =>
    [...Deno.readDirSync(cache.path)].filter((e) => e.name.startsWith("world-")).map((e) =>
      join(cache.path, e.name)
    );
  // One world for every answer: if the cache is read, both sides are equal.
  const one = "auxv 6 0x1000\ncpuid 0x00000000 0 0x0 0x0 0x0 0x0\nend\n";
  for (const f of files()) Deno.writeTextFileSync(f, one);
  const trusted = await runCli(args);
  equal(trusted.code, 1, trusted.stderr);
  equal(trusted.json.divergence.kind, "pc");
  // The same answer behind a link, or in a file anyone can write: not read.
  await using elsewhere = await tempDir();
  const target = join(elsewhere.path, "world.txt");
  Deno.writeTextFileSync(target, one);
  const all = files();
  all.forEach((f, i) => {
    Deno.removeSync(f);
    if (i % 2 === 0) {
      Deno.symlinkSync(target, f);
    } else {
      Deno.writeTextFileSync(f, one);
      Deno.chmodSync(f, 0o666);
    }
  });
  const hostile = await runCli(args);
  equal(hostile.code, 3, hostile.stderr);
  equal(hostile.json.divergence.environment.what, "auxv");
  // Replaced by the probe's own answers, the link's target untouched.
  equal(Deno.readTextFileSync(target), one);
  for (const f of all) {
    const st = Deno.lstatSync(f);
    ok(st.isFile && (st.mode! & 0o022) === 0, f);
    ok(Deno.readTextFileSync(f) !== one, f);
  }
});

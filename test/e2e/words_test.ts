// What a verdict says is what happened (issue 22, item 10): the side that
// refused, the --timeout given.
import { GUESTS, runCli, tempDir } from "./_cli.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

const g = (name: string) => GUESTS + name;
const loop = ["x86_64", g("x86_64-loop"), "--", "4000000000"];

Deno.test("both QEMUs refuse the guest: both are named, every time", async () => {
  await using tmp = await tempDir();
  // Which exit is seen first changes from run to run: a few runs.
  // A QEMU for another target under a name of no arch (as a build of one's
  // own may be): it starts, loads the plugin and refuses the image.
  const other = `${tmp.path}/qemu-of-another-target`;
  await Deno.symlink("/usr/bin/qemu-aarch64", other);
  const messages = [];
  for (let i = 0; i < 4; i++) {
    const r = await runCli(["--json", "--qemu", other, "x86_64", g("x86_64-hello")], {
      env: { TMPDIR: tmp.path },
      timeoutMs: 60_000,
    });
    equal(r.code, 2, r.stderr);
    messages.push(r.json.message.replace(/ \(exit code.*$/s, ""));
  }
  deepEqual(messages, Array(4).fill("QEMU on both sides refused to run the guest"));
});

Deno.test("--timeout N: the verdict names N seconds, and the run ends within them", async (t) => {
  await using tmp = await tempDir();
  for (
    const [name, args, message] of [
      ["a pair", ["--json", "--timeout", "3", ...loop], /^No verdict within 3 s \(raise --timeout/],
      [
        "record",
        ["record", "--json", "--timeout", "3", "-o", `${tmp.path}/t.trace`, ...loop],
        /^No verdict within 3 s \(raise --timeout/,
      ],
    ] as const
  ) {
    await t.step(name, async () => {
      const started = performance.now();
      const r = await runCli([...args], { env: { TMPDIR: tmp.path }, timeoutMs: 60_000 });
      const seconds = (performance.now() - started) / 1000;
      equal(r.code, 3, r.stderr);
      match(r.json.message, message);
      // Deno's start, then the limit, then stopping both QEMUs.
      ok(seconds < 3 + 5, `took ${seconds.toFixed(1)} s`);
    });
  }
});

Deno.test("a QEMU named for another architecture is refused for what it is", async (t) => {
  for (
    const [name, args, message] of [
      [
        "system: --qemu-b qemu-system-aarch64 for a sparc guest",
        ["--bios", "sparc", g("sparc-bios.bin"), "--qemu-b", "qemu-system-aarch64"],
        "QEMU for side b is qemu-system-aarch64, which emulates aarch64, not sparc",
      ],
      [
        "linux-user: --qemu qemu-aarch64 for an x86_64 program",
        ["--qemu", "qemu-aarch64", "x86_64", g("x86_64-hello")],
        "QEMU for both sides is qemu-aarch64, which emulates aarch64, not x86_64",
      ],
    ] as const
  ) {
    await t.step(name, async () => {
      const r = await runCli(["--json", ...args]);
      equal(r.code, 2, r.stderr);
      match(r.stderr, new RegExp(`^error: ${message}\\n  hint: pass a \\w+ QEMU`, "m"));
      ok(!/firmware/.test(r.stderr), r.stderr);
    });
  }
});

Deno.test("-smp above 15 in system mode is refused before any QEMU starts, naming the fix", async () => {
  await using tmp = await tempDir();
  for (const smp of ["16", "cpus=1,maxcpus=16", "sockets=4,cores=4"]) {
    const r = await runCli(
      ["--json", "sparc", g("sparc-hello.elf"), "--extra-b=-smp", `--extra-b=${smp}`],
      { env: { TMPDIR: tmp.path }, timeoutMs: 60_000 },
    );
    equal(r.code, 2, r.stderr);
    match(
      r.stderr + (r.json?.message ?? ""),
      /-smp asks for 16 vCPUs for side b: lockstep takes at most 15/,
    );
    match(r.stderr + JSON.stringify(r.json ?? {}), /-smp 15 or fewer/);
  }
  // Nothing was started: no run directory, no socket left.
  deepEqual([...Deno.readDirSync(tmp.path)], []);
  // One vCPU is what a run is.
  const one = await runCli(["--json", "sparc", g("sparc-hello.elf"), "--extra=-smp", "--extra=1"], {
    env: { TMPDIR: tmp.path },
    timeoutMs: 120_000,
  });
  equal(one.code, 0, one.stderr);
});

// End-to-end: the real CLI, real QEMU 7.2, the real plugin build and sockets.
import { alive, GUESTS, runCli, startCli, symbolRange, tempDir } from "./_cli.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

const g = (name: string) => GUESTS + name;

/** Asserts a run left nothing in its TMPDIR. */
async function assertNothingLeft(tmp: string) {
  const left = [];
  for await (const e of Deno.readDir(tmp)) left.push(e.name);
  deepEqual(left, [], `left behind in ${tmp}`);
}

Deno.test("x86_64 linux-user guest with identical sides matches", async () => {
  await using tmp = await tempDir();
  const r = await runCli(["--json", "x86_64", g("x86_64-hello")], { env: { TMPDIR: tmp.path } });
  equal(r.code, 0, r.stderr);
  equal(r.json.version, 1);
  equal(r.json.status, "match");
  equal(r.json.stoppedBy, "guest-exit");
  equal(r.json.sides.a.mode, "user");
  ok(r.json.insns > 100_000);
  equal(r.json.sides.a.insns, r.json.sides.b.insns);
  match(r.json.sides.a.output, /checksum 0x8346d83d/);
  equal(r.json.divergence, null);
  await assertNothingLeft(tmp.path);
});

Deno.test("bare-metal sparc32 on SS-20 matches and both QEMUs exit by themselves", async () => {
  await using tmp = await tempDir();
  const r = await runCli(["--json", "sparc", g("sparc-hello.elf")], { env: { TMPDIR: tmp.path } });
  equal(r.code, 0, r.stderr);
  equal(r.json.status, "match");
  equal(r.json.stoppedBy, "guest-exit");
  equal(r.json.sides.a.mode, "system");
  for (const side of [r.json.sides.a, r.json.sides.b]) {
    equal(side.exitCode, 0);
    equal(side.signal, null);
    match(side.output, /checksum 0x8346d83d/);
    ok(side.argv.includes("-icount") && side.argv.includes("-no-reboot"));
  }
  await assertNothingLeft(tmp.path);
});

for (
  const [arch, base, variant, nm] of [
    ["x86_64", "x86_64-hello", "x86_64-hello-variant", "nm"],
    ["sparc", "sparc-hello.elf", "sparc-hello-variant.elf", "sparc64-linux-gnu-nm"],
    ["aarch64", "aarch64-hello.elf", "aarch64-hello-variant.elf", "aarch64-linux-gnu-nm"],
  ] as const
) {
  Deno.test(`${arch}: diverges inside mix_step when side B runs the variant`, async () => {
    const r = await runCli(["--json", arch, g(base), "--image-b", g(variant)]);
    equal(r.code, 1, r.stderr);
    equal(r.json.status, "diverged");
    equal(r.json.stoppedBy, "divergence");
    const [start, end] = await symbolRange(nm, g(base), "mix_step");
    const [startB, endB] = await symbolRange(nm, g(variant), "mix_step");
    const inMix = (hex: string) => BigInt(hex) >= start && BigInt(hex) < end;
    const inMixB = (hex: string) => BigInt(hex) >= startB && BigInt(hex) < endB;
    const d = r.json.divergence;
    // Side A is at the first instruction that differs: inside mix_step, or
    // (sparc, where the base calls out of mix_step first) at the target of
    // the transfer whose instruction, just before, lies in mix_step.
    const insnsA = d.history.a.flatMap((b: { insns: { pc: string }[] }) => b.insns);
    const before = insnsA[insnsA.findIndex((i: { pc: string }) => i.pc === d.a.pc) - 1];
    ok(
      inMix(d.a.pc) || (before && inMix(before.pc)),
      `divergence.a.pc ${d.a.pc} not in/after mix_step`,
    );
    ok(inMixB(d.b.pc), `divergence.b.pc ${d.b.pc} outside mix_step`);
    if (arch !== "sparc") ok(inMix(d.a.pc), `divergence.a.pc ${d.a.pc} outside mix_step`);
    equal(r.json.divergence.insn, r.json.insns);
    equal(r.json.divergence.history.a.length, 8);
    equal(r.json.divergence.history.b.length, 8);
    match(r.json.divergence.a.pc, /^0x[0-9a-f]+$/);
  });
}

Deno.test("one instruction per TB on side B is not a divergence", async () => {
  const r = await runCli(["--json", "--extra-b=-singlestep", "x86_64", g("x86_64-hello")]);
  equal(r.code, 0, r.stderr);
  equal(r.json.status, "match");
  ok(r.json.sides.b.argv.includes("-singlestep"));
  // Side B retires one instruction per block, side A several.
  ok(
    r.json.sides.b.blocks > r.json.sides.a.blocks * 2,
    JSON.stringify([r.json.sides.a.blocks, r.json.sides.b.blocks]),
  );
});

Deno.test("a CLI killed outright leaves a stale socket; the next runs, two at once, are not disturbed", async () => {
  await using tmp = await tempDir();
  const killed = await startCli(["--json", "x86_64", g("x86_64-loop"), "--", "4000000000"], {
    TMPDIR: tmp.path,
  });
  killed.child.kill("SIGKILL");
  await killed.finish();
  // Its QEMUs see the control socket close and end by themselves.
  for (let i = 0; i < 100 && (alive(killed.pids.a) || alive(killed.pids.b)); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  ok(!alive(killed.pids.a) && !alive(killed.pids.b), "the killed run's QEMUs still run");
  const stale = [];
  for await (const e of Deno.readDir(tmp.path)) {
    for await (const f of Deno.readDir(`${tmp.path}/${e.name}`)) {
      if (f.name.endsWith(".sock")) stale.push(`${e.name}/${f.name}`);
    }
  }
  ok(stale.length > 0, "no stale socket was left to test against");
  const runs = await Promise.all(
    [0, 1].map(() =>
      runCli(["--json", "x86_64", g("x86_64-hello")], { env: { TMPDIR: tmp.path } })
    ),
  );
  for (const r of runs) {
    equal(r.code, 0, r.stderr);
    equal(r.json.status, "match");
  }
});

Deno.test("--max-insns stops both sides at exactly that many instructions", async () => {
  const r = await runCli(["--json", "--max-insns", "1000003", "x86_64", g("x86_64-loop")]);
  equal(r.code, 0, r.stderr);
  equal(r.json.status, "match");
  equal(r.json.stoppedBy, "max-insns");
  equal(r.json.insns, 1000003);
});

Deno.test("--timeout ends a long run as inconclusive, exit 3", async () => {
  await using tmp = await tempDir();
  const r = await runCli([
    "--json",
    "--timeout",
    "2",
    "x86_64",
    g("x86_64-loop"),
    "--",
    "4000000000",
  ], {
    env: { TMPDIR: tmp.path },
  });
  equal(r.code, 3, r.stderr);
  equal(r.json.status, "inconclusive");
  equal(r.json.stoppedBy, "timeout");
  ok(r.json.insns > 0);
  // Ended in the fast pass: not its match, and memory was not compared.
  equal(r.json.fastPass.result, "ended");
  match(r.json.fastPass.why, /inconclusive/);
  ok(!r.json.compared.includes("mem"));
  match(
    r.json.notCompared.find((n: { what: string }) => n.what === "mem").why,
    /ended in the fast pass/,
  );
  await assertNothingLeft(tmp.path);
});

Deno.test("SIGKILL to one QEMU mid-run: exit 3 within seconds, nothing left", async () => {
  await using tmp = await tempDir();
  const run = await startCli(["--json", "x86_64", g("x86_64-loop"), "--", "4000000000"], {
    TMPDIR: tmp.path,
  });
  await new Promise((r) => setTimeout(r, 500));
  const killedAt = performance.now();
  Deno.kill(run.pids.b, "SIGKILL");
  const { code, stdout } = await run.finish();
  const seconds = (performance.now() - killedAt) / 1000;
  equal(code, 3);
  ok(seconds < 10, `took ${seconds} s`);
  const json = JSON.parse(stdout);
  equal(json.status, "inconclusive");
  equal(json.stoppedBy, "crash");
  equal(json.sides.b.signal, "SIGKILL");
  ok(!alive(run.pids.a), "side a's QEMU still runs");
  ok(!alive(run.pids.b), "side b's QEMU still runs");
  await assertNothingLeft(tmp.path);
});

Deno.test("bad input exits 2 with one sentence naming the problem and the fix", async (t) => {
  await using tmp = await tempDir();
  const bogusHeader = `${tmp.path}/qemu-plugin.h`;
  await Deno.writeTextFile(bogusHeader, "#error this is not a plugin header\n");
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    [
      "missing image",
      ["x86_64", "/nonexistent/guest"],
      {},
      /Image not found: \/nonexistent\/guest\n {2}hint: /,
    ],
    [
      "unknown arch",
      ["vax", g("x86_64-hello")],
      {},
      /Unknown architecture: vax\n {2}hint: use one of: sparc/,
    ],
    ["image of another arch", ["sparc", g("x86_64-hello")], {}, /is a x86-64 ELF, not sparc/],
    [
      "QEMU not found",
      ["--qemu", "/nonexistent/qemu-x86_64", "x86_64", g("x86_64-hello")],
      {},
      /QEMU binary not found: \/nonexistent/,
    ],
    ["no C compiler", ["--cache-dir", `${tmp.path}/c1`, "x86_64", g("x86_64-hello")], {
      CC: "/nonexistent/cc",
    }, /No C compiler found: \/nonexistent\/cc\n {2}hint: install gcc/],
    [
      "a header that does not compile",
      [
        "--cache-dir",
        `${tmp.path}/c2`,
        "--plugin-header",
        bogusHeader,
        "x86_64",
        g("x86_64-hello"),
      ],
      {},
      /Building the plugin failed: .*qemu-plugin\.h:[\s\S]*this is not a plugin header[\s\S]*hint: check --plugin-header/,
    ],
    [
      "usage error",
      ["--max-insns", "x", "x86_64", g("x86_64-hello")],
      {},
      /Invalid --max-insns: x/,
    ],
  ];
  for (const [name, args, env, re] of cases) {
    await t.step(name, async () => {
      const r = await runCli(args, { env });
      equal(r.code, 2, r.stderr);
      match(r.stderr, re);
      equal(r.stdout, "");
    });
  }
});

Deno.test("linux-user: both sides see the same executable path, even when side B's image has a longer name", async () => {
  await using tmp = await tempDir();
  const longer = `${tmp.path}/x86_64-glibc-under-a-much-longer-name`;
  await Deno.copyFile(g("x86_64-glibc"), longer);
  await Deno.chmod(longer, 0o755);
  const r = await runCli(["--json", "x86_64", g("x86_64-glibc"), "--image-b", longer]);
  equal(r.code, 0, r.stderr);
  equal(r.json.status, "match");
  // Both guests printed the same line: the same argv[0] on both sides.
  equal(r.json.sides.a.output, r.json.sides.b.output);
  match(r.json.sides.a.output, /argv\[0\] hash 0x[0-9a-f]+, length 12/);
});

Deno.test("SIGINT to the CLI mid-run: exit 3, interrupted, nothing left", async () => {
  await using tmp = await tempDir();
  const run = await startCli(["--json", "x86_64", g("x86_64-loop"), "--", "4000000000"], {
    TMPDIR: tmp.path,
  });
  run.child.kill("SIGINT");
  const { code, stdout } = await run.finish();
  equal(code, 3);
  const json = JSON.parse(stdout);
  equal(json.status, "inconclusive");
  equal(json.stoppedBy, "interrupted");
  for (const pid of [run.pids.a, run.pids.b]) ok(!alive(pid), `QEMU ${pid} still runs`);
  await assertNothingLeft(tmp.path);
});

Deno.test("an image given as a symbolic link runs the file it names, on both sides", async (t) => {
  await using dir = await tempDir();
  const target = `${GUESTS}x86_64-hello`;
  await Deno.symlink(target, `${dir.path}/absolute`);
  await Deno.mkdir(`${dir.path}/bin`);
  await Deno.copyFile(target, `${dir.path}/bin/hello-1.0`);
  await Deno.symlink("hello-1.0", `${dir.path}/bin/hello`);
  await Deno.symlink("bin/hello", `${dir.path}/chain`);
  for (const name of ["absolute", "bin/hello", "chain"]) {
    await t.step(name, async () => {
      const r = await runCli(["--json", "x86_64", `${dir.path}/${name}`]);
      equal(r.code, 0, r.stderr);
      equal(r.json.status, "match");
      for (const side of ["a", "b"] as const) {
        match(r.json.sides[side].output, /checksum/);
      }
    });
  }
});

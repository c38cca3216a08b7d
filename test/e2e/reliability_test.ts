// Right verdicts under load, faults and hostile input (the real CLI and
// library, real QEMU 7.2).
import { buildPlugin, planRun, runLockstep } from "../../mod.ts";
import { sideArgv } from "../../harness/plan/command_line.ts";
import { SidePair } from "../../harness/run/side_pair.ts";
import { alive, GUESTS, ROOT, runCli, startCli, tempDir } from "./_cli.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

const g = (name: string) => GUESTS + name;

Deno.test("a side's exit counts only after its plugin's reports were read, even when the harness reads late", async () => {
  // The harness reads nothing until both QEMUs have run to their end: their
  // exits, connections and reports are all pending at once (as under load).
  const plan = await planRun({ arch: "x86_64", image: g("x86_64-hello") });
  const plugin = await buildPlugin({
    source: "lockstep",
    api: plan.a.qemu.pluginApi,
    qemuPath: plan.a.qemu.path,
  });
  await using pair = await SidePair.open({
    plan,
    args: (side, dir) => sideArgv({ plan, side, runDir: dir, plugin, pass: { kind: "lockstep" } }),
  });
  await Promise.all([pair.sides.a.child.status, pair.sides.b.child.status]);
  await new Promise((r) => setTimeout(r, 500));
  const exitedBeforeHello: string[] = [];
  const ended = new Set<string>();
  while (!(pair.sides.a.exit && pair.sides.b.exit)) {
    for (const role of ["a", "b"] as const) {
      const s = pair.sides[role];
      if (s.exit && !s.hello) exitedBeforeHello.push(role);
    }
    if (exitedBeforeHello.length) break;
    const next = await pair.next();
    if (next?.msg.t === "end") ended.add(next.role);
  }
  deepEqual(exitedBeforeHello, []);
  deepEqual([...ended].sort(), ["a", "b"]);
});

Deno.test("many short pairs at once: every verdict right", async () => {
  await using dir = await tempDir();
  const cases = Array.from({ length: 16 }, (_, i) => ({
    name: `hello ${i}`,
    arch: "x86_64",
    image: g("x86_64-hello"),
  }));
  const file = `${dir.path}/suite.json`;
  await Deno.writeTextFile(file, JSON.stringify({ cases }));
  const r = await runCli(["suite", "--json", "--jobs", "8", file]);
  const wrong = r.json?.results.filter((x: { passed: boolean }) => !x.passed) ?? [];
  equal(
    wrong.length,
    0,
    wrong.map((x: { name: string; error: string; verdict: { message: string } }) =>
      `${x.name}: ${x.error ?? x.verdict?.message}`
    ).join("\n") || r.stderr,
  );
  equal(r.code, 0);
});

Deno.test("one side's QEMU refuses the guest: exit 2 at once with its words, the other side ends too", async (t) => {
  for (const side of ["a", "b"] as const) {
    await t.step(`side ${side}`, async () => {
      await using tmp = await tempDir();
      await using bin = await tempDir();
      // A QEMU for another target under a name of no arch (as a build of
      // one's own may be), so that it gets as far as refusing the image.
      const other = `${bin.path}/qemu-of-another-target`;
      await Deno.symlink("/usr/bin/qemu-aarch64", other);
      const started = performance.now();
      // No --timeout: the run must end by itself (it hung, or called the
      // refusal a divergence at instruction 0).
      const r = await runCli([
        "--json",
        `--qemu-${side}`,
        other,
        "x86_64",
        g("x86_64-hello"),
      ], {
        env: { TMPDIR: tmp.path },
        timeoutMs: 60_000,
      });
      const seconds = (performance.now() - started) / 1000;
      equal(r.code, 2, r.stderr);
      equal(r.json.status, "error");
      match(
        r.json.message,
        new RegExp(
          `^QEMU for side ${side} refused to run the guest \\(exit code 255, no instruction ran\\): ` +
            `.*Invalid ELF image for this architecture`,
        ),
      );
      // QEMU's own exit status, not the plugin's.
      equal(r.json.sides[side].exitCode, 255);
      ok(seconds < 30, `took ${seconds.toFixed(1)} s`);
      const left = [];
      for await (const e of Deno.readDir(tmp.path)) left.push(e.name);
      deepEqual(left, []);
    });
  }
});

Deno.test("a QEMU that exits without a word: the message says what was run, to run alone", async () => {
  await using tmp = await tempDir();
  await using bin = await tempDir();
  // Answers --version as Debian's QEMU does, then ends silently on the run.
  const silent = `${bin.path}/qemu-x86_64-silent`;
  await Deno.writeTextFile(
    silent,
    '#!/bin/sh\ncase " $* " in *" --version "*) exec /usr/bin/qemu-x86_64 "$@";; esac\nexit 3\n',
  );
  await Deno.chmod(silent, 0o755);
  const r = await runCli(
    ["--json", "--qemu-b", silent, "x86_64", g("x86_64-hello"), "--", "one", "two"],
    {
      env: { TMPDIR: tmp.path },
      timeoutMs: 60_000,
    },
  );
  equal(r.code, 2, r.stderr);
  equal(r.json.status, "error");
  match(
    r.json.message,
    /^QEMU for side b .*exit code 3.*, and printed nothing\. Without the plugin it ran: /,
  );
  // The command is side b's, with the image where the user named it and its arguments.
  const ran = r.json.message.split("Without the plugin it ran: ")[1];
  ok(ran.includes(` ${silent} `), ran);
  ok(ran.includes(` ${g("x86_64-hello")} one two `), ran);
  ok(!ran.includes("-plugin"), ran);
  const left = [];
  for await (const e of Deno.readDir(tmp.path)) left.push(e.name);
  deepEqual(left, []);
});

Deno.test("a 2.5 GB sparse image is neither read into memory nor copied whole", async (t) => {
  await using dir = await tempDir();
  const big = `${dir.path}/x86_64-hello-big`;
  await Deno.copyFile(g("x86_64-hello"), big);
  await Deno.truncate(big, 2_500_000_000);
  const before = Deno.memoryUsage().rss;
  const plan = await planRun({ arch: "x86_64", image: big, compare: ["pc"] });
  // TMPDIR is process-wide and the test files run side by side in one
  // process: this test never sets it (another test's QEMUs would make
  // their run directories in ours). The run in-process uses the default
  // TMPDIR, on the file system of `dir`; the run on another file system is
  // a CLI of its own with TMPDIR in its environment.
  await t.step("same file system: the guest is linked, not copied", async () => {
    const v = await runLockstep(plan, { keepTemp: true });
    equal(v.status, "match", v.message);
    const copy = Deno.statSync(`${v.tempDir}/a/x86_64-hello-big`);
    equal(copy.ino, Deno.statSync(big).ino);
    await Deno.remove(v.tempDir!, { recursive: true });
  });
  const shm = "/dev/shm";
  const other = (() => {
    try {
      return Deno.statSync(shm).dev !== Deno.statSync(dir.path).dev;
    } catch {
      return false;
    }
  })();
  await t.step({
    name: "another file system: a copy that keeps the holes",
    ignore: !other,
    fn: async () => {
      const sub = await Deno.makeTempDir({ dir: shm, prefix: "lockstep-test-" });
      try {
        const r = await runCli(["--json", "--keep-temp", "--compare", "pc", "x86_64", big], {
          env: { TMPDIR: sub },
        });
        equal(r.code, 0, r.stderr);
        equal(r.json.status, "match", r.json.message);
        ok(r.json.tempDir.startsWith(`${sub}/`), r.json.tempDir);
        const copy = Deno.statSync(`${r.json.tempDir}/b/x86_64-hello-big`);
        equal(copy.size, 2_500_000_000);
        ok(copy.blocks! * 512 < 10 << 20, `${copy.blocks! * 512} bytes on disk`);
      } finally {
        await Deno.remove(sub, { recursive: true });
      }
    },
  });
  const grown = Deno.memoryUsage().rss - before;
  ok(grown < 500 << 20, `RSS grew by ${grown >> 20} MB`);
});

Deno.test("stopping a child leaves no timer behind: the process ends with its work", async () => {
  // A process that stops a child with a 20 s grace must not wait those
  // 20 s for a timer once the child is gone (the CLI lingered so).
  const child = new URL("../../harness/core/owned_child.ts", import.meta.url).href;
  const script = `import { OwnedChild } from "${child}";
const st = await new OwnedChild("sleep", ["60"]).stop(20000);
console.log(st.signal);`;
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  equal(new TextDecoder().decode(out.stdout).trim(), "SIGTERM");
  ok(seconds < 15, `took ${seconds.toFixed(1)} s`);
});

Deno.test("a QEMU stopped by SIGSTOP mid-run: inconclusive, said, nothing left", async () => {
  await using tmp = await tempDir();
  const run = await startCli(["--json", "x86_64", g("x86_64-loop"), "--", "4000000000"], {
    TMPDIR: tmp.path,
  });
  Deno.kill(run.pids.b, "SIGSTOP");
  const { code, stdout } = await run.finish();
  equal(code, 3);
  const v = JSON.parse(stdout);
  equal(v.stoppedBy, "stalled");
  match(v.message, new RegExp(`side b \\(pid ${run.pids.b}\\) is stopped`));
  for (const pid of [run.pids.a, run.pids.b]) ok(!alive(pid), `QEMU ${pid} still runs`);
  const left = [];
  for await (const e of Deno.readDir(tmp.path)) left.push(e.name);
  deepEqual(left, []);
});

Deno.test("a reader that goes away (--verbose | head -3): the run ends as usual, nothing left", async () => {
  await using tmp = await tempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli/main.ts`, "--verbose", "x86_64", g("x86_64-hello")],
    env: { NO_COLOR: "1", TMPDIR: tmp.path },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (seen.split("\n").length <= 3) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  await reader.cancel();
  const status = await child.status;
  equal(status.code, 0);
  const left = [];
  for await (const e of Deno.readDir(tmp.path)) left.push(e.name);
  deepEqual(left, []);
});

Deno.test("SIGHUP, SIGQUIT and SIGTERM to the CLI mid-run: exit 3, interrupted, nothing left", async (t) => {
  for (const sig of ["SIGHUP", "SIGQUIT", "SIGTERM"] as const) {
    await t.step(sig, async () => {
      await using tmp = await tempDir();
      const run = await startCli(["--json", "x86_64", g("x86_64-loop"), "--", "4000000000"], {
        TMPDIR: tmp.path,
      });
      run.child.kill(sig);
      const { code, stdout } = await run.finish();
      equal(code, 3);
      equal(JSON.parse(stdout).stoppedBy, "interrupted");
      for (const pid of [run.pids.a, run.pids.b]) ok(!alive(pid), `QEMU ${pid} still runs`);
      const left = [];
      for await (const e of Deno.readDir(tmp.path)) left.push(e.name);
      deepEqual(left, []);
    });
  }
});

Deno.test("bad environments and options: exit 2, one sentence and a hint, nothing left", async (t) => {
  await using tmp = await tempDir();
  const hang = `${tmp.path}/qemu-hangs`;
  await Deno.writeTextFile(hang, "#!/bin/sh\nexec sleep 1000\n");
  await Deno.chmod(hang, 0o755);
  const aFile = `${tmp.path}/a-file`;
  await Deno.writeTextFile(aFile, "");
  const long = `${tmp.path}/${"d".repeat(100 - tmp.path.length)}`;
  await Deno.mkdir(long);
  const hello = ["x86_64", g("x86_64-hello")];
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    [
      "TMPDIR missing",
      hello,
      { TMPDIR: `${tmp.path}/nowhere` },
      /TMPDIR .*nowhere: it does not exist/,
    ],
    ["TMPDIR a file", hello, { TMPDIR: aFile }, /TMPDIR .*a-file: it is not a directory/],
    ["TMPDIR too long for a socket", hello, { TMPDIR: long }, /too long for the run's sockets/],
    [
      "--report unwritable",
      ["--report", `${tmp.path}/no/such/dir.json`, ...hello],
      {},
      /Cannot write --report/,
    ],
    [
      "--timeout past what a timer holds",
      ["--timeout", "3000000", ...hello],
      {},
      /Invalid --timeout: 3000000/,
    ],
    ["--compare empty", ["--compare", "", ...hello], {}, /--compare names nothing/],
    [
      "--history huge",
      ["--history", "100000000", ...hello],
      {},
      /Invalid --history: 100000000 \(expected a whole number of blocks from 0 to 10,000\)/,
    ],
    [
      "--window huge",
      ["--window", "4000000000", ...hello],
      {},
      /Invalid --window: 4000000000 \(expected a whole number of instructions from 0 to 16,777,216\)/,
    ],
    [
      // The detail pass's dump of 2^24 instructions and more ran Deno out of memory.
      "--interval past what a dump holds",
      ["--interval", "16777216", ...hello],
      {},
      /Invalid --interval: 16777216 \(expected a whole number of instructions from 1 to 4,194,304\)/,
    ],
    [
      "--window of too many intervals",
      ["--interval", "1", "--window", "100000", ...hello],
      {},
      /more than 4000 intervals/,
    ],
    [
      "a QEMU that never answers --version",
      ["--qemu", hang, ...hello],
      {},
      /did not answer within \d+ s/,
    ],
    [
      "a bad -cpu in user mode",
      ["--extra=-cpu", "--extra=nonsense", ...hello],
      {},
      /refused to run the guest .*unable to find CPU model 'nonsense'/,
    ],
  ];
  for (const [name, args, env, re] of cases) {
    await t.step(name, async () => {
      const r = await runCli(args, { env: { TMPDIR: tmp.path, ...env } });
      equal(r.code, 2, r.stderr);
      match(r.stderr, re);
      // A set-up error has its hint, a usage error the usage, QEMU's own refusal its words.
      match(r.stderr, /hint: |Usage: |^ERROR {2}QEMU/m);
      equal(r.stdout, "");
    });
  }
  await t.step("too few open files (ulimit -n 16 to 35)", async () => {
    // Where the limit bites depends on what is open by then; wherever it
    // does, the answer is a sentence with the fix, never an internal error.
    let bitten = 0;
    for (let n = 16; n < 36; n++) {
      const out = await new Deno.Command("sh", {
        args: [
          "-c",
          `ulimit -n ${n} && exec "$@"`,
          "sh",
          Deno.execPath(),
          "run",
          "-A",
          `${ROOT}cli/main.ts`,
          ...hello,
        ],
        env: { NO_COLOR: "1", TMPDIR: tmp.path },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      // Too few for Deno itself to start (it panics, or cannot read its
      // imports, its lockfile or ~/.npmrc: an error of Deno's own, with
      // its Rust "Stack backtrace", which our code never prints): not our
      // code.
      if (
        out.code === 0 ||
        /Deno has panicked|Import '.*' failed|Failed reading lockfile|Error loading \.npmrc|^Stack backtrace:/m
          .test(stderr)
      ) continue;
      equal(out.code, 2, `ulimit -n ${n}: ${stderr}`);
      ok(!/internal error/.test(stderr), `ulimit -n ${n}: ${stderr}`);
      match(stderr, /Too many open files[\s\S]*hint: raise the limit on open files/);
      bitten++;
    }
    ok(bitten > 0, "no limit was low enough to matter");
  });
  await t.step("a comma in TMPDIR is no trouble", async () => {
    const comma = `${tmp.path}/a,b`;
    await Deno.mkdir(comma);
    const r = await runCli(["--json", ...hello], { env: { TMPDIR: comma } });
    equal(r.code, 0, r.stderr);
  });
  // Nothing of any run is left in TMPDIR: only what this test made.
  const left = [];
  for await (const e of Deno.readDir(tmp.path)) left.push(e.name);
  deepEqual(left.sort(), ["a,b", "a-file", "d".repeat(100 - tmp.path.length), "qemu-hangs"].sort());
});

Deno.test("a QEMU that lives but never runs its guest is a stall, within the bound", async (t) => {
  // Side B never starts its guest, side A runs ahead to its window (or its
  // end) and waits for B: neither retires an instruction again. Messages
  // still come (A's end, B's hello); only instructions count.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = String(listener.addr.port);
  listener.close();
  const cases: [string, Parameters<typeof planRun>[0]][] = [
    ["linux-user, -g waiting for a debugger", {
      arch: "x86_64",
      image: g("x86_64-hello"),
      extraB: ["-g", port],
    }],
    ["system mode, -S: the CPU never started", {
      arch: "sparc",
      image: g("sparc-bios.bin"),
      bios: true,
      extraB: ["-S"],
    }],
  ];
  for (const [name, options] of cases) {
    await t.step(name, async () => {
      const plan = await planRun(options);
      const started = performance.now();
      const v = await runLockstep(plan, { stallSeconds: 3, timeoutSeconds: 120 });
      const seconds = (performance.now() - started) / 1000;
      equal(v.status, "inconclusive", v.message);
      equal(v.stoppedBy, "stalled");
      match(v.message, /No instruction ran on either side for \d+ s/);
      match(v.message, /side b never ran its guest/);
      ok(seconds < 30, `took ${seconds.toFixed(1)} s`);
    });
  }
});

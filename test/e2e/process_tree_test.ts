// A guest that forks: under linux-user every fork is a fork of the whole
// QEMU, plugin and sockets included, and QEMU hands a program the guest
// executes to the host. Each forked child is compared with the other
// side's child of its path; a program of the guest's arch runs under QEMU
// and the plugin again from plugin API 4 (natively before, and said). The
// run ends with a verdict within a bounded time, names the process a
// difference is in, and leaves nothing: no QEMU, no native program, no
// zombie (the real CLI, Debian's QEMU 7.2 and the 10.2 build, Debian's
// bash).
import { QEMU_10_2_DIR } from "../../cli/setup_qemus.ts";
import { OwnedChild } from "../../harness/core/owned_child.ts";
import { buildPlugin } from "../../harness/qemu/plugin_build.ts";
import { type Schema, validate } from "../_json_schema.ts";
import { GUESTS, ROOT, tempDir } from "./_cli.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

const MAIN = `${ROOT}cli/main.ts`;
const FORKS = `${GUESTS}x86_64-forks`;
const PIPELINE = "for i in $(seq 1 200); do echo $i; done | wc -l";
const schema: Schema = JSON.parse(await Deno.readTextFile(`${ROOT}docs/verdict.schema.json`));
const QEMUS: readonly [string, string[]][] = [
  ["7.2", []],
  ["10.2", ["--qemu", `${QEMU_10_2_DIR}qemu-x86_64`]],
];

interface Run {
  readonly code: number;
  // deno-lint-ignore no-explicit-any
  readonly json: any;
  readonly stderr: string;
  readonly seconds: number;
}

/**
 * Runs the CLI in `tmp` (its TMPDIR); `stop` sends it a signal after that
 * many seconds. A CLI still there after `boundSeconds` gets SIGKILL: a hang
 * fails the test instead of stalling it (SIGTERM did not end it).
 */
async function run(
  args: readonly string[],
  tmp: string,
  opts: { boundSeconds?: number; stop?: [Deno.Signal, number] } = {},
): Promise<Run> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--json", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", TMPDIR: tmp },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timers = [
    setTimeout(() => child.kill("SIGKILL"), (opts.boundSeconds ?? 90) * 1000),
    ...(opts.stop ? [setTimeout(() => child.kill(opts.stop![0]), opts.stop[1] * 1000)] : []),
  ];
  const out = await child.output();
  timers.forEach(clearTimeout);
  const dec = new TextDecoder();
  let json;
  try {
    json = JSON.parse(dec.decode(out.stdout));
  } catch {
    json = undefined;
  }
  return {
    code: out.code,
    json,
    stderr: dec.decode(out.stderr),
    seconds: (performance.now() - started) / 1000,
  };
}

/** What a process is now, from /proc: undefined once it is gone (and reaped). */
function processNow(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return `${comm} (state ${state})`;
  } catch {
    return undefined;
  }
}

/**
 * Every process of the verdict's trees (each side's QEMUs, and what they
 * became by exec) that is still there, alive or a zombie, and any file
 * left in TMPDIR.
 */
// deno-lint-ignore no-explicit-any
async function leftovers(v: any, tmp: string): Promise<string[]> {
  const left: string[] = [];
  for (const p of v?.processes ?? []) {
    for (const role of ["a", "b"]) {
      const pid = p.pids[role];
      // A pid reused at once by a stranger is not ours: only names of the tree count.
      const now = pid && processNow(pid);
      if (now && /^(qemu-x86_64|bash|seq|wc|sleep|cat|x86_64-forks)\b/.test(now)) {
        left.push(`${p.path} on side ${role}: pid ${pid}, ${now}`);
      }
    }
  }
  for await (const e of Deno.readDir(tmp)) left.push(`in TMPDIR: ${e.name}`);
  return left;
}

// deno-lint-ignore no-explicit-any
const paths = (v: any) => (v.processes ?? []).map((p: { path: string }) => p.path);

for (const [version, qemu] of QEMUS) {
  Deno.test(`a guest that forks and waits on QEMU ${version}: each child compared with its pair, nothing left`, async (t) => {
    await t.step("instructions compared: a match", async () => {
      await using tmp = await tempDir();
      const r = await run([...qemu, "--compare", "pc", "x86_64", FORKS], tmp.path);
      equal(r.code, 0, r.json?.message ?? r.stderr);
      equal(r.json.status, "match", r.json.message);
      ok(r.seconds < 60, `took ${r.seconds.toFixed(1)} s`);
      const expected = "child 1: 6439779f\nparent: child 1 exited 1\n" +
        "child 2: 8415e61a\nparent: child 2 exited 2\n";
      equal(r.json.sides.a.output, expected);
      equal(r.json.sides.b.output, expected);
      deepEqual(paths(r.json), ["1", "1.1", "1.2"]);
      for (const p of r.json.processes) {
        equal(p.compared, true, p.path);
        equal(p.why, null);
        ok(p.pids.a > 0 && p.pids.b > 0);
      }
      equal(r.json.notCompared.find((n: { what: string }) => n.what === "processes"), undefined);
      deepEqual(await leftovers(r.json, tmp.path), []);
    });
    await t.step("a difference in child 2 only: named in process 1.2", async () => {
      await using tmp = await tempDir();
      const r = await run(
        [...qemu, "--compare", "pc", "x86_64", FORKS, "--image-b", `${FORKS}-variant`],
        tmp.path,
      );
      equal(r.code, 1, r.json?.message ?? r.stderr);
      match(r.json.message, /^In process 1\.2 \(x86_64-forks\): diverged at instruction \d+/);
      deepEqual(r.json.divergence.process, { path: "1.2", command: ["x86_64-forks"] });
      equal(r.json.divergence.kind, "pc");
      equal(r.json.divergence.narrow.status, "skipped");
      deepEqual(validate(schema, r.json, { strict: true }), []);
      deepEqual(await leftovers(r.json, tmp.path), []);
    });
    await t.step(
      "system calls compared too: each side's PID namespace gives the children the same pids, run after run",
      async () => {
        for (let i = 0; i < 3; i++) {
          await using tmp = await tempDir();
          const r = await run([...qemu, "x86_64", FORKS], tmp.path);
          equal(r.code, 0, r.json?.message ?? r.stderr);
          equal(r.json.status, "match", r.json.message);
          ok(r.json.compared.includes("syscalls"));
          // The harness's /proc numbers them: the host's pids, one per side.
          for (const p of r.json.processes) {
            ok(p.pids.a > 0 && p.pids.b > 0 && p.pids.a !== p.pids.b);
          }
          deepEqual(await leftovers(r.json, tmp.path), []);
        }
      },
    );
  });

  Deno.test(
    `a guest whose first process executes a program on QEMU ${version}: under QEMU again, compared`,
    async () => {
      // The plugin reads what the guest executes (plugin API 4, or below it
      // guest_mem.c): sha256sum, of the guest's arch, is 1@1.
      await using tmp = await tempDir();
      const r = await run(
        [...qemu, "x86_64", "/bin/sh", "--", "-c", "exec /usr/bin/sha256sum /dev/null"],
        tmp.path,
      );
      // The program's own output, on both sides: it ran.
      for (const side of ["a", "b"]) match(r.json.sides[side].output, /^e3b0c442.*\/dev\/null\n$/);
      deepEqual(await leftovers(r.json, tmp.path), []);
      equal(r.code, 0, r.json?.message ?? r.stderr);
      deepEqual(paths(r.json), ["1", "1@1"]);
      ok(r.json.processes.every((p: { compared: boolean }) => p.compared));
      deepEqual(r.json.processes[0].command, ["sh", "-c", "exec /usr/bin/sha256sum /dev/null"]);
      deepEqual(r.json.processes[1].command, ["/usr/bin/sha256sum", "/dev/null"]);
      match(r.json.processes[0].why, /which runs under QEMU again as 1@1$/);
      // deno-lint-ignore no-explicit-any
      equal(r.json.notCompared.find((n: any) => n.what === "processes"), undefined);
    },
  );

  Deno.test(
    `a guest whose first process executes a script on QEMU ${version}: natively, said`,
    async () => {
      // A script is no ELF of the guest's: the host's kernel runs its
      // interpreter natively, outside QEMU. Nothing after the exec compared.
      await using tmp = await tempDir();
      await using dir = await tempDir();
      const script = `${dir.path}/hello.sh`;
      await Deno.writeTextFile(script, "#!/bin/sh\necho hello from a script\n");
      await Deno.chmod(script, 0o755);
      const r = await run([...qemu, "x86_64", "/bin/sh", "--", "-c", `exec ${script}`], tmp.path);
      for (const side of ["a", "b"]) equal(r.json.sides[side].output, "hello from a script\n");
      equal(r.code, 3, r.json?.message ?? r.stderr);
      equal(r.json.status, "inconclusive");
      equal(r.json.stoppedBy, "guest-exit");
      match(
        r.json.message,
        new RegExp(`^Both guests' first processes executed ${script}, which ran natively`),
      );
      deepEqual(await leftovers(r.json, tmp.path), []);
    },
  );

  Deno.test(
    `a child that executes the guest's own program on QEMU ${version}: under QEMU again, compared`,
    async (t) => {
      // Child 2 executes the side's own copy of the guest (fd 3 is its
      // directory), which forks two children of its own: the variant's
      // difference is in the second of those.
      const args = ["--", "2", "/proc/self/fd/3/x86_64-forks"];
      await t.step("the same program: a match", async () => {
        await using tmp = await tempDir();
        const r = await run([...qemu, "--compare", "pc", "x86_64", FORKS, ...args], tmp.path);
        equal(r.code, 0, r.json?.message ?? r.stderr);
        // deno-lint-ignore no-explicit-any
        const byPath = Object.fromEntries(r.json.processes.map((p: any) => [p.path, p]));
        deepEqual(paths(r.json), ["1", "1.1", "1.2", "1.2@1", "1.2@1.1", "1.2@1.2"]);
        ok(r.json.processes.every((p: { compared: boolean }) => p.compared));
        match(byPath["1.2"].why, /which runs under QEMU again as 1\.2@1$/);
        deepEqual(byPath["1.2@1"].command, ["/proc/self/fd/3/x86_64-forks", "2"]);
        deepEqual(await leftovers(r.json, tmp.path), []);
      });
      await t.step("side b executes the variant", async () => {
        await using tmp = await tempDir();
        const r = await run(
          [...qemu, "--compare", "pc", "x86_64", FORKS, "--image-b", `${FORKS}-variant`, ...args],
          tmp.path,
        );
        equal(r.code, 1, r.json?.message ?? r.stderr);
        deepEqual(r.json.divergence.process, {
          path: "1.2@1.2",
          command: ["/proc/self/fd/3/x86_64-forks", "2"],
        });
        deepEqual(validate(schema, r.json, { strict: true }), []);
        deepEqual(await leftovers(r.json, tmp.path), []);
      });
    },
  );

  Deno.test(`a SIGCHLD taken at another instruction on each side on QEMU ${version}: the signal's, never TCG's`, async () => {
    // The child's end reaches the parent mid-loop at the host's moment. The
    // handler's address is read (plugin API 4, or guest_mem.c below it):
    // named when one side is at it, or (QEMU 7.2, whose signal frame's
    // stores come first) right after the first difference.
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) {
      await using tmp = await tempDir();
      const r = await run([...qemu, "x86_64", `${GUESTS}x86_64-sigchld`], tmp.path);
      outcomes.push(r.json.status);
      deepEqual(validate(schema, r.json, { strict: true }), []);
      deepEqual(await leftovers(r.json, tmp.path), []);
      if (r.json.status === "match") {
        // Both handlers ran, this time at the same instruction.
        for (const side of ["a", "b"]) {
          equal(r.json.sides[side].output, "parent: handled SIGCHLD once\n");
        }
        continue;
      }
      equal(r.code, 3, r.json.message);
      // The fast pass saw the streams part, the detail pass (a second run)
      // took the signal at one instruction on both sides.
      if (!r.json.divergence) {
        match(r.json.message, /two runs of the guest differ/);
        continue;
      }
      const env = r.json.divergence.environment;
      equal(env.what, "signal", r.json.message);
      equal(env.call, "SIGCHLD");
      match(env.handler, /^0x[0-9a-f]+$/, JSON.stringify(env));
      match(
        r.json.message,
        /SIGCHLD's handler \(0x[0-9a-f]+\) runs (there|right after it) on one side only/,
      );
    }
    ok(outcomes.every((o) => o === "match" || o === "inconclusive"), outcomes.join(", "));
  });

  Deno.test(`a bash pipeline with --compare pc on QEMU ${version}: wc's reads are named, never TCG's`, async () => {
    // System calls are not compared, but their results are noted: the
    // read sizes wc gets from the pipe (the host's timing) explain where
    // its streams part. Without the notes 10.2 said "diverged" 10 in 10.
    for (let i = 0; i < 3; i++) {
      await using tmp = await tempDir();
      const r = await run(
        [...qemu, "--compare", "pc", "x86_64", "/bin/bash", "--", "-c", PIPELINE],
        tmp.path,
      );
      ok(
        (r.code === 0 && r.json.status === "match") ||
          (r.code === 3 && r.json.status === "inconclusive"),
        r.json?.message ?? r.stderr,
      );
      deepEqual(r.json.compared, ["pc"]);
      deepEqual(await leftovers(r.json, tmp.path), []);
    }
  });

  Deno.test(`a bash pipeline ends on QEMU ${version}: every process named, nothing left`, async () => {
    await using tmp = await tempDir();
    const r = await run([...qemu, "x86_64", "/bin/bash", "--", "-c", PIPELINE], tmp.path);
    // A child's SIGCHLD reaches bash, the pipe's bytes reach wc, and the
    // children's pids come, at points that depend on timing
    // (docs/limits.md): the environment's, never a divergence.
    ok(
      (r.code === 0 && r.json.status === "match") ||
        (r.code === 3 && r.json.status === "inconclusive"),
      r.json?.message ?? r.stderr,
    );
    ok(r.seconds < 60, `took ${r.seconds.toFixed(1)} s`);
    if (r.json.status === "match") {
      equal(r.json.sides.a.output, "200\n");
      equal(r.json.sides.b.output, "200\n");
    }
    deepEqual(validate(schema, r.json, { strict: true }), []);
    // deno-lint-ignore no-explicit-any
    const byPath = Object.fromEntries(r.json.processes.map((p: any) => [p.path, p]));
    // The plugin reads what the guest executes, and runs it under QEMU.
    deepEqual(paths(r.json), ["1", "1.1", "1.1.1", "1.1.1@1", "1.2", "1.2@1"]);
    deepEqual(byPath["1.1.1@1"].command, ["seq", "1", "200"]);
    deepEqual(byPath["1.2@1"].command, ["wc", "-l"]);
    match(byPath["1.2"].why, /it executed \/usr\/bin\/wc, which runs under QEMU again as 1\.2@1$/);
    deepEqual(await leftovers(r.json, tmp.path), []);
  });

  Deno.test(`--timeout, SIGTERM and SIGINT end a forking guest's whole tree on QEMU ${version}`, async (t) => {
    // Bash waits for `sleep` (native on 7.2, under QEMU on 10.2): no
    // instruction runs until the run is ended from outside.
    const hang = [...qemu, "--compare", "pc", "x86_64", "/bin/bash", "--", "-c", "sleep 60 | cat"];
    await t.step("--timeout", async () => {
      await using tmp = await tempDir();
      const r = await run(["--timeout", "6", ...hang], tmp.path, { boundSeconds: 40 });
      equal(r.code, 3, r.json?.message ?? r.stderr);
      ok(["timeout", "stalled"].includes(r.json.stoppedBy), r.json.message);
      ok(r.seconds < 25, `took ${r.seconds.toFixed(1)} s`);
      ok(["1.1", "1.2"].every((p) => paths(r.json).includes(p)), paths(r.json).join(" "));
      deepEqual(await leftovers(r.json, tmp.path), []);
    });
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      await t.step(sig, async () => {
        await using tmp = await tempDir();
        const r = await run(hang, tmp.path, { boundSeconds: 40, stop: [sig, 5] });
        equal(r.code, 3, r.json?.message ?? r.stderr);
        equal(r.json.stoppedBy, "interrupted");
        ok(r.seconds < 20, `took ${r.seconds.toFixed(1)} s`);
        ok(["1.1", "1.2"].every((p) => paths(r.json).includes(p)), paths(r.json).join(" "));
        deepEqual(await leftovers(r.json, tmp.path), []);
      });
    }
  });
}

Deno.test("narrowing a difference in the first process past its forks: the children report no step", async () => {
  // The parent differs after its last child; narrowing re-runs process 1,
  // whose forked children count on from their forks, through the range.
  // They reported their steps on connections the narrowing pass does not
  // read, and the re-runs hung until their 60 s were up.
  await using tmp = await tempDir();
  const r = await run(
    [
      ...QEMUS[1]![1],
      "--compare",
      "pc",
      "x86_64",
      FORKS,
      "--image-b",
      `${GUESTS}x86_64-forks-parent-variant`,
    ],
    tmp.path,
  );
  equal(r.code, 1, r.json?.message ?? r.stderr);
  equal(r.json.divergence.process, undefined);
  deepEqual(paths(r.json), ["1", "1.1", "1.2"]);
  equal(r.json.divergence.narrow.status, "done", JSON.stringify(r.json.divergence.narrow));
  deepEqual(await leftovers(r.json, tmp.path), []);
});

Deno.test("an owned child's output ends with it, though a process it left holds the pipe", async (t) => {
  // The shell prints its background child's pid and exits; `sleep` keeps
  // the shell's stdout open.
  const script = ["-c", "sleep 30 & echo $!"];
  await t.step("alone: what came is taken once the child is gone", async () => {
    const started = performance.now();
    const child = new OwnedChild("sh", script);
    const st = await child.status;
    await child.stop(5000);
    const out = await child.stdout();
    const seconds = (performance.now() - started) / 1000;
    const sleeper = Number(out.trim());
    try {
      equal(st.code, 0);
      ok(sleeper > 0, out);
      ok(seconds < 10, `took ${seconds.toFixed(1)} s`);
    } finally {
      if (sleeper > 0) Deno.kill(sleeper, "SIGKILL");
    }
  });
  await t.step("under the reaper: the process it left ends with it, reaped", async () => {
    const reaper = await buildPlugin({ source: "reaper", api: 0, qemuPath: "" });
    const child = new OwnedChild("sh", script, { reaper: reaper.path });
    const st = await child.status;
    await child.stop(5000);
    const sleeper = Number((await child.stdout()).trim());
    equal(st.code, 0);
    ok(sleeper > 0);
    equal(processNow(sleeper), undefined);
  });
  await t.step("under the reaper: its status is the child's", async () => {
    const reaper = await buildPlugin({ source: "reaper", api: 0, qemuPath: "" });
    for (const [cmd, code, signal] of [["exit 7", 7, null], ["kill -SEGV $$", null, "SIGSEGV"]]) {
      const child = new OwnedChild("sh", ["-c", cmd as string], { reaper: reaper.path });
      deepEqual(await child.status, { code, signal });
      await child.stop();
    }
  });
  await t.step(
    "in a PID namespace: numbered from 2 alike, its status its own, SIGTERM passed on",
    async () => {
      const reaper = await buildPlugin({ source: "reaper", api: 0, qemuPath: "" });
      const opts = { reaper: reaper.path, pidNamespace: true };
      // Two trees at once number their processes alike.
      const script = ["-c", "sleep 0.1 & echo $$ $!; wait"];
      const two = [new OwnedChild("sh", script, opts), new OwnedChild("sh", script, opts)];
      for (const c of two) {
        equal((await c.status).code, 0);
        equal((await c.stdout()).trim(), "2 3");
        await c.stop();
      }
      for (const [cmd, code, signal] of [["exit 7", 7, null], ["kill -SEGV $$", null, "SIGSEGV"]]) {
        const child = new OwnedChild("sh", ["-c", cmd as string], opts);
        deepEqual(await child.status, { code, signal });
        await child.stop();
      }
      const long = new OwnedChild("sh", ["-c", "sleep 30 & echo $!; wait"], opts);
      await new Promise((r) => setTimeout(r, 300));
      const started = performance.now();
      await long.stop(5000);
      deepEqual(await long.status, { code: null, signal: "SIGTERM" });
      ok(performance.now() - started < 4000);
    },
  );
});

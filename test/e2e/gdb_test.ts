// After the verdict, under a real gdb-multiarch (Debian's package, which
// scripts/setup.sh --tests installs): both QEMUs run again and stop at
// the divergence, each debugger on its side's instruction, also when that
// address ran thousands of times before. x86_64 linux-user on Debian's
// QEMU 7.2 and on the 10.2 build (also a guest whose path hangs on the
// time-stamp counter), sparc32 system mode on 7.2, x86_64 system mode (a
// Debian kernel) on 10.2; the CLI's
// `gdb` command and --gdb-batch, and that nothing is left behind.
import { QEMU_10_2_DIR } from "../../cli/setup_qemus.ts";
import {
  DebugSession,
  debugTarget,
  parseVerdict,
  planFromVerdict,
  planRun,
  type StopWhen,
  type Verdict,
} from "../../mod.ts";
import type { DebugTarget } from "../../harness/debug/target.ts";
import { locate } from "../../harness/debug/locate.ts";
import { buildPlugins } from "../../harness/debug/plugins.ts";
import { argvWithPlugin, gdbStubArgs } from "../../harness/plan/command_line.ts";
import { OwnedChild } from "../../harness/core/owned_child.ts";
import { alive, GUESTS, ROOT, runCli, tempDir } from "./_cli.ts";
import { buildCounterLoop } from "./_counter_reader.ts";
import { deepEqual, equal, match, notEqual, ok } from "../../deps/assert.ts";

const g = (name: string) => GUESTS + name;
const QEMU_72 = "qemu-x86_64";
const QEMU_102 = `${QEMU_10_2_DIR}qemu-x86_64`;
const hello = ["x86_64", g("x86_64-hello"), "--image-b", g("x86_64-hello-variant")];
const sparcBios = [
  "sparc",
  g("sparc-bios.bin"),
  "--bios",
  "--image-b",
  g("sparc-bios-variant.bin"),
];

/** A gdb script in a file of its own. */
async function script(dir: string, name: string, lines: readonly string[]): Promise<string> {
  const path = `${dir}/${name}.gdb`;
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  return path;
}

/** What gdb's `p` printed, in order: "$1 = 0x40029c" gives "0x40029c". */
function printed(output: string): string[] {
  return [...output.matchAll(/^\$\d+ = (.*)$/gm)].map((m) => m[1]!);
}

/** The verdict of a run of the CLI with `args`, which must diverge. */
async function diverge(args: readonly string[]): Promise<Verdict> {
  const r = await runCli(["--json", ...args]);
  equal(r.code, 1, r.stderr);
  return parseVerdict(r.stdout);
}

/** Stops both sides of `verdict`'s run at `when` and runs `lines` on both. */
async function stopAndRun(
  verdict: Verdict,
  when: StopWhen,
  dir: string,
  lines: readonly string[],
) {
  const plan = await planFromVerdict(verdict);
  const target = debugTarget(verdict, when);
  await using session = await DebugSession.open({ plan, target, timeoutSeconds: 120 });
  const out = await session.batch(await script(dir, `${when}-${target.a.insn}`, lines));
  return { target, sides: session.sides, a: out.a.output, b: out.b.output };
}

for (const [version, qemu] of [["7.2", QEMU_72], ["10.2", QEMU_102]] as const) {
  Deno.test(`x86_64 linux-user on QEMU ${version}: each debugger stops at its side's instruction`, async () => {
    await using dir = await tempDir();
    const v = await diverge(["--qemu", qemu, ...hello]);
    const d = v.divergence!;
    const s = await stopAndRun(v, "before", dir.path, ["p/x $pc", "p/x $rax", "p/x $rdi"]);
    // Where narrowing named the instruction (10.2), there; else at the divergence.
    equal(s.target.what, version === "10.2" ? "narrowed" : "divergence");
    for (const role of ["a", "b"] as const) {
      const t = s.target[role];
      equal(printed(s[role])[0], `0x${t.pc.toString(16)}`, s[role]);
      // The plugin counts the instruction that runs next: the target's.
      equal(s.sides[role].where.next, t.insn);
      equal(t.insn, role === "a" ? d.narrow?.insn ?? d.insn : d.narrow?.insn ?? d.insnB);
    }
    if (version === "7.2") {
      // The program counter is the register this verdict says differs.
      notEqual(printed(s.a)[0], printed(s.b)[0]);
      return;
    }
    // Just after the instruction narrowing named, the registers it says
    // differ read as it says, on each side.
    const after = await stopAndRun(
      v,
      "after",
      dir.path,
      d.narrow!.regs!.map((r) => `p/x $${r.name}`),
    );
    ok(d.narrow!.regs!.length > 0);
    deepEqual(printed(after.a), d.narrow!.regs!.map((r) => r.a));
    deepEqual(printed(after.b), d.narrow!.regs!.map((r) => r.b));
    equal(after.sides.a.where.next, d.narrow!.insn! + 1);
  });
}

Deno.test("a guest whose path hangs on the counter it read stops where the run went, on QEMU 10.2", async () => {
  const g = await buildCounterLoop();
  try {
    await using dir = await tempDir();
    const v = await diverge(["--qemu", QEMU_102, "x86_64", g.image, "--image-b", g.variant]);
    const d = v.divergence!;
    // The run's plugins wrote the counter (plugin API 5): the re-runs must too.
    const plan = await planFromVerdict(v);
    ok(plan.counters);
    const cacheDir = `${dir.path}/cache`;
    for (const when of ["before", "after"] as const) {
      const target = debugTarget(v, when);
      // Narrowing names the load of `variant`, 1 on side a, 2 on side b.
      equal(target.what, "narrowed");
      await using session = await DebugSession.open({
        plan,
        target,
        timeoutSeconds: 120,
        cacheDir,
      });
      const regs = d.narrow!.regs!.map((r) => r.name);
      const out = await session.batch(
        await script(dir.path, `counter-${when}`, ["p/x $pc", ...regs.map((r) => `p/x $${r}`)]),
      );
      for (const role of ["a", "b"] as const) {
        const t = target[role];
        const p = printed(out[role].output);
        equal(session.sides[role].where.next, t.insn + (when === "after" ? 1 : 0));
        if (when === "before") equal(p[0], `0x${t.pc.toString(16)}`, out[role].output);
        else deepEqual(p.slice(1), d.narrow!.regs!.map((r) => r[role]));
      }
    }
    // Each QEMU ran under the reaper built in the cache the session was given.
    ok([...Deno.readDirSync(cacheDir)].some((e) => e.name.startsWith("reaper-")));
  } finally {
    await Deno.remove(g.dir, { recursive: true });
  }
});

/**
 * The loop guest (common/loop.c): `_start` and `guest_main` run 12
 * instructions, then the loop's add, cmp, jne: iteration i's cmp
 * (0x4001c5) is instruction 12 + 3i, and rax holds i + 1 there.
 */
function loopTarget(i: number, when: StopWhen): DebugTarget {
  const t = { insn: 12 + 3 * i, pc: 0x4001c5n, symbol: "guest_main+0x1c", disas: "cmp rax,rbx" };
  return { when, what: "divergence", a: t, b: t };
}

Deno.test("the debuggers stop at the exact run of an address that ran thousands of times before", async (t) => {
  await using dir = await tempDir();
  const regs = await script(dir.path, "loop", ["p $rax", "p/x $pc"]);
  for (const [qemu, i] of [[QEMU_72, 2000], [QEMU_102, 5000]] as const) {
    await t.step(`${qemu}: iteration ${i}`, async () => {
      const plan = await planRun({ arch: "x86_64", image: g("x86_64-loop"), qemu });
      for (const when of ["before", "after"] as const) {
        await using session = await DebugSession.open({
          plan,
          target: loopTarget(i, when),
          timeoutSeconds: 120,
        });
        equal(session.sides.a.hits, i);
        equal(session.sides.b.where.next, 12 + 3 * i + (when === "after" ? 1 : 0));
        const out = await session.batch(regs);
        for (const o of [out.a.output, out.b.output]) {
          deepEqual(printed(o), [String(i + 1), when === "before" ? "0x4001c5" : "0x4001c8"]);
        }
      }
    });
  }
});

Deno.test("sparc32 system mode on QEMU 7.2: the divergence, and a run gdb's own ignore count agrees with", async (t) => {
  await using dir = await tempDir();
  await t.step("each side stops at its divergent instruction", async () => {
    const v = await diverge(sparcBios);
    const s = await stopAndRun(v, "before", dir.path, ["p/x $pc"]);
    for (const role of ["a", "b"] as const) {
      equal(printed(s[role])[0], `0x${v.divergence![role]!.pc.toString(16)}`, s[role]);
      equal(s.sides[role].where.next, v.divergence!.insn);
    }
    // The program counter is the register this verdict says differs.
    notEqual(printed(s.a)[0], printed(s.b)[0]);
  });
  await t.step(
    "rotl32's run from instruction 25000 on, by our breakpoint and by gdb's ignore",
    async () => {
      const plan = await planRun({ arch: "sparc", image: g("sparc-bios.bin"), bios: true });
      const abort = new AbortController();
      const probe = { insn: 25_000, pc: 0x2174n, symbol: null, disas: "" };
      const found = await locate({
        plan,
        plugins: await buildPlugins(plan, undefined),
        target: { when: "before", what: "divergence", a: probe, b: probe },
        signal: abort.signal,
      });
      ok(found.a.hits > 500, `rotl32 ran ${found.a.hits} times`);
      const at = { ...probe, insn: found.a.at };
      const all = await script(dir.path, "sparc-regs", ["info registers"]);
      let ours: string;
      {
        await using session = await DebugSession.open({
          plan,
          target: { when: "before", what: "divergence", a: at, b: at },
          timeoutSeconds: 120,
        });
        ours = (await session.batch(all)).a.output;
      }
      // The same QEMU and arguments, no plugin: gdb counts the runs itself.
      const sock = `${dir.path}/gdb.sock`;
      await using _qemu = new OwnedChild(plan.a.command, [
        ...argvWithPlugin(plan, plan.a, dir.path, null),
        ...gdbStubArgs("system", sock),
      ]);
      while (!(await Deno.stat(sock).catch(() => undefined))) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await using gdb = new OwnedChild("gdb-multiarch", [
        "-nx",
        "-batch",
        ...["-ex", "set architecture sparc", "-ex", "set endian big"],
        ...["-ex", `target remote ${sock}`, "-ex", "break *0x2174"],
        ...["-ex", `ignore 1 ${found.a.hits}`, "-ex", "continue", "-ex", "info registers"],
      ]);
      await gdb.status;
      const regs = (o: string) => o.split("\n").filter((l) => /^[a-z][a-z0-9]* +0x/.test(l));
      const theirs = await gdb.stdout();
      ok(regs(ours).length >= 32, ours);
      deepEqual(regs(ours), regs(theirs));
    },
  );
});

Deno.test("x86_64 system mode on QEMU 10.2: the kernel's command line, stopped where its registers part", async () => {
  await using dir = await tempDir();
  const cmdline = "console=ttyS0 panic=-1";
  const v = await diverge([
    ...["--qemu", `${QEMU_10_2_DIR}qemu-system-x86_64`, "--compare", "pc"],
    ...["x86_64", g("vmlinuz"), "--extra=-append", "--extra-a", cmdline],
    ...["--extra-b", `${cmdline} lockstep=1`],
  ]);
  const d = v.divergence!;
  // Narrowing names a load in real mode (the setup code reading the
  // command line): gdb's $pc is the offset in $cs, the verdict's the
  // linear address.
  const linear = "p/x $cs * 16 + $pc";
  const before = await stopAndRun(v, "before", dir.path, [linear]);
  equal(before.target.what, "narrowed");
  for (const role of ["a", "b"] as const) {
    const t = before.target[role];
    equal(printed(before[role])[0], `0x${t.pc.toString(16)}`, before[role]);
    equal(before.sides[role].where.next, t.insn);
    equal(t.insn, d.narrow!.insn);
  }
  const regs = d.narrow!.regs!;
  ok(regs.length > 0);
  const after = await stopAndRun(v, "after", dir.path, regs.map((r) => `p/x $${r.name}`));
  // Just after it, the registers narrowing named read as it said: apart.
  deepEqual(printed(after.a), regs.map((r) => r.a));
  deepEqual(printed(after.b), regs.map((r) => r.b));
  notEqual(printed(after.a), printed(after.b));
  equal(after.sides.b.where.next, d.narrow!.insn! + 1);
});

/** Reads `child`'s stderr until `until` matches what came; returns it all. */
async function stderrUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  until: RegExp,
): Promise<string> {
  let text = "";
  const dec = new TextDecoder();
  while (!until.test(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value);
  }
  return text;
}

Deno.test("the gdb command: two command lines, two debuggers, then nothing left behind", async (t) => {
  await using dir = await tempDir();
  const v = await runCli(["--json", ...sparcBios]);
  equal(v.code, 1, v.stderr);
  const verdictFile = `${dir.path}/verdict.json`;
  await Deno.writeTextFile(verdictFile, v.stdout);
  const verdict = parseVerdict(v.stdout);
  const tmp = `${dir.path}/tmp`;
  await Deno.mkdir(tmp);
  const pc = await script(dir.path, "pc", ["p/x $pc"]);

  /** Starts `gdb verdict.json`; returns the child, what it said up to the wait, ports and QEMU pids. */
  async function start() {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}cli/main.ts`, "gdb", "--verbose", verdictFile],
      env: { NO_COLOR: "1", TMPDIR: tmp },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const reader = child.stderr.getReader();
    const said = await stderrUntil(reader, /Both QEMUs wait there|error:/);
    const ports = [...said.matchAll(/target remote 127\.0\.0\.1:(\d+)/g)].map((m) => m[1]!);
    const pids = [...said.matchAll(/gdb side .: plugin loaded \(.*pid (\d+)\)/g)].map((m) =>
      Number(m[1])
    );
    const rest = (async () => {
      let text = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return text;
        text += new TextDecoder().decode(value);
      }
    })();
    let exited = false;
    child.status.then(() => (exited = true));
    return {
      child,
      said,
      ports,
      pids,
      rest,
      // A step that fails midway still stops the command, which cleans up.
      [Symbol.asyncDispose]: async () => {
        if (!exited) child.kill("SIGTERM");
        await child.status;
      },
    };
  }

  /** The command's exit status; a command still running after a minute fails the test (and is stopped). */
  const ended = async (child: Deno.ChildProcess, what: string) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 60_000)));
    const status = await Promise.race([child.status, late]);
    clearTimeout(timer);
    if (status) return status;
    child.kill("SIGTERM");
    await child.status;
    throw new Error(`the gdb command did not end ${what}`);
  };

  const nothingLeft = (pids: readonly number[]) => {
    deepEqual(pids.filter(alive), [], "a QEMU is left");
    deepEqual([...Deno.readDirSync(tmp)].map((e) => e.name), [], "a run directory is left");
  };

  await t.step(
    "both debuggers attach, each at its side's instruction; both detach: the end",
    async () => {
      await using s = await start();
      match(s.said, /side a: before instruction 6314 at 0x2174 rotl32/);
      match(s.said, /side b: before instruction 6314 at 0x2248 mix_step\+0x1c/);
      equal(s.ports.length, 2, s.said);
      equal(s.pids.length, 2, s.said);
      ok(s.pids.every(alive));
      for (const [i, role] of (["a", "b"] as const).entries()) {
        const out = await new Deno.Command("gdb-multiarch", {
          args: ["-nx", "-batch", "-ex", "set architecture sparc", "-ex", "set endian big"]
            .concat(["-ex", `target remote 127.0.0.1:${s.ports[i]}`, "-x", pc]),
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(out.stdout);
        equal(printed(text)[0], `0x${verdict.divergence![role]!.pc.toString(16)}`, text);
      }
      const status = await ended(s.child, "once both debuggers detached");
      const rest = await s.rest;
      equal(status.code, 0, rest);
      match(rest, /both debuggers detached; stopping both/);
      nothingLeft(s.pids);
    },
  );

  await t.step("Ctrl-C while both wait: the end, nothing left", async () => {
    await using s = await start();
    s.child.kill("SIGINT");
    const status = await ended(s.child, "at Ctrl-C");
    const rest = await s.rest;
    equal(status.code, 0, s.said + rest);
    match(rest, /interrupted; stopping both/);
    nothingLeft(s.pids);
  });

  await t.step(
    "--gdb-batch on a run: the two outputs side by side, the verdict's exit code",
    async () => {
      const r = await runCli([...sparcBios, "--gdb-batch", pc], {
        env: { TMPDIR: tmp },
        timeoutMs: 120_000,
      });
      equal(r.code, 1, r.stderr);
      match(r.stdout, /^\$1 = 0x2174 +\| \$1 = 0x2248$/m);
      nothingLeft([]);
    },
  );
});

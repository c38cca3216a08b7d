// Golden traces: a QEMU's run recorded once (record), later runs compared
// with it (--against), through the real CLI.
import { buildPlugin, DEFAULTS, planRun, readTrace, type RecordResult } from "../../mod.ts";
import { QEMU_10_2_DIR } from "../../cli/setup_qemus.ts";
import { sideArgv } from "../../harness/plan/command_line.ts";
import { chooseRegisters } from "../../harness/plan/registers.ts";
import { SidePair } from "../../harness/run/side_pair.ts";
import { superviseOne } from "../../harness/run/supervise_one.ts";
import type { Step } from "../../harness/core/protocol.ts";
import { jumpsOf, readWindow } from "../../harness/trace/reader.ts";
import { alive, GUESTS, runCli, tempDir } from "./_cli.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

const g = (name: string) => GUESTS + name;
const q102 = (name: string) => `${QEMU_10_2_DIR}${name}`;

/** Records a trace with the CLI; its JSON report. */
async function record(args: readonly string[], out: string): Promise<RecordResult> {
  const r = await runCli(["record", "--json", "-o", out, ...args]);
  equal(r.code, 0, r.stderr);
  return r.json;
}

Deno.test("a guest recorded and compared with itself matches: QEMU 7.2, and 10.2 with registers", async () => {
  await using dir = await tempDir();
  const t72 = `${dir.path}/hello.trace`;
  const rec = await record(["x86_64", g("x86_64-hello")], t72);
  equal(rec.status, "recorded");
  deepEqual(rec.header!.compared, ["pc", "syscalls"]);
  // What the default --compare asked for and a trace cannot hold is said.
  deepEqual(rec.notRecorded.map((n) => n.what).sort(), ["mem", "regs"]);
  equal(rec.summary!.output.text, "checksum 0x8346d83d\n");
  const r = await runCli(["--json", "x86_64", g("x86_64-hello"), "--against", t72]);
  equal(r.code, 0, r.stderr);
  equal(r.json.status, "match");
  equal(r.json.stoppedBy, "guest-exit");
  equal(r.json.fastPass.result, "match");
  equal(r.json.trace.path, t72);
  equal(r.json.sides.a.version, "7.2.22");
  equal(r.json.sides.a.output, "checksum 0x8346d83d\n");
  // QEMU 10.2: register snapshots in the trace, compared on replay.
  const t102 = `${dir.path}/value.trace`;
  const rec102 = await record(["--qemu", q102("qemu-x86_64"), "x86_64", g("x86_64-value")], t102);
  ok(rec102.header!.compared.includes("regs"));
  deepEqual(rec102.notRecorded.map((n) => n.what), ["mem"]);
  ok(rec102.header!.registers.includes("rax"));
  equal(rec102.header!.detail, DEFAULTS.traceDetail);
  const r102 = await runCli([
    "--json",
    "--qemu",
    q102("qemu-x86_64"),
    "x86_64",
    g("x86_64-value"),
    "--against",
    t102,
  ]);
  equal(r102.code, 0, r102.stderr);
  deepEqual(r102.json.registers, rec102.header!.registers);
});

/** The live pair's verdict and the trace's, for one guest and its variant. */
async function bothWays(
  dir: string,
  live: readonly string[],
  recordArgs: readonly string[],
  against: readonly string[],
) {
  const trace = `${dir}/t.trace`;
  await record(recordArgs, trace);
  const pair = await runCli(["--json", "--no-narrow", ...live]);
  const t = await runCli(["--json", ...against, "--against", trace]);
  equal(pair.code, 1, pair.stderr);
  equal(t.code, 1, t.stderr);
  return { pair: pair.json, trace: t.json };
}

Deno.test("a variant is found at the instruction the live pair names (x86_64, sparc without firmware)", async () => {
  await using dir = await tempDir();
  const x = await bothWays(
    dir.path,
    ["x86_64", g("x86_64-hello"), "--image-b", g("x86_64-hello-variant")],
    ["x86_64", g("x86_64-hello")],
    ["x86_64", g("x86_64-hello"), "--image-b", g("x86_64-hello-variant")],
  );
  for (const key of ["insn", "kind"]) equal(x.trace.divergence[key], x.pair.divergence[key], key);
  equal(x.trace.divergence.a.pc, x.pair.divergence.a.pc);
  equal(x.trace.divergence.b.pc, x.pair.divergence.b.pc);
  match(x.trace.divergence.b.symbol, /^mix_step/);
  // The trace holds where the straight run before it started and ended.
  ok(x.trace.divergence.window.from <= x.pair.divergence.insn);
  const s = await bothWays(
    dir.path,
    ["--bios", "sparc", g("sparc-bios.bin"), "--image-b", g("sparc-bios-variant.bin")],
    ["--bios", "sparc", g("sparc-bios.bin")],
    ["--bios", "sparc", g("sparc-bios.bin"), "--image-b", g("sparc-bios-variant.bin")],
  );
  equal(s.trace.divergence.insn, s.pair.divergence.insn);
  equal(s.trace.divergence.a.pc, s.pair.divergence.a.pc);
  equal(s.trace.divergence.b.pc, s.pair.divergence.b.pc);
  equal(s.trace.divergence.window, undefined);
});

Deno.test("a trace recorded on QEMU 7.2 compares on 10.2: the firmware-less sparc guest matches, its variant is found where the live pair 7.2 against 10.2 finds it", async () => {
  await using dir = await tempDir();
  const trace = `${dir.path}/sparc.trace`;
  const rec = await record(["--bios", "sparc", g("sparc-bios.bin")], trace);
  equal(rec.header!.qemu.version, "7.2.22");
  // 7.2 reads no registers: the trace holds what both versions compare.
  deepEqual(rec.header!.compared, ["pc"]);
  const sparc102 = q102("qemu-system-sparc");
  const same = await runCli([
    "--json",
    "--qemu",
    sparc102,
    "--bios",
    "sparc",
    g("sparc-bios.bin"),
    "--against",
    trace,
  ]);
  equal(same.code, 0, same.stderr);
  match(same.json.sides.b.version, /^10\.2\./);
  const variant = [
    "--bios",
    "sparc",
    g("sparc-bios.bin"),
    "--image-b",
    g("sparc-bios-variant.bin"),
  ];
  const t = await runCli(["--json", "--qemu", sparc102, ...variant, "--against", trace]);
  const pair = await runCli(["--json", "--qemu-b", sparc102, ...variant]);
  equal(t.code, 1, t.stderr);
  equal(pair.code, 1, pair.stderr);
  equal(t.json.divergence.insn, pair.json.divergence.insn);
  equal(t.json.divergence.a.pc, pair.json.divergence.a.pc);
  equal(t.json.divergence.b.pc, pair.json.divergence.b.pc);
});

Deno.test("a value difference is named as the window between two register snapshots, with the live side's steps; the live pair's instruction lies in it", async () => {
  await using dir = await tempDir();
  const trace = `${dir.path}/value.trace`;
  const qemu = ["--qemu", q102("qemu-x86_64")];
  await record([...qemu, "x86_64", g("x86_64-value")], trace);
  const variant = ["x86_64", g("x86_64-value"), "--image-b", g("x86_64-value-variant")];
  const t = await runCli(["--json", ...qemu, ...variant, "--against", trace]);
  const pair = await runCli(["--json", ...qemu, ...variant]);
  equal(t.code, 1, t.stderr);
  equal(pair.code, 1, pair.stderr);
  const d = t.json.divergence;
  equal(d.kind, "regs");
  const w = d.window;
  ok(w.size <= DEFAULTS.traceDetail + 64, `a window of ${w.size}`);
  equal(w.to, d.insn);
  // The live pair narrows it to one instruction: inside the window.
  const named = pair.json.divergence.narrow?.insn ?? pair.json.divergence.insn;
  ok(named >= w.from && named < w.to, `${named} outside [${w.from}, ${w.to})`);
  // Side b's instructions and registers in it, each position once, in order.
  equal(w.steps.length, w.to - w.from + 1);
  equal(w.steps[0].pos, w.from);
  ok(w.steps.some((s: { regs: unknown[] }) => s.regs.length > 0));
});

Deno.test("a trace's jumps are exactly the instructions that do not follow the one before (against every step of narrowing, QEMU 10.2), across chunks", async () => {
  await using dir = await tempDir();
  const trace = `${dir.path}/value.trace`;
  const opts = { arch: "x86_64", image: g("x86_64-hello"), qemu: q102("qemu-x86_64") };
  // The smallest chunks: each starts afresh (no run predicted from the one before).
  await record(["--chunk", "65536", "--qemu", opts.qemu, "x86_64", opts.image], trace);
  const t = await readTrace(trace);
  const to = t.summary.end.insns;
  ok(t.chunks.length >= 4, `${t.chunks.length} chunks`);
  const jumps = [...jumpsOf(await readWindow(t, 0, to), 0, to, trace)];
  // Every instruction of [0, to), stepped by the plugin one at a time.
  const plan = await planRun(opts);
  const plugin = await buildPlugin({ source: "lockstep", api: 5, qemuPath: opts.qemu });
  const shim = await buildPlugin({ source: "env_shim", api: 0, qemuPath: opts.qemu });
  const steps: Step[] = [];
  let done = false;
  {
    await using pair = await SidePair.open({
      plan,
      roles: ["a"],
      args: (side, d) =>
        sideArgv({
          plan,
          side,
          runDir: d,
          plugin: { path: plugin.path, shim: shim.path },
          pass: { kind: "narrow", from: 0, to: to - 1, fastCount: true },
        }),
      chooseRegs: (l) => chooseRegisters(l.a!, l.a!, []),
    });
    await superviseOne(pair, "a", {
      done: () => (done ? { status: "match", stoppedBy: null, message: "" } : undefined),
      onMessage: (m) => {
        if (m.t === "step") steps.push(m.step);
        if (m.t === "narrowed" || m.t === "end") done = true;
      },
    });
    await pair.stop();
  }
  equal(steps.length, to);
  const expected = steps.flatMap((s, i) => {
    const prev = steps[i - 1];
    const follows = prev && prev.pc + BigInt(prev.bytes.length / 2) === s.pc;
    return follows ? [] : [{ pos: s.pos, src: prev?.pc ?? (1n << 64n) - 1n, target: s.pc }];
  });
  deepEqual(jumps, expected);
});

Deno.test("an image, option or trace that does not fit is exit 2 naming it; --bisect stops (128) on those and skips (125) a QEMU that is not there", async () => {
  await using dir = await tempDir();
  const trace = `${dir.path}/hello.trace`;
  await record(["x86_64", g("x86_64-hello")], trace);
  const run = (args: string[]) => runCli(["--against", trace, ...args]);
  const other = await run(["x86_64", g("x86_64-hello-variant")]);
  equal(other.code, 2);
  match(
    other.stderr,
    /error: Cannot compare with trace .*hello\.trace: image .*x86_64-hello-variant is not the one it was recorded with \(sha256 [0-9a-f]{16}…; the trace's x86_64-hello has [0-9a-f]{16}…\)/,
  );
  match(
    other.stderr,
    /hint: give the recorded image as <IMAGE>; a modified guest goes in --image-b/,
  );
  const extra = await run(["--extra=-R", "--extra=0", "x86_64", g("x86_64-hello")]);
  equal(extra.code, 2);
  match(extra.stderr, /recorded with the QEMU arguments none, this run has "-R" "0"/);
  const args = await run(["x86_64", g("x86_64-hello"), "--", "x"]);
  equal(args.code, 2);
  match(args.stderr, /guest was recorded with the arguments none, this run gives "x"/);
  const bytes = await Deno.readFile(trace);
  const cut = `${dir.path}/cut.trace`;
  await Deno.writeFile(cut, bytes.slice(0, bytes.length - 100));
  const truncated = await runCli(["x86_64", g("x86_64-hello"), "--against", cut]);
  equal(truncated.code, 2);
  match(truncated.stderr, /error: Trace .*cut\.trace is truncated: its end is missing/);
  const flipped = `${dir.path}/flipped.trace`;
  const f = bytes.slice();
  f[40] = f[40]! ^ 1;
  await Deno.writeFile(flipped, f);
  const damaged = await runCli(["x86_64", g("x86_64-hello"), "--against", flipped]);
  equal(damaged.code, 2);
  match(
    damaged.stderr,
    /error: Trace .*flipped\.trace is damaged: its header does not match its checksum/,
  );
  // git bisect run: a trace or command line that does not fit stops the
  // bisection; a QEMU that did not build is a commit to skip.
  equal((await runCli(["--bisect", "x86_64", g("x86_64-hello"), "--against", cut])).code, 128);
  equal((await run(["--bisect", "x86_64", g("x86_64-hello-variant")])).code, 128);
  equal((await run(["--bisect", "--no-such-option", "x86_64", g("x86_64-hello")])).code, 128);
  const gone = await run([
    "--bisect",
    "--qemu",
    `${dir.path}/qemu-x86_64`,
    "x86_64",
    g("x86_64-hello"),
  ]);
  equal(gone.code, 125, gone.stderr);
});

Deno.test("--bisect: 0 for a match, 1 for a divergence", async () => {
  await using dir = await tempDir();
  const trace = `${dir.path}/hello.trace`;
  await record(["x86_64", g("x86_64-hello")], trace);
  const base = ["--bisect", "x86_64", g("x86_64-hello"), "--against", trace];
  equal((await runCli(base)).code, 0);
  equal((await runCli([...base, "--image-b", g("x86_64-hello-variant")])).code, 1);
});

Deno.test("a recording cut short writes nothing (no trace, no temporary file) and leaves no QEMU", async () => {
  await using dir = await tempDir();
  const out = `${dir.path}/loop.trace`;
  const r = await runCli([
    "record",
    "--json",
    "--verbose",
    "--timeout",
    "2",
    "-o",
    out,
    "x86_64",
    g("x86_64-loop"),
    "--",
    "1000000000",
  ]);
  equal(r.code, 3, r.stderr);
  equal(r.json.status, "inconclusive");
  match(r.json.message, /No verdict within/);
  deepEqual([...Deno.readDirSync(dir.path)], []);
  const pid = Number(/plugin loaded \(.*pid (\d+)\)/.exec(r.stderr)?.[1]);
  ok(pid > 0);
  equal(alive(pid), false);
});

Deno.test("-o a directory, or in one that does not exist: exit 2 before the run, nothing written", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/out`);
  const guest = ["x86_64", g("x86_64-hello")];
  const isDir = await runCli(["record", "--verbose", "-o", `${dir.path}/out`, ...guest]);
  equal(isDir.code, 2, isDir.stderr);
  match(isDir.stderr, /Cannot write the trace .*\/out: it is a directory/);
  // Refused before QEMU started, and nothing beside the directory.
  equal(/plugin loaded/.test(isDir.stderr), false, isDir.stderr);
  deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["out"]);
  deepEqual([...Deno.readDirSync(`${dir.path}/out`)], []);
  const noDir = await runCli(["record", "-o", `${dir.path}/missing/x.trace`, ...guest]);
  equal(noDir.code, 2, noDir.stderr);
  match(noDir.stderr, /the directory .*\/missing does not exist/);
  deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["out"]);
});

Deno.test("--max-insns: a trace recorded to the guest's end compares at a multiple of its interval, not elsewhere", async () => {
  await using dir = await tempDir();
  const trace = `${dir.path}/loop.trace`;
  const guest = ["x86_64", g("x86_64-loop"), "--", "5000000"];
  const rec = await record(guest, trace);
  ok(rec.summary!.end.insns > 3 * 4_194_304);
  const at = await runCli([
    "--json",
    "--max-insns",
    String(2 * 4_194_304),
    ...guest.slice(0, 2),
    "--against",
    trace,
    "--",
    "5000000",
  ]);
  equal(at.code, 0, at.stderr);
  equal(at.json.stoppedBy, "max-insns");
  equal(at.json.insns, 2 * 4_194_304);
  const off = await runCli([
    "--max-insns",
    "5000000",
    ...guest.slice(0, 2),
    "--against",
    trace,
    "--",
    "5000000",
  ]);
  equal(off.code, 2);
  match(
    off.stderr,
    /holds hashes at multiples of 4194304 instructions up to \d+, not at --max-insns 5000000/,
  );
});

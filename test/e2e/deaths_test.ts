// A guest killed by a signal is the guest's end, compared like an exit: the
// same signal at the same instruction matches, another signal or another
// instruction is a divergence in the guest's end, and "QEMU died" is left to
// a QEMU that ended without its plugin's word. On Debian's 7.2 (plugin API 1:
// QEMU runs no atexit callback then, see plugin-src/death.c) and on 10.2.
import { QEMU_10_2_DIR } from "../../cli/setup_qemus.ts";
import { GUESTS, runCli, startCli, tempDir } from "./_cli.ts";
import { equal, match, ok } from "../../deps/assert.ts";

const g = (name: string) => GUESTS + name;
const QEMUS: readonly [string, string[]][] = [
  ["7.2", []],
  ["10.2", ["--qemu", `${QEMU_10_2_DIR}qemu-x86_64`]],
];
/** death_insn, the faulting instruction, is instruction 48 of x86_64-death. */
const DEATH_INSN = 48;

/** A symbol's address in an image (a label: nm gives it no size). */
async function address(image: string, name: string): Promise<bigint> {
  const out = await new Deno.Command("nm", { args: [image], stdout: "piped" }).output();
  const line = new TextDecoder().decode(out.stdout).split("\n").find((l) => l.endsWith(` ${name}`));
  if (!line) throw new Error(`${name} not found in ${image}`);
  return BigInt(`0x${line.split(" ")[0]}`);
}

for (const [version, qemu] of QEMUS) {
  Deno.test(`a guest that dereferences NULL matches itself on QEMU ${version}: SIGSEGV at the same instruction`, async () => {
    const r = await runCli(["--json", ...qemu, "x86_64", g("x86_64-death")]);
    equal(r.code, 0, r.stdout + r.stderr);
    equal(r.json.status, "match");
    equal(r.json.stoppedBy, "guest-exit");
    match(r.json.message, /^Both guests were killed by SIGSEGV after /);
    for (const role of ["a", "b"]) {
      equal(r.json.sides[role].signal, "SIGSEGV");
      equal(r.json.sides[role].output, "death\n");
      match(r.json.sides[role].stderrTail, /uncaught target signal 11/);
    }
  });

  Deno.test(`the detail pass ends a faulting guest at its faulting instruction on QEMU ${version}`, async () => {
    const r = await runCli(["--json", "--no-fast", ...qemu, "x86_64", g("x86_64-death")]);
    equal(r.code, 0, r.stdout + r.stderr);
    // Exact: the block it died in ran up to death_insn, not whole.
    equal(
      r.json.message,
      `Both guests were killed by SIGSEGV after ${DEATH_INSN + 1} instructions, no divergence`,
    );
    equal(r.json.insns, DEATH_INSN + 1);
  });

  Deno.test(`SIGILL at the instruction where the other side's guest gets SIGSEGV diverges in the guest's end on QEMU ${version}`, async () => {
    const r = await runCli([
      "--json",
      ...qemu,
      "x86_64",
      g("x86_64-death"),
      "--image-b",
      g("x86_64-death-variant"),
    ]);
    equal(r.code, 1, r.stdout + r.stderr);
    equal(r.json.status, "diverged");
    equal(r.json.stoppedBy, "guest-exit");
    equal(
      r.json.message,
      `The guests' ends differ after the same ${DEATH_INSN + 1} instructions: side a's guest ` +
        `was killed by SIGSEGV, side b's was killed by SIGILL`,
    );
    equal(r.json.insns, DEATH_INSN);
    equal(r.json.sides.a.signal, "SIGSEGV");
    equal(r.json.sides.b.signal, "SIGILL");
  });

  Deno.test(`SIGSEGV one instruction later diverges where the first guest died on QEMU ${version}`, async () => {
    const r = await runCli([
      "--json",
      ...qemu,
      "x86_64",
      g("x86_64-death"),
      "--image-b",
      g("x86_64-death-late"),
    ]);
    equal(r.code, 1, r.stdout + r.stderr);
    equal(r.json.status, "diverged");
    const d = r.json.divergence;
    equal(d.insn, DEATH_INSN + 1);
    equal(d.a, null, "side a's stream ended at its fault");
    equal(BigInt(d.b.pc), await address(g("x86_64-death-late"), "death_insn") + 1n);
    equal(r.json.sides.a.signal, "SIGSEGV");
    equal(r.json.sides.b.signal, "SIGSEGV");
  });
}

Deno.test("a dying guest recorded on 7.2 or 10.2 matches itself against the trace, 7.2's on 10.2 too", async () => {
  await using tmp = await tempDir();
  const [q72, q102] = [QEMUS[0]!, QEMUS[1]!];
  // A trace recorded with registers (10.2) cannot be compared on 7.2.
  const pairs = [[q72, q72], [q72, q102], [q102, q102]] as const;
  for (const [recordOn, compareOn] of pairs) {
    const [recordWith, against] = [recordOn[1], compareOn[1]];
    const trace = `${tmp.path}/death.trace`;
    await Deno.remove(trace).catch(() => {});
    const rec = await runCli(["record", ...recordWith, "x86_64", g("x86_64-death"), "-o", trace]);
    equal(rec.code, 0, rec.stderr);
    const r = await runCli([
      "--json",
      ...against,
      "x86_64",
      g("x86_64-death"),
      "--against",
      trace,
    ]);
    equal(r.code, 0, `recorded on ${recordOn[0]}, compared on ${compareOn[0]}: ${r.stdout}`);
    equal(r.json.status, "match");
    equal(r.json.sides.b.signal, "SIGSEGV");
  }
});

Deno.test("QEMU killed outright is QEMU's death, not the guest's, after its plugin's last report", async () => {
  const run = await startCli(["--json", "x86_64", g("x86_64-loop"), "--", "4000000000"]);
  await new Promise((r) => setTimeout(r, 1500));
  Deno.kill(run.pids.a, "SIGKILL");
  const { code, stdout } = await run.finish();
  equal(code, 3);
  const json = JSON.parse(stdout);
  equal(json.status, "inconclusive");
  equal(json.stoppedBy, "crash");
  const m = json.message.match(
    /^QEMU for side a died \(signal SIGKILL\), not its guest: it crashed or was killed after instruction (\d+) \(its plugin's last report\)$/,
  );
  ok(m, json.message);
  equal(Number(m[1]), json.sides.a.insns);
  ok(json.sides.a.insns > 0, "the plugin reported progress before the kill");
});

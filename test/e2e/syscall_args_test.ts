// System calls are compared by the arguments they take (plugin-src/syscalls.c):
// the host's counter left in registers getuid does not read is no
// difference, and in an argument a call reads it is the environment's, not
// TCG's. On Debian's 7.2 (plugin API 1: no registers, so the arguments are
// all that sees the counter) and on 10.2, where the plugins write the same
// counter value on both sides (plugin API 5).
import { QEMU_10_2_DIR } from "../../cli/setup_qemus.ts";
import { GUESTS, runCli } from "./_cli.ts";
import { equal, match } from "../../deps/assert.ts";

const g = (name: string) => GUESTS + name;
const QEMUS: readonly [string, string[]][] = [
  ["7.2", []],
  ["10.2", ["--qemu", `${QEMU_10_2_DIR}qemu-x86_64`]],
];

for (const [version, qemu] of QEMUS) {
  for (const pass of [[], ["--no-fast"]]) {
    const which = pass.length ? "the detail pass" : "the fast pass";
    Deno.test(`the host's counter in getuid's unused argument registers matches in ${which} on QEMU ${version}`, async () => {
      const r = await runCli(["--json", ...pass, ...qemu, "x86_64", g("x86_64-sysargs")]);
      equal(r.code, 0, r.stdout + r.stderr);
      equal(r.json.status, "match");
      equal(r.json.stoppedBy, "guest-exit");
      match(r.json.compared.join(), /syscalls/);
      equal(r.json.sides.a.output, "sysargs\n");
    });
  }

  // Plugin API 5 (10.2) writes the same counter value on both sides
  // (plugin-src/counters.c): the arguments agree, a match.
  if (version === "10.2") {
    Deno.test(`the counter written equal in an argument lseek reads matches on QEMU ${version}`, async () => {
      const r = await runCli(["--json", ...qemu, "x86_64", g("x86_64-sysargs-variant")]);
      equal(r.code, 0, r.stdout + r.stderr);
      equal(r.json.status, "match");
    });
    continue;
  }

  Deno.test(`the host's counter in an argument lseek reads is the environment's on QEMU ${version}`, async () => {
    const r = await runCli(["--json", ...qemu, "x86_64", g("x86_64-sysargs-variant")]);
    equal(r.code, 3, r.stdout + r.stderr);
    equal(r.json.status, "inconclusive");
    const d = r.json.divergence;
    equal(d.kind, "environment");
    equal(d.environment.what, "counter");
    equal(d.environment.call, "rdtsc");
    equal(d.events.a.kind, "syscall");
    equal(d.events.a.name, "lseek");
    match(r.json.message, /^The environment differs at instruction \d+: .* after rdtsc read/);
  });
}

// The corpus (test/corpus.json): real programs as they come, Debian's
// dynamically linked ones and QEMU's own tests/tcg (x86_64, aarch64), each
// with the same QEMU on both sides, on Debian's 7.2 and on the 10.2 build.
// The real CLI runs the suite file as a user would, from the checkout's top
// (the programs read files of the repo), several times over: every case
// must match every time, each guest must have done its job, and the ones
// that fork must name their processes. The forking cases need the PID
// namespaces the run gives each side (root or user namespaces).
import { readSuite } from "../../cli/suite_file.ts";
import { ROOT, runCli } from "./_cli.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

const CORPUS = `${ROOT}test/corpus.json`;
/** Runs of the whole suite: a case that matches only sometimes fails one. */
const RUNS = 3;
/** The cases whose guests fork and execute sha256sum, by the start of their names. */
const FORKS = ["sh -c, a fork and an exec", "python3 posix_spawn"];
/** How the guests end that do not exit 0: tests/tcg programs that find a 7.2 bug and abort. */
const DEATHS: Record<string, string> = {
  "tests/tcg x86_64 adox, QEMU 7.2": "SIGSEGV",
  "tests/tcg x86_64 test-2175, QEMU 7.2": "SIGSEGV",
};

Deno.test("every program of the corpus is there on both QEMUs", async () => {
  const names = (await readSuite(CORPUS)).map((c) => c.name);
  const on = (v: string) =>
    names.filter((n) => n.endsWith(`, QEMU ${v}`)).map((n) => n.slice(0, n.lastIndexOf(",")));
  equal(on("7.2").length + on("10.2").length, names.length);
  // sysregs prints the generic timer's counter: equal on both sides from
  // plugin API 5 only (the case's note says so).
  deepEqual([...on("7.2"), "tests/tcg aarch64 sysregs"].sort(), on("10.2").sort());
  for (const arch of ["x86_64", "aarch64"]) {
    ok(on("7.2").filter((n) => n.startsWith(`tests/tcg ${arch} `)).length >= 5, arch);
  }
});

Deno.test(`the corpus matches itself on QEMU 7.2 and 10.2, ${RUNS} runs of every case`, async (t) => {
  for (let run = 1; run <= RUNS; run++) {
    await t.step(`run ${run}`, async () => {
      const r = await runCli(["suite", "--json", CORPUS], { timeoutMs: 300_000 });
      const failed = r.stderr.split("\n").filter((l) => l.startsWith("FAIL "));
      deepEqual(failed, []);
      equal(r.code, 0, r.stderr.slice(-2000));
      for (const c of r.json.results) {
        const v = c.verdict;
        equal(v?.status, "match", `${c.name}: ${v?.message ?? c.error}`);
        const { a, b } = v.sides;
        // Each guest did its job, the same on both sides.
        equal(a.output, b.output, c.name);
        const death = DEATHS[c.name];
        deepEqual([a.exitCode, a.signal], death ? [null, death] : [0, null], c.name);
        deepEqual([b.exitCode, b.signal], [a.exitCode, a.signal], c.name);
        ok(v.insns > 5000, `${c.name}: ${v.insns} instructions`);
        if (FORKS.some((f) => c.name.startsWith(f))) {
          // python3's runs with the defaults: the fork's result is compared
          // too (a PID namespace a side makes it the same); sh -c's with
          // --compare pc, as its note says why.
          const syscalls = !c.name.startsWith("sh -c");
          equal(v.compared.includes("syscalls"), syscalls, `${c.name}: ${v.compared}`);
          // The child is compared with its pair, and the sha256sum it
          // executes runs under QEMU again as 1.1@1, compared too.
          deepEqual(
            v.processes.map((p: { path: string }) => p.path),
            ["1", "1.1", "1.1@1"],
            c.name,
          );
          ok(v.processes.every((p: { compared: boolean }) => p.compared), c.name);
          match(
            v.processes[1].why,
            /^compared until it executed \/usr\/bin\/sha256sum, which runs under QEMU again as 1\.1@1$/,
            c.name,
          );
          match(a.output, /^[0-9a-f]{64} {2}README\.md\n/);
        } else {
          equal(v.processes, undefined, c.name);
        }
      }
    });
  }
});

// Suites: the real CLI running several lockstep cases, JUnit out.
import { readSuite } from "../../cli/suite_file.ts";
import { GUESTS, ROOT, runCli, tempDir } from "./_cli.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

async function xpath(file: string, expr: string): Promise<string> {
  const out = await new Deno.Command("xmllint", {
    args: ["--xpath", expr, file],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) throw new Error(`xmllint failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout).trim();
}

async function writeSuite(dir: string, cases: unknown[]): Promise<string> {
  const path = `${dir}/suite.json`;
  await Deno.writeTextFile(path, JSON.stringify({ cases }));
  return path;
}

const x86 = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  arch: "x86_64",
  image: `${GUESTS}x86_64-hello`,
  ...extra,
});

Deno.test("suite with a passing case, an expected divergence and a bad image", async () => {
  await using dir = await tempDir();
  const file = await writeSuite(dir.path, [
    x86("same"),
    x86("variant", { args: ["--image-b", `${GUESTS}x86_64-hello-variant`], expect: "diverged" }),
    { name: "missing image", arch: "x86_64", image: "no-such-guest" },
    x86("after the bad one"),
  ]);
  const junit = `${dir.path}/junit.xml`;
  const pages = `${dir.path}/pages`;
  const r = await runCli(["suite", "--json", "--junit", junit, "--html-dir", pages, file]);
  equal(r.code, 1, r.stderr);
  const byName = Object.fromEntries(r.json.results.map((x: { name: string }) => [x.name, x]));
  equal(byName["same"].passed, true);
  equal(byName["variant"].passed, true);
  equal(byName["variant"].verdict.status, "diverged");
  equal(byName["missing image"].passed, false);
  match(byName["missing image"].error, /Image not found: .*no-such-guest/);
  equal(byName["after the bad one"].passed, true);
  match(r.stderr, /FAIL missing image/);
  // JUnit parses as XML and counts right.
  equal(await xpath(junit, "string(/testsuites/@tests)"), "4");
  equal(await xpath(junit, "string(/testsuites/@failures)"), "0");
  equal(await xpath(junit, "string(/testsuites/@errors)"), "1");
  equal(await xpath(junit, "count(//testcase)"), "4");
  equal(await xpath(junit, "count(//testcase/error)"), "1");
  match(
    await xpath(junit, "string(//testcase[@name='same']/system-out)"),
    /side a output:\nchecksum 0x8346d83d/,
  );
  // One page, for the one case that diverged.
  const written = [];
  for await (const e of Deno.readDir(pages)) written.push(e.name);
  deepEqual(written, ["variant.html"]);
  match(await Deno.readTextFile(`${pages}/variant.html`), /<span class="badge">DIVERGED<\/span>/);
});

Deno.test("a case that must diverge but matches fails, with the summary in JUnit", async () => {
  await using dir = await tempDir();
  const file = await writeSuite(dir.path, [x86("should diverge", { expect: "diverged" })]);
  const junit = `${dir.path}/junit.xml`;
  const r = await runCli(["suite", "--junit", junit, file]);
  equal(r.code, 1, r.stderr);
  equal(await xpath(junit, "string(/testsuites/@failures)"), "1");
  match(await xpath(junit, "string(//failure/@message)"), /expected diverged, got match/);
});

Deno.test("shards together cover every case exactly once", async () => {
  await using dir = await tempDir();
  const names = ["c1", "c2", "c3", "c4", "c5"];
  const file = await writeSuite(
    dir.path,
    names.map((n) => x86(n, { args: ["--max-insns", "1000"] })),
  );
  const seen: string[] = [];
  for (const shard of ["1/3", "2/3", "3/3"]) {
    const r = await runCli(["suite", "--json", "--shard", shard, file]);
    equal(r.code, 0, r.stderr);
    seen.push(...r.json.results.map((x: { name: string }) => x.name));
  }
  deepEqual([...seen].sort(), names);
});

Deno.test("cases against a recorded trace: one matches, its variant diverges where the trace says, one with a damaged trace is an error", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/traces`);
  const rec = await runCli([
    "record",
    "-o",
    `${dir.path}/traces/hello.trace`,
    "x86_64",
    `${GUESTS}x86_64-hello`,
  ]);
  equal(rec.code, 0, rec.stderr);
  await Deno.writeFile(`${dir.path}/traces/cut.trace`, new Uint8Array(100));
  const file = await writeSuite(dir.path, [
    x86("recorded", { against: "traces/hello.trace" }),
    x86("variant", {
      against: "traces/hello.trace",
      args: ["--image-b", `${GUESTS}x86_64-hello-variant`],
      expect: "diverged",
    }),
    x86("damaged", { against: "traces/cut.trace" }),
  ]);
  const r = await runCli(["suite", "--json", file]);
  equal(r.code, 1, r.stderr);
  const byName = Object.fromEntries(r.json.results.map((x: { name: string }) => [x.name, x]));
  equal(byName["recorded"].passed, true);
  equal(byName["recorded"].verdict.trace.path, `${dir.path}/traces/hello.trace`);
  equal(byName["variant"].passed, true);
  equal(byName["variant"].verdict.divergence.insn, 3362);
  equal(byName["damaged"].passed, false);
  match(byName["damaged"].error, /cut\.trace is not a trace: it does not start with QLSTRACE/);
});

Deno.test("a bad suite file exits 2 naming the case and the field", async () => {
  await using dir = await tempDir();
  const path = await writeSuite(dir.path, [x86("b", { expect: "maybe" })]);
  const r = await runCli(["suite", path]);
  equal(r.code, 2);
  match(r.stderr, /case 1 \("b"\): field "expect" must be/);
  equal(r.stdout, "");
});

Deno.test("the project's own suite: every bundled guest meets its expectation", async () => {
  await using dir = await tempDir();
  const junit = `${dir.path}/junit.xml`;
  const r = await runCli(["suite", "--junit", junit, `${ROOT}test/suite.json`]);
  equal(r.code, 0, r.stderr);
  equal(
    await xpath(junit, "count(//testcase)"),
    String((await readSuite(`${ROOT}test/suite.json`)).length),
  );
  equal(await xpath(junit, "count(//failure) + count(//error)"), "0");
});

Deno.test("Ctrl-C or SIGTERM to a suite: the running cases end, no other starts, exit 3", async (t) => {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    await t.step(sig, async () => {
      await using dir = await tempDir();
      const cases = Array.from({ length: 40 }, (_, i) => ({
        name: `long ${i}`,
        arch: "x86_64",
        image: `${GUESTS}x86_64-loop`,
        args: ["--", "4000000000"],
      }));
      const file = await writeSuite(dir.path, cases);
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${ROOT}cli/main.ts`, "suite", "--jobs", "2", "--json", file],
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const stdout = new Response(child.stdout).text();
      const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
      let stderr = "";
      while ((stderr.match(/^start /gm) ?? []).length < 2) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`The suite ended before two cases started:\n${stderr}`);
        stderr += value;
      }
      await new Promise((r) => setTimeout(r, 1000));
      const signalled = performance.now();
      child.kill(sig);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        stderr += value;
      }
      const status = await child.status;
      const seconds = (performance.now() - signalled) / 1000;
      equal(status.code, 3, stderr);
      equal((stderr.match(/^start /gm) ?? []).length, 2, stderr);
      const results = JSON.parse(await stdout).results as { name: string; error: string | null }[];
      equal(results.length, 40);
      equal(
        results.filter((r) => /^not run: the suite was interrupted/.test(r.error ?? "")).length,
        38,
      );
      equal(seconds < 20, true, `took ${seconds.toFixed(1)} s after ${sig}`);
    });
  }
});

Deno.test("a shard past the cases, or a refused --cache-dir: exit 2 before any case runs", async (t) => {
  await using dir = await tempDir();
  const file = await writeSuite(dir.path, [x86("c1"), x86("c2")]);
  await t.step("--shard 3/3 of two cases", async () => {
    const r = await runCli(["suite", "--shard", "3/3", file]);
    equal(r.code, 2, r.stderr);
    match(r.stderr, /^error: --shard 3\/3 selects no case: the suite has 2$/m);
    ok(!/^start /m.test(r.stderr), r.stderr);
  });
  await t.step("--cache-dir that others can write to", async () => {
    const open = `${dir.path}/open`;
    await Deno.mkdir(open);
    await Deno.chmod(open, 0o777);
    const r = await runCli(["suite", "--cache-dir", open, file]);
    equal(r.code, 2, r.stderr);
    match(r.stderr, /^error: Refusing the plugin cache directory .*open: /m);
    ok(!/^start /m.test(r.stderr), r.stderr);
  });
});

Deno.test("a case's name with ESC or a newline reaches the terminal as escapes", async () => {
  await using dir = await tempDir();
  const evil = "red\x1b[31m\nPASS forged\x07";
  const file = await writeSuite(dir.path, [x86(evil, { args: ["--max-insns", "1000"] })]);
  const r = await runCli(["suite", "--json", file]);
  equal(r.code, 0, r.stderr);
  // deno-lint-ignore no-control-regex
  ok(!/[\x00-\x09\x0b-\x1f]/.test(r.stderr), JSON.stringify(r.stderr));
  ok(!/^PASS forged/m.test(r.stderr), r.stderr);
  match(r.stderr, /^PASS red\\x1b\[31m\\nPASS forged\\x07 \(expected match/m);
  // The JSON keeps the name as it is.
  equal(r.json.results[0].name, evil);
});

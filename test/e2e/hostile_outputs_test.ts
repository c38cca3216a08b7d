// Outputs under a hostile neighbour and a failing disk (issue 22): the
// real CLI writing --report, --html, --junit, --html-dir, --json and
// record -o into devices, fifos, planted links and full file systems.
// Planting is done as another user (setpriv, as root); the full disk is a
// small tmpfs of the test's own.
import { readTrace } from "../../mod.ts";
import { GUESTS, ROOT, runCli, tempDir } from "./_cli.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

const g = (name: string) => GUESTS + name;
const root = Deno.uid() === 0;
const hello = ["x86_64", g("x86_64-hello")];
const diverging = [...hello, "--image-b", g("x86_64-hello-variant")];

async function run(cmd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Runs `cmd` as user nobody: the neighbour who plants things. */
const asNobody = (cmd: string, ...args: string[]) =>
  run("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", cmd, ...args);

async function listing(dir: string): Promise<string[]> {
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

/** A directory like /tmp in `parent` (opened to all): everyone may write to it, sticky. */
async function sharedDir(parent: string): Promise<string> {
  await Deno.chmod(parent, 0o755);
  const dir = `${parent}/shared`;
  await Deno.mkdir(dir);
  await Deno.chmod(dir, 0o1777);
  return dir;
}

/** A tmpfs of a few pages, mounted at a new directory in `parent`, filled to the last byte. */
async function fullDisk(parent: string): Promise<{ path: string } & AsyncDisposable> {
  const path = `${parent}/full`;
  await Deno.mkdir(path);
  await run("mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", path);
  const fill = await Deno.open(`${path}/fill`, { write: true, create: true });
  try {
    for (;;) await fill.write(new Uint8Array(4096));
  } catch {
    // full
  } finally {
    fill.close();
  }
  return {
    path,
    [Symbol.asyncDispose]: () => run("umount", path),
  };
}

async function writeSuite(dir: string, cases: unknown[]): Promise<string> {
  const path = `${dir}/suite.json`;
  await Deno.writeTextFile(path, JSON.stringify({ cases }));
  return path;
}

Deno.test("record -o writes into a device, fifo or link, never replacing it", async (t) => {
  await using dir = await tempDir();
  const record = ["record", "--max-insns", "20000", ...hello, "-o"];
  await t.step({
    name: "a null device (our own, made with mknod): it stays a character device",
    ignore: !root,
    fn: async () => {
      await run("mknod", `${dir.path}/null`, "c", "1", "3");
      const r = await runCli([...record, `${dir.path}/null`]);
      equal(r.code, 0, r.stderr);
      match(r.stderr, /^RECORDED /m);
      ok((await Deno.lstat(`${dir.path}/null`)).isCharDevice);
      deepEqual(await listing(dir.path), ["null"]);
    },
  });
  await t.step("a fifo: its reader gets the whole trace, and it stays a fifo", async () => {
    const fifo = `${dir.path}/fifo`;
    await run("mkfifo", fifo);
    // A reader of its own, to stop if the fifo was replaced (it would wait forever).
    const reader = new Deno.Command("cat", { args: [fifo], stdout: "piped" }).spawn();
    const r = await runCli([...record, fifo]);
    const stayed = (await Deno.lstat(fifo)).isFifo;
    // A reader left waiting (the fifo replaced, or never opened) is stopped.
    const late = setTimeout(() => reader.kill(), stayed && r.code === 0 ? 10_000 : 0);
    const got = await reader.output();
    clearTimeout(late);
    ok(stayed, "the fifo was replaced");
    equal(r.code, 0, r.stderr);
    await Deno.writeFile(`${dir.path}/copy.trace`, got.stdout);
    equal((await readTrace(`${dir.path}/copy.trace`)).summary.end.insns, 20000);
    await Deno.remove(`${dir.path}/copy.trace`);
  });
  await t.step("/dev/fd/1 (stdout) redirected to a file: the trace is in the file", async () => {
    const file = `${dir.path}/stdout.trace`;
    const out = await new Deno.Command("sh", {
      args: [
        "-c",
        `exec "$@" > ${file}`,
        "sh",
        Deno.execPath(),
        "run",
        "-A",
        `${ROOT}cli/main.ts`,
        ...record,
        // Not /dev/stdout: if this broke, the test would replace the
        // machine's /dev/stdout (the link's directory is /dev).
        "/dev/fd/1",
      ],
      env: { NO_COLOR: "1" },
      stderr: "piped",
    }).output();
    equal(out.code, 0, new TextDecoder().decode(out.stderr));
    equal((await readTrace(file)).summary.end.insns, 20000);
  });
  await t.step(
    "a link of the user's own: the file it names gets the trace, the link stays",
    async () => {
      await Deno.writeTextFile(`${dir.path}/target.trace`, "old");
      await Deno.symlink("target.trace", `${dir.path}/link.trace`);
      const r = await runCli([...record, `${dir.path}/link.trace`]);
      equal(r.code, 0, r.stderr);
      ok((await Deno.lstat(`${dir.path}/link.trace`)).isSymlink);
      equal((await readTrace(`${dir.path}/target.trace`)).summary.end.insns, 20000);
    },
  );
  await t.step("a full device: exit 2, one sentence, nothing left", async () => {
    // Our own full device as root: if this broke, /dev/full would be replaced.
    const full = root ? `${dir.path}/full` : "/dev/full";
    if (root) await run("mknod", full, "c", "1", "7");
    const before = await listing(dir.path);
    const r = await runCli([...record, full]);
    equal(r.code, 2, r.stderr);
    match(
      r.stderr,
      /^ERROR {2}No trace written: .*Cannot write the trace \S*full: No space left on device/m,
    );
    ok(!/internal error|^ {4}at /m.test(r.stderr), r.stderr);
    deepEqual(await listing(dir.path), before);
    if (root) ok((await Deno.lstat(full)).isCharDevice);
  });
});

Deno.test({
  name: "a link planted by another user in a shared directory is refused by every output",
  ignore: !root,
  fn: async (t) => {
    await using dir = await tempDir();
    const shared = await sharedDir(dir.path);
    const victim = `${dir.path}/victim`;
    await Deno.writeTextFile(victim, "precious\n");
    await asNobody("ln", "-s", victim, `${shared}/planted`);
    const untouched = async () => equal(await Deno.readTextFile(victim), "precious\n");
    for (const option of ["--report", "--html"]) {
      await t.step(`${option}: exit 2 before the run, the file it names untouched`, async () => {
        const r = await runCli([option, `${shared}/planted`, ...diverging]);
        equal(r.code, 2, r.stderr);
        match(
          r.stderr,
          new RegExp(
            `error: Cannot write ${option} .*planted: .*planted is a symbolic link that belongs to ` +
              `user \\d+, in .*shared, a directory others can write to`,
          ),
        );
        await untouched();
      });
    }
    await t.step("record -o: the same", async () => {
      const r = await runCli(["record", ...hello, "-o", `${shared}/planted`]);
      equal(r.code, 2, r.stderr);
      match(r.stderr, /Cannot write the trace .*planted: .*symbolic link that belongs to user/);
      await untouched();
    });
    const suite = await writeSuite(dir.path, [
      {
        name: "variant",
        arch: "x86_64",
        image: g("x86_64-hello"),
        expect: "diverged",
        args: ["--image-b", g("x86_64-hello-variant")],
      },
    ]);
    await t.step("suite --junit: the same", async () => {
      const r = await runCli(["suite", "--junit", `${shared}/planted`, suite]);
      equal(r.code, 2, r.stderr);
      match(r.stderr, /Cannot write --junit .*planted: .*symbolic link that belongs to user/);
      await untouched();
    });
    await t.step("suite --html-dir through a planted link: refused", async () => {
      await Deno.mkdir(`${dir.path}/elsewhere`);
      await asNobody("ln", "-s", `${dir.path}/elsewhere`, `${shared}/pages`);
      const r = await runCli(["suite", "--html-dir", `${shared}/pages`, suite]);
      equal(r.code, 2, r.stderr);
      match(r.stderr, /Cannot write --html-dir .*pages: .*symbolic link that belongs to user/);
      deepEqual(await listing(`${dir.path}/elsewhere`), []);
    });
    await t.step(
      "suite --html-dir: no fixed probe name; a page's name planted is refused, said, and the rest stands",
      async () => {
        const pages = `${shared}/html`;
        await Deno.mkdir(pages);
        await Deno.chmod(pages, 0o1777);
        // The old probe opened this name with O_CREAT, making the file a
        // dangling link names.
        await asNobody("ln", "-s", `${dir.path}/made`, `${pages}/.qemu-lockstep-probe`);
        await asNobody("ln", "-s", victim, `${pages}/variant.html`);
        const r = await runCli(["suite", "--html-dir", pages, suite]);
        // The case met its expectation; its page could not be written.
        equal(r.code, 2, r.stderr);
        match(
          r.stderr,
          /^error: Cannot write the page of case "variant" .*variant\.html: .*symbolic link that belongs to user \d+.*; the results stand: 1 met expectation, 0 did not, but exit 2 for what is missing$/m,
        );
        await untouched();
        deepEqual(await listing(pages), [".qemu-lockstep-probe", "variant.html"]);
        ok(!(await Deno.lstat(`${dir.path}/made`).catch(() => undefined)), "the probe made a file");
      },
    );
  },
});

Deno.test({
  name:
    "an output that cannot be written: one sentence naming it, the verdict's exit code kept, no partial file",
  ignore: !root,
  fn: async (t) => {
    await using dir = await tempDir();
    await using full = await fullDisk(dir.path);
    const onFull = await listing(full.path);
    await t.step("--report on a full disk: exit 1 (diverged) kept, nothing left", async () => {
      const r = await runCli(["--report", `${full.path}/r.json`, ...diverging]);
      equal(r.code, 1, r.stderr);
      match(r.stderr, /^DIVERGED/m);
      match(
        r.stderr,
        /^error: Cannot write --report .*r\.json: No space left on device \(os error 28\); the verdict stands: diverged \(exit 1\)$/m,
      );
      deepEqual(await listing(full.path), onFull);
    });
    await t.step("--html on a full disk after a match: exit 2, not 0", async () => {
      const r = await runCli(["--html", `${full.path}/v.html`, ...hello]);
      equal(r.code, 2, r.stderr);
      match(r.stderr, /^MATCH/m);
      match(
        r.stderr,
        /^error: Cannot write --html .*v\.html: No space left on device .*; the verdict stands: match, but exit 2 for what is missing$/m,
      );
      deepEqual(await listing(full.path), onFull);
    });
    const suite = await writeSuite(dir.path, [
      {
        name: "variant",
        arch: "x86_64",
        image: g("x86_64-hello"),
        expect: "diverged",
        args: ["--image-b", g("x86_64-hello-variant")],
      },
    ]);
    await t.step("suite --junit on a full disk: one sentence, exit 2, no empty file", async () => {
      const r = await runCli(["suite", "--junit", `${full.path}/junit.xml`, suite]);
      equal(r.code, 2, r.stderr);
      match(r.stderr, /^error: Cannot write --junit .*junit\.xml: No space left on device/m);
      ok(!/internal error|^ {4}at /m.test(r.stderr), r.stderr);
      deepEqual(await listing(full.path), onFull);
    });
    await t.step("suite --html-dir on a full disk: said, exit 2, no partial page", async () => {
      const r = await runCli(["suite", "--html-dir", `${full.path}`, suite]);
      equal(r.code, 2, r.stderr);
      match(
        r.stderr,
        /^error: Cannot write the page of case "variant" .*variant\.html: No space left on device/m,
      );
      deepEqual(await listing(full.path), onFull);
    });
  },
});

Deno.test("--json > /dev/full: said, with the verdict's exit code kept", async (t) => {
  const toFull = async (args: string[]) => {
    const out = await new Deno.Command("sh", {
      args: [
        "-c",
        'exec "$@" > /dev/full',
        "sh",
        Deno.execPath(),
        "run",
        "-A",
        `${ROOT}cli/main.ts`,
        ...args,
      ],
      env: { NO_COLOR: "1" },
      stderr: "piped",
    }).output();
    return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
  };
  await t.step("diverged: exit 1", async () => {
    const r = await toFull(["--json", ...diverging]);
    equal(r.code, 1, r.stderr);
    match(
      r.stderr,
      /^error: Cannot write the JSON verdict to stdout: No space left on device \(os error 28\); the verdict stands: diverged \(exit 1\)$/m,
    );
  });
  await t.step("match: exit 2", async () => {
    const r = await toFull(["--json", ...hello]);
    equal(r.code, 2, r.stderr);
    match(r.stderr, /Cannot write the JSON verdict to stdout: .*but exit 2 for what is missing/);
  });
});

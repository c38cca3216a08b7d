// Paths under a hostile neighbour and a CLI killed outright (issue 22):
// the plugin cache's guessable name in a shared TMPDIR taken by another
// user's link, and what a run killed with SIGKILL leaves (its run
// directory, objdump's input, a plugin build in the cache), which the next
// run sweeps without touching anything not provably ours and dead. The
// neighbour is user nobody (setpriv, as root).
import { TMPDIR_KINDS } from "../../harness/core/owned_temp_dir.ts";
import { alive, GUESTS, ROOT, runCli, startCli, tempDir } from "./_cli.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";
import { join } from "../../deps/path.ts";

const root = Deno.uid() === 0;
const NOBODY = 65534;
const g = (name: string) => GUESTS + name;
const hello = ["x86_64", g("x86_64-hello")];
const loop = ["x86_64", g("x86_64-loop"), "--", "4000000000"];
const MAIN = join(ROOT, "cli/main.ts");
const timeoutMs = 180_000;

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

/** A directory like /tmp, `name` in `parent` (opened to all): everyone may write to it, sticky. */
async function sharedDir(parent: string, name: string): Promise<string> {
  await Deno.chmod(parent, 0o755);
  const dir = join(parent, name);
  await Deno.mkdir(dir);
  await Deno.chmod(dir, 0o1777);
  return dir;
}

/** Waits (up to 30 s) until `check` holds. */
async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Timed out waiting: ${what}`);
}

/** A script `name` in `dir` that writes its pid to `pidFile` and sleeps, unless run with `--version`. */
async function stallingTool(dir: string, name: string, real: string, pidFile: string) {
  const path = join(dir, name);
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\ncase "$1" in --version) exec ${real} "$@";; esac\n` +
      `echo $$ > ${pidFile}\nexec sleep 600\n`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

/**
 * Starts the CLI with `args` until `pidFile` names the stalled tool it ran,
 * then kills the CLI outright and the tool after it.
 */
async function killWhileStalled(
  args: readonly string[],
  env: Record<string, string>,
  pidFile: string,
): Promise<void> {
  const cli = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await until(
      async () => (await Deno.readTextFile(pidFile).catch(() => "")).endsWith("\n"),
      "the tool to start",
    );
  } finally {
    cli.kill("SIGKILL");
    await cli.status;
    const pid = Number(await Deno.readTextFile(pidFile).catch(() => "0"));
    if (pid > 0 && alive(pid)) Deno.kill(pid, "SIGKILL");
  }
}

Deno.test({
  name: "a link another user planted on the way to the plugin cache is refused, never followed",
  ignore: !root,
  fn: async (t) => {
    await using tmp = await tempDir();
    const shared = await sharedDir(tmp.path, "tmp");
    // Stands in for /etc: root's, and a place a plugin must never go.
    const etc = join(tmp.path, "etc");
    await Deno.mkdir(etc);
    await Deno.writeTextFile(join(etc, "passwd"), "root:x:0:0::/root:/bin/sh\n");
    const noHome = { HOME: "", XDG_CACHE_HOME: "", TMPDIR: shared };
    const planted = join(shared, `qemu-lockstep-${Deno.uid()}`);
    const refused = async (args: readonly string[], where: RegExp) => {
      const r = await runCli(["--json", ...args, ...hello], { env: noHome, timeoutMs });
      equal(r.code, 2, r.stderr);
      match(r.stderr, where);
      match(
        r.stderr,
        /^ {2}hint: remove the link \(.*\) if you did not make it, or pass --cache-dir a directory of your own/m,
      );
      deepEqual(await listing(etc), ["passwd"]);
      const link = await Deno.lstat(planted);
      ok(link.isSymlink && link.uid === NOBODY, "the planted link was replaced");
    };

    await t.step(
      "HOME unset: the default cache's name, a link to a directory of root's",
      async () => {
        await asNobody("ln", "-s", etc, planted);
        await refused(
          [],
          /^error: Refusing the plugin cache directory .*\/tmp\/qemu-lockstep-0: it is a symbolic link to .*\/etc that user 65534 made, and a link someone else made is never followed$/m,
        );
      },
    );
    await t.step("the same name, a link to where nothing is yet", async () => {
      await Deno.remove(planted);
      await asNobody("ln", "-s", join(etc, "made"), planted);
      await refused([], /: it is a symbolic link to .*\/etc\/made that user 65534 made/);
    });
    await t.step("a link above the cache directory", async () => {
      await refused(
        ["--cache-dir", join(planted, "cache")],
        /^error: Refusing the plugin cache directory .*\/qemu-lockstep-0\/cache: .*\/qemu-lockstep-0, above it, is a symbolic link to .*\/etc\/made that user 65534 made/m,
      );
    });
    await t.step("a link of the user's own is followed", async () => {
      const real = join(tmp.path, "real");
      await Deno.mkdir(real, { mode: 0o700 });
      await Deno.symlink(real, join(tmp.path, "mine"));
      const r = await runCli(["--json", "--cache-dir", join(tmp.path, "mine"), ...hello], {
        env: noHome,
        timeoutMs,
      });
      equal(r.code, 0, r.stderr);
      ok((await listing(real)).some((f) => /^lockstep-v\d+-[0-9a-f]+\.so$/.test(f)));
    });
  },
});

Deno.test({
  name: "what a CLI killed outright left is swept by the next run, and nothing else is",
  ignore: !root,
  fn: async (t) => {
    await using tmp = await tempDir();
    const cache = join(tmp.path, "cache");
    const bin = join(tmp.path, "bin");
    await Deno.mkdir(bin);
    const first = await runCli(["--cache-dir", cache, ...hello], {
      env: { TMPDIR: tmp.path },
      timeoutMs,
    });
    equal(first.code, 0, first.stderr);
    const built = await listing(cache);

    await t.step("its run directory; not a live run's, another user's or a link", async () => {
      const tmpdir = await sharedDir(tmp.path, "tmp-run");
      const env = { TMPDIR: tmpdir };
      const cli = ["--json", "--cache-dir", cache];
      const killed = await startCli([...cli, ...loop], env);
      killed.child.kill("SIGKILL");
      await killed.finish();
      await until(
        () => !alive(killed.pids.a) && !alive(killed.pids.b),
        "the killed run's QEMUs to end",
      );
      const stale = await listing(tmpdir);
      equal(stale.length, 1, `the killed run left ${stale.join(", ")}`);

      // Not ours, or not provably dead: a neighbour's directory of the
      // name with a lock nobody holds, a neighbour's link of the name to a
      // directory of ours that would pass, one of ours without a lock, one
      // of another name (as the cache's default), and a live run's.
      const prefix = TMPDIR_KINDS.run;
      const victim = join(tmp.path, "victim");
      await Deno.mkdir(victim, { mode: 0o700 });
      await Deno.writeTextFile(join(victim, "owner.lock"), "");
      await asNobody("mkdir", "-m", "700", join(tmpdir, `${prefix}nobody`));
      await asNobody("touch", join(tmpdir, `${prefix}nobody`, "owner.lock"));
      await asNobody("ln", "-s", victim, join(tmpdir, `${prefix}link`));
      await Deno.mkdir(join(tmpdir, `${prefix}nolock`), { mode: 0o700 });
      await Deno.mkdir(join(tmpdir, "qemu-lockstep-0"), { mode: 0o700 });
      await Deno.writeTextFile(join(tmpdir, "qemu-lockstep-0", "owner.lock"), "");
      const planted = await listing(tmpdir).then((l) => l.filter((n) => !stale.includes(n)));
      const live = await startCli([...cli, ...loop], env);
      try {
        const liveDir = (await listing(tmpdir)).filter((n) =>
          !stale.includes(n) && !planted.includes(n)
        );
        equal(liveDir.length, 1, `the live run has ${liveDir.join(", ")}`);
        const next = await runCli([...cli, ...hello], { env, timeoutMs });
        equal(next.code, 0, next.stderr);
        deepEqual(await listing(tmpdir), [...planted, ...liveDir].sort());
        deepEqual(await listing(victim), ["owner.lock"]);
        ok(alive(live.pids.a) && alive(live.pids.b), "the live run's QEMUs were stopped");
      } finally {
        live.child.kill("SIGKILL");
        await live.finish();
      }
      await until(() => !alive(live.pids.a) && !alive(live.pids.b), "the live run's QEMUs to end");
      // Dead now: the next run takes it too.
      equal((await runCli([...cli, ...hello], { env, timeoutMs })).code, 0);
      deepEqual(await listing(tmpdir), planted);
    });

    await t.step("objdump's input, when killed while disassembling", async () => {
      const tmpdir = await sharedDir(tmp.path, "tmp-disas");
      const pidFile = join(tmp.path, "objdump.pid");
      await stallingTool(bin, "objdump", "objdump", pidFile);
      await killWhileStalled(
        ["--cache-dir", cache, ...hello, "--image-b", g("x86_64-hello-variant")],
        { TMPDIR: tmpdir, PATH: `${bin}:${Deno.env.get("PATH")}` },
        pidFile,
      );
      const stale = await listing(tmpdir);
      equal(stale.length, 1, `the killed run left ${stale.join(", ")}`);
      const next = await runCli(["--cache-dir", cache, ...hello], {
        env: { TMPDIR: tmpdir },
        timeoutMs,
      });
      equal(next.code, 0, next.stderr);
      deepEqual(await listing(tmpdir), []);
    });

    await t.step("a plugin build in the cache, when killed while compiling", async () => {
      const pidFile = join(tmp.path, "cc.pid");
      const cc = await stallingTool(bin, "cc", Deno.env.get("CC") ?? "cc", pidFile);
      await killWhileStalled(
        ["--cache-dir", cache, ...hello],
        { TMPDIR: tmp.path, CC: cc },
        pidFile,
      );
      const stale = await listing(cache);
      ok(stale.length > built.length, `the killed build left nothing: ${stale.join(", ")}`);
      // The plugin is cached: this run builds nothing, and still sweeps.
      const next = await runCli(["--cache-dir", cache, ...hello], {
        env: { TMPDIR: tmp.path },
        timeoutMs,
      });
      equal(next.code, 0, next.stderr);
      deepEqual(await listing(cache), built);
    });
  },
});

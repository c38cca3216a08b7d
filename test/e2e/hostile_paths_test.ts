// Paths under a hostile neighbour (issue 22): the plugin cache's
// guessable name in a shared TMPDIR taken by another user's link. The
// neighbour is user nobody (setpriv, as root).
import { GUESTS, runCli, tempDir } from "./_cli.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";
import { join } from "../../deps/path.ts";

const root = Deno.uid() === 0;
const NOBODY = 65534;
const hello = ["x86_64", GUESTS + "x86_64-hello"];
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

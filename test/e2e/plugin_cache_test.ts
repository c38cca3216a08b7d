// The plugin cache under attack from another user (`nobody`: the tests run
// as root and chown what they plant): a planted plugin, whose constructor
// leaves a marker file when anything loads it, is never loaded; damaged
// files are rebuilt; an unusable cache directory is a sentence with a hint.
import { planRun } from "../../harness/plan/plan.ts";
import { buildPlugin } from "../../harness/qemu/plugin_build.ts";
import { untrustedPlugin } from "../../harness/qemu/plugin_cache.ts";
import { QEMU_10_2_DIR } from "../../cli/setup_qemus.ts";
import { GUESTS, runCli, tempDir } from "./_cli.ts";
import { deepEqual, equal, match, ok, rejects } from "../../deps/assert.ts";
import { basename, join } from "../../deps/path.ts";

const NOBODY = 65534;
const root = Deno.uid() === 0;
const hello = ["x86_64", `${GUESTS}x86_64-hello`];

/** A shared object whose constructor creates `marker`: proof that it was loaded. */
async function plantedPlugin(dir: string, marker: string): Promise<string> {
  const src = join(dir, "planted.c");
  await Deno.writeTextFile(
    src,
    `#include <fcntl.h>
#include <unistd.h>
__attribute__((visibility("default"))) int qemu_plugin_version = 1;
__attribute__((constructor)) static void planted(void)
{
    close(open(${JSON.stringify(marker)}, O_CREAT | O_WRONLY, 0644));
}
__attribute__((visibility("default"))) int qemu_plugin_install(void)
{
    return 0;
}
`,
  );
  const out = join(dir, "planted.so");
  const cc = await new Deno.Command(Deno.env.get("CC") ?? "cc", {
    args: ["-shared", "-fPIC", "-o", out, src],
    stderr: "piped",
  }).output();
  equal(cc.code, 0, new TextDecoder().decode(cc.stderr));
  return out;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

Deno.test({
  name: "a plugin someone else could have put in the cache is never loaded",
  ignore: !root,
  fn: async (t) => {
    await using tmp = await tempDir();
    const marker = join(tmp.path, "LOADED");
    const planted = await plantedPlugin(tmp.path, marker);
    // The name the CLI looks for: the same build's, in a cache of our own.
    const plan = await planRun({ arch: "x86_64", image: `${GUESTS}x86_64-hello` });
    const req = {
      source: "lockstep",
      api: plan.a.qemu.pluginApi,
      qemuPath: plan.a.qemu.path,
    } as const;
    const good = await buildPlugin({ ...req, cacheDir: join(tmp.path, "good") });
    const name = basename(good.path);
    let n = 0;
    /** A cache directory with the planted plugin under the right name, owned and moded as asked. */
    const plant = async (
      o: {
        dirOwner?: number;
        dirMode?: number;
        fileOwner?: number;
        fileMode?: number;
        under?: string;
      },
    ) => {
      const dir = join(o.under ?? tmp.path, `cache${n++}`);
      await Deno.mkdir(dir, { recursive: true });
      await Deno.copyFile(planted, join(dir, name));
      await Deno.chmod(join(dir, name), o.fileMode ?? 0o755);
      await Deno.chown(join(dir, name), o.fileOwner ?? 0, o.fileOwner ?? 0);
      await Deno.chmod(dir, o.dirMode ?? 0o700);
      await Deno.chown(dir, o.dirOwner ?? 0, o.dirOwner ?? 0);
      return dir;
    };
    const cli = (cacheDir: string, env: Record<string, string> = {}) =>
      runCli(["--json", "--timeout", "120", "--cache-dir", cacheDir, ...hello], {
        env: { TMPDIR: tmp.path, ...env },
        timeoutMs: 180_000,
      });
    const notLoaded = async () => ok(!(await exists(marker)), "the planted plugin was loaded");

    await t.step("a cache directory of another user's: refused", async () => {
      const dir = await plant({ dirOwner: NOBODY, dirMode: 0o755, fileOwner: NOBODY });
      const r = await cli(dir);
      await notLoaded();
      equal(r.code, 2, r.stderr);
      match(
        r.stderr,
        /Refusing the plugin cache directory .*: .* belongs to user 65534, not to this user \(0\)/,
      );
      match(r.stderr, /hint: pass --cache-dir a directory of your own/);
    });
    await t.step("our directory, but the file is another user's: rebuilt over it", async () => {
      const dir = await plant({ fileOwner: NOBODY });
      const r = await cli(dir);
      await notLoaded();
      equal(r.code, 0, r.stderr);
      equal((await Deno.stat(join(dir, name))).uid, 0);
    });
    await t.step("a file, or a directory, others can write to", async () => {
      const file = await plant({ fileMode: 0o666 });
      const built = await buildPlugin({ ...req, cacheDir: file });
      equal(built.built, true);
      match(built.replaced ?? "", /other users can write to it \(mode 0666\)/);
      equal((await Deno.stat(built.path)).mode! & 0o777, 0o755);
      for (
        const [mode, why] of [[0o777, /mode 0777\)/], [
          0o1777,
          /mode 01777\): it is a shared directory/,
        ]] as const
      ) {
        const dir = await plant({ dirMode: mode });
        await rejects(
          () => buildPlugin({ ...req, cacheDir: dir }),
          /Refusing the plugin cache directory .*: other users can write to/,
        );
        const r = await cli(dir);
        equal(r.code, 2, r.stderr);
        match(r.stderr, why);
      }
      await notLoaded();
    });
    await t.step("a directory above the cache that another user owns: refused", async () => {
      const above = join(tmp.path, "above");
      await Deno.mkdir(above);
      const dir = await plant({ under: above });
      await Deno.chown(above, NOBODY, NOBODY);
      const r = await cli(dir);
      await notLoaded();
      equal(r.code, 2, r.stderr);
      match(r.stderr, /above .*, belongs to user 65534, who could replace what is in it/);
    });
    await t.step(
      "HOME and XDG_CACHE_HOME unset: not /tmp/.cache, a directory of our own, said",
      async () => {
        // Where the cache went before: a name anyone can guess, in a directory anyone can make.
        const shared = "/tmp/.cache/qemu-lockstep";
        const made = !(await exists("/tmp/.cache"));
        await Deno.mkdir(shared, { recursive: true });
        const trap = join(shared, name);
        const placed = !(await exists(trap));
        if (placed) {
          await Deno.copyFile(planted, trap);
          await Deno.chown(trap, NOBODY, NOBODY);
        }
        try {
          const env = { HOME: "", XDG_CACHE_HOME: "" };
          const r = await runCli(["--json", "--timeout", "120", ...hello], {
            env: { TMPDIR: tmp.path, ...env },
            timeoutMs: 180_000,
          });
          await notLoaded();
          equal(r.code, 0, r.stderr);
          const own = join(tmp.path, "qemu-lockstep-0");
          const st = await Deno.stat(own);
          deepEqual([st.uid, st.mode! & 0o777], [0, 0o700]);
          ok(await exists(join(own, name)));
          ok(
            r.json.warnings.some((w: string) =>
              /HOME and XDG_CACHE_HOME are unset: the plugin is cached in/.test(w)
            ),
            JSON.stringify(r.json.warnings),
          );
          // The same directory made beforehand by another user: refused.
          await Deno.remove(own, { recursive: true });
          await Deno.mkdir(own, { mode: 0o700 });
          await Deno.copyFile(planted, join(own, name));
          await Deno.chown(join(own, name), NOBODY, NOBODY);
          await Deno.chown(own, NOBODY, NOBODY);
          const taken = await runCli(["--json", "--timeout", "120", ...hello], {
            env: { TMPDIR: tmp.path, ...env },
            timeoutMs: 180_000,
          });
          await notLoaded();
          equal(taken.code, 2, taken.stderr);
          match(taken.stderr, /qemu-lockstep-0 belongs to user 65534/);
        } finally {
          if (placed) await Deno.remove(trap).catch(() => {});
          if (made) await Deno.remove("/tmp/.cache", { recursive: true }).catch(() => {});
        }
      },
    );
  },
});

Deno.test("an empty, truncated or foreign file in the cache is rebuilt, not loaded", async () => {
  await using tmp = await tempDir();
  const plan = await planRun({ arch: "x86_64", image: `${GUESTS}x86_64-hello` });
  const req = {
    source: "lockstep",
    api: plan.a.qemu.pluginApi,
    qemuPath: plan.a.qemu.path,
  } as const;
  const good = await buildPlugin({ ...req, cacheDir: join(tmp.path, "good") });
  const bytes = await Deno.readFile(good.path);
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty", new Uint8Array(0), /it is empty/],
    ["truncated", bytes.subarray(0, 4096), /it is damaged: .*truncated|reach past the end/],
    ["not ELF", new TextEncoder().encode("#!/bin/sh\n"), /it is not an ELF file/],
  ];
  // All settled before the checks: a failure must not remove the directory under the others.
  const done = await Promise.allSettled(cases.map(async ([what, content, why], i) => {
    const dir = join(tmp.path, `c${i}`);
    await Deno.mkdir(dir, { mode: 0o700 });
    await Deno.writeFile(join(dir, basename(good.path)), content, { mode: 0o644 });
    const built = await buildPlugin({ ...req, cacheDir: dir });
    equal(built.built, true, what);
    match(built.replaced ?? "", why);
    deepEqual(await Deno.readFile(built.path), bytes, what);
  }));
  for (const d of done) if (d.status === "rejected") throw d.reason;
  // The rebuilt ones are fit to be used as they are from then on.
  for (const [i] of cases.entries()) {
    equal(await untrustedPlugin(join(tmp.path, `c${i}`, basename(good.path))), undefined);
  }
});

Deno.test("a cache directory that cannot take the plugin: exit 2, one sentence and the right hint", async (t) => {
  await using tmp = await tempDir();
  await t.step("under a file", async () => {
    const file = join(tmp.path, "a-file");
    await Deno.writeTextFile(file, "");
    const r = await runCli(["--cache-dir", join(file, "cache"), ...hello], {
      env: { TMPDIR: tmp.path },
    });
    equal(r.code, 2, r.stderr);
    match(
      r.stderr,
      /^error: Cannot make the plugin cache directory .*a-file\/cache: Not a directory/m,
    );
    match(r.stderr, /hint: pass --cache-dir a directory of your own/);
    ok(!/internal error/.test(r.stderr), r.stderr);
  });
  const mnt = join(tmp.path, "full");
  await Deno.mkdir(mnt);
  const mounted = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", mnt],
    stderr: "null",
  }).output().then((o) => o.success, () => false);
  await t.step({
    name: "a full disk (a 64 KB tmpfs)",
    ignore: !mounted,
    fn: async () => {
      try {
        const r = await runCli(["--cache-dir", mnt, ...hello], { env: { TMPDIR: tmp.path } });
        equal(r.code, 2, r.stderr);
        match(
          r.stderr,
          /^error: Building the plugin failed: no space left for it in .*full \(.*No space left on device\)$/m,
        );
        match(
          r.stderr,
          /hint: free some space on that disk .* or pass --cache-dir a directory on another disk/,
        );
        ok(!/gcc and libglib2.0-dev/.test(r.stderr), r.stderr);
        const left = [];
        for await (const e of Deno.readDir(mnt)) left.push(e.name);
        deepEqual(left, []);
      } finally {
        await new Deno.Command("umount", { args: [mnt] }).output();
      }
    },
  });
});

Deno.test({
  name: "--plugin-header may be a file of any name",
  ignore: !(await exists(`${QEMU_10_2_DIR}../include/qemu-plugin.h`)),
  fn: async () => {
    await using tmp = await tempDir();
    const header = join(tmp.path, "qemu-10.2-plugin-api.h");
    await Deno.copyFile(`${QEMU_10_2_DIR}../include/qemu-plugin.h`, header);
    const r = await runCli([
      "--json",
      "--qemu",
      `${QEMU_10_2_DIR}qemu-x86_64`,
      "--plugin-header",
      header,
      "--cache-dir",
      join(tmp.path, "cache"),
      ...hello,
    ], { env: { TMPDIR: tmp.path } });
    equal(r.code, 0, r.stderr);
    equal(r.json.status, "match");
  },
});

// What the sweep takes: an owned directory whose owner is gone, and
// nothing else. A dead run's directory is what one leaves: private, ours,
// with an owner.lock nobody holds; a live one's lock is held (flock, which
// conflicts even within one process, so the owner here can be this test).
import {
  LOCK_FILE,
  makeOwnedTempDir,
  sweepDeadTempDirs,
} from "../../harness/core/owned_temp_dir.ts";
import { deepEqual, ok } from "../../deps/assert.ts";
import { join } from "../../deps/path.ts";

const root = Deno.uid() === 0;
const PREFIX = "lk-owned-";

async function listing(dir: string): Promise<string[]> {
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

/** What a run killed outright leaves: its directory, the lock file unheld. */
async function deadRunDir(parent: string, name: string, mode = 0o700): Promise<string> {
  const dir = join(parent, name);
  await Deno.mkdir(dir);
  await Deno.chmod(dir, mode);
  await Deno.writeTextFile(join(dir, LOCK_FILE), "");
  await Deno.writeTextFile(join(dir, "ctl.sock"), "");
  return dir;
}

Deno.test("the sweep removes the directories of dead owners, and only those", async (t) => {
  const parent = await Deno.makeTempDir({ prefix: "lockstep-test-" });
  try {
    await t.step("a dead owner's: removed; a live one's: kept until its owner ends", async () => {
      const dead = await deadRunDir(parent, `${PREFIX}dead`);
      const live = await makeOwnedTempDir({ parent, prefix: PREFIX });
      deepEqual(await sweepDeadTempDirs(parent, [PREFIX]), [dead]);
      deepEqual(await listing(parent), [live.path.slice(parent.length + 1)]);
      deepEqual(await listing(live.path), [LOCK_FILE]);
      await live[Symbol.asyncDispose]();
      deepEqual(await listing(parent), []);
    });
    await t.step("a kept one (--keep-temp) outlives its owner and every sweep", async () => {
      const kept = await makeOwnedTempDir({ parent, prefix: PREFIX, keep: true });
      await kept[Symbol.asyncDispose]();
      deepEqual(await sweepDeadTempDirs(parent, [PREFIX]), []);
      ok((await Deno.lstat(kept.path)).isDirectory);
      await Deno.remove(kept.path, { recursive: true });
    });
    await t.step("not provably ours and dead: left alone", async () => {
      const other = await Deno.makeTempDir({ dir: parent, prefix: "target-" });
      await Deno.writeTextFile(join(other, LOCK_FILE), "");
      const left = [
        await deadRunDir(parent, "another-prefix"),
        await deadRunDir(parent, `${PREFIX}open-to-group`, 0o750),
        await Deno.makeTempDir({ dir: parent, prefix: `${PREFIX}no-lock-` }),
      ];
      // A link to a dead run's directory, and a lock file that is a link.
      await Deno.symlink(await deadRunDir(parent, "target-dead"), join(parent, `${PREFIX}link`));
      const linkedLock = await Deno.makeTempDir({ dir: parent, prefix: `${PREFIX}lock-link-` });
      await Deno.symlink(join(other, LOCK_FILE), join(linkedLock, LOCK_FILE));
      const before = await listing(parent);
      deepEqual(await sweepDeadTempDirs(parent, [PREFIX]), []);
      deepEqual(await listing(parent), before);
      for (const d of left) ok((await Deno.lstat(d)).isDirectory, d);
    });
    await t.step({
      name: "another user's: left alone, however dead it looks",
      ignore: !root,
      fn: async () => {
        const theirs = await deadRunDir(parent, `${PREFIX}nobody`);
        await Deno.chown(join(theirs, LOCK_FILE), 65534, 65534);
        await Deno.chown(theirs, 65534, 65534);
        // Theirs, holding a lock file of ours (a hard link can put one there).
        const holding = await deadRunDir(parent, `${PREFIX}nobody-holding-ours`);
        await Deno.chown(holding, 65534, 65534);
        deepEqual(await sweepDeadTempDirs(parent, [PREFIX]), []);
        ok((await Deno.lstat(theirs)).isDirectory);
        ok((await Deno.lstat(holding)).isDirectory);
      },
    });
    await t.step("in a directory others may write to without the sticky bit: none", async () => {
      const open = join(parent, "open");
      await Deno.mkdir(open);
      await Deno.chmod(open, 0o777);
      const dead = await deadRunDir(open, `${PREFIX}dead`);
      deepEqual(await sweepDeadTempDirs(open, [PREFIX]), []);
      ok((await Deno.lstat(dead)).isDirectory);
      await Deno.chmod(open, 0o1777);
      deepEqual(await sweepDeadTempDirs(open, [PREFIX]), [dead]);
    });
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

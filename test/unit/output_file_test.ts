// Writing outputs: whole or nothing, never through a planted link, into
// devices and fifos rather than over them.
import {
  checkOutput,
  openOutputDir,
  OutputError,
  OutputFile,
  writeOutput,
} from "../../harness/core/output_file.ts";
import { deepEqual, equal, match, ok, rejects } from "../../deps/assert.ts";

const root = Deno.uid() === 0;

async function listing(dir: string): Promise<string[]> {
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

async function run(cmd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** A directory like /tmp: everyone may write to it, the sticky bit set. */
async function sharedDir(parent: string): Promise<string> {
  const dir = `${parent}/shared`;
  await Deno.mkdir(dir);
  await Deno.chmod(dir, 0o1777);
  return dir;
}

Deno.test("an output is written whole under a new name and renamed into place", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "lockstep-output-" });
  try {
    await t.step("a new file, and nothing else left beside it", async () => {
      await writeOutput(`${dir}/report.json`, "--report", "{}\n");
      equal(await Deno.readTextFile(`${dir}/report.json`), "{}\n");
      deepEqual(await listing(dir), ["report.json"]);
    });
    await t.step(
      "a file that is there is replaced, never written into: its hard link keeps the old text",
      async () => {
        await Deno.writeTextFile(`${dir}/old.json`, "old\n");
        await Deno.chmod(`${dir}/old.json`, 0o640);
        await Deno.link(`${dir}/old.json`, `${dir}/hard-link`);
        await writeOutput(`${dir}/old.json`, "--report", "new\n");
        equal(await Deno.readTextFile(`${dir}/old.json`), "new\n");
        equal(await Deno.readTextFile(`${dir}/hard-link`), "old\n");
        equal((await Deno.stat(`${dir}/old.json`)).mode! & 0o777, 0o640);
      },
    );
    await t.step("written in parts and not committed: nothing is left", async () => {
      const before = await listing(dir);
      {
        await using out = await OutputFile.open(`${dir}/trace`, "the trace");
        await out.write(new Uint8Array(1000));
        equal(out.written, 1000);
      }
      deepEqual(await listing(dir), before);
    });
    await t.step("a directory, or a file in a directory that does not exist: refused", async () => {
      await rejects(
        writeOutput(dir, "--report", "x"),
        /Cannot write --report .*: it is a directory/,
      );
      await rejects(
        writeOutput(`${dir}/missing/r.json`, "--report", "x"),
        /the directory .*\/missing does not exist/,
      );
      await rejects(
        writeOutput(`${dir}/report.json/r.json`, "--report", "x"),
        /report\.json is not a directory/,
      );
    });
    await t.step(
      "a link of this user's is followed: the file it names is written, the link stays",
      async () => {
        await Deno.mkdir(`${dir}/results`);
        await Deno.writeTextFile(`${dir}/results/real.json`, "old\n");
        await Deno.symlink("results/real.json", `${dir}/link.json`);
        await writeOutput(`${dir}/link.json`, "--report", "new\n");
        ok((await Deno.lstat(`${dir}/link.json`)).isSymlink);
        equal(await Deno.readTextFile(`${dir}/results/real.json`), "new\n");
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a device or fifo is written into, never replaced by a file", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "lockstep-output-" });
  try {
    await t.step("a fifo: its reader gets the text, and it stays a fifo", async () => {
      await run("mkfifo", `${dir}/fifo`);
      const reader = Deno.readTextFile(`${dir}/fifo`);
      await writeOutput(`${dir}/fifo`, "--report", "through the fifo\n");
      equal(await reader, "through the fifo\n");
      ok((await Deno.lstat(`${dir}/fifo`)).isFifo);
      deepEqual(await listing(dir), ["fifo"]);
    });
    await t.step("a fifo whose reader comes later: the output waits for it", async () => {
      await run("mkfifo", `${dir}/late`);
      const writing = writeOutput(`${dir}/late`, "--report", "late\n");
      await new Promise((r) => setTimeout(r, 300));
      const reader = new Deno.Command("cat", { args: [`${dir}/late`], stdout: "piped" }).output();
      await writing;
      equal(new TextDecoder().decode((await reader).stdout), "late\n");
    });
    await t.step("a fifo nobody reads: an abort ends the wait, and says so", async () => {
      await run("mkfifo", `${dir}/unread`);
      const started = performance.now();
      await rejects(
        writeOutput(`${dir}/unread`, "--report", "x", { signal: AbortSignal.abort() }),
        /^OutputError: Cannot write --report .*unread: the run was interrupted while the fifo had no reader$/,
      );
      ok(performance.now() - started < 5000);
    });
    await t.step({
      name: "a character device (a null device of our own): it stays one",
      ignore: !root,
      fn: async () => {
        await run("mknod", `${dir}/null`, "c", "1", "3");
        await checkOutput(`${dir}/null`, "-o");
        await writeOutput(`${dir}/null`, "-o", "gone\n");
        ok((await Deno.lstat(`${dir}/null`)).isCharDevice);
      },
    });
    await t.step({
      name: "a block device or a socket: refused",
      ignore: !root,
      fn: async () => {
        await run("mknod", `${dir}/disk`, "b", "7", "200");
        await rejects(writeOutput(`${dir}/disk`, "-o", "x"), /: it is a block device$/);
        const socket = Deno.listen({ transport: "unix", path: `${dir}/socket` });
        await rejects(writeOutput(`${dir}/socket`, "-o", "x"), /: it is a socket$/);
        socket.close();
      },
    });
    await t.step("a full device: one sentence naming the output, with a hint", async () => {
      // Our own full device as root: if this broke, /dev/full would be replaced.
      const full = root ? `${dir}/full` : "/dev/full";
      if (root) await run("mknod", full, "c", "1", "7");
      const e = await writeOutput(full, "--report", "x").catch((e) => e);
      ok(e instanceof OutputError);
      match(e.message, /^Cannot write --report \S*full: No space left on device/);
      match(e.hint, /free some space/);
      equal(e.what, "--report");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a link or output planted by another user in a shared directory is refused",
  ignore: !root,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "lockstep-output-" });
    try {
      const shared = await sharedDir(dir);
      const victim = `${dir}/victim`;
      await Deno.writeTextFile(victim, "precious\n");
      await t.step("a link to a file outside: refused, the file untouched", async () => {
        await Deno.symlink(victim, `${shared}/report.json`);
        await run("chown", "-h", "nobody", `${shared}/report.json`);
        await rejects(checkOutput(`${shared}/report.json`, "--report"), /belongs to user \d+/);
        await rejects(
          writeOutput(`${shared}/report.json`, "--report", "x"),
          /Cannot write --report .*report\.json: .*is a symbolic link that belongs to user \d+, in .*shared, a directory others can write to/,
        );
        equal(await Deno.readTextFile(victim), "precious\n");
        ok((await Deno.lstat(`${shared}/report.json`)).isSymlink);
      });
      await t.step("a link to a directory on the way: refused", async () => {
        await Deno.mkdir(`${dir}/elsewhere`);
        await Deno.symlink(`${dir}/elsewhere`, `${shared}/pages`);
        await run("chown", "-h", "nobody", `${shared}/pages`);
        await rejects(writeOutput(`${shared}/pages/a.html`, "--html", "x"), /symbolic link/);
        await rejects(openOutputDir(`${shared}/pages`, "--html-dir"), /symbolic link/);
        deepEqual(await listing(`${dir}/elsewhere`), []);
      });
      await t.step(
        "a fifo of another user's: refused (it would hand them the output)",
        async () => {
          await run("mkfifo", `${shared}/fifo`);
          await run("chown", "nobody", `${shared}/fifo`);
          await rejects(writeOutput(`${shared}/fifo`, "--report", "x"), /belongs to user \d+/);
        },
      );
      await t.step("this user's own link there is followed", async () => {
        await Deno.symlink(victim, `${shared}/mine.json`);
        await writeOutput(`${shared}/mine.json`, "--report", "mine\n");
        equal(await Deno.readTextFile(victim), "mine\n");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a directory for outputs is made and probed under no fixed name", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "lockstep-output-" });
  try {
    await t.step(
      "missing parents are made; the real path is given back; nothing is left",
      async () => {
        const real = await openOutputDir(`${dir}/a/b/pages`, "--html-dir");
        equal(real, await Deno.realPath(`${dir}/a/b/pages`));
        deepEqual(await listing(real), []);
      },
    );
    await t.step("a link at the old probe's name is left alone", async () => {
      await Deno.writeTextFile(`${dir}/victim`, "precious\n");
      await Deno.symlink(`${dir}/victim`, `${dir}/a/b/pages/.qemu-lockstep-probe`);
      await openOutputDir(`${dir}/a/b/pages`, "--html-dir");
      equal(await Deno.readTextFile(`${dir}/victim`), "precious\n");
      deepEqual(await listing(`${dir}/a/b/pages`), [".qemu-lockstep-probe"]);
    });
    await t.step("a file in its place: refused", async () => {
      await rejects(openOutputDir(`${dir}/victim`, "--html-dir"), /it is not a directory/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// docs/how-it-works.md's "Map of the code" is where a reader finds the file
// for a change, so it must name every file of the library, the CLI and the
// plugin, and nothing that is gone. Both are read from the tree on disk.
import assert from "node:assert/strict";
import { join, relative } from "../../deps/path.ts";

const root = new URL("../../", import.meta.url).pathname;

/** The folders whose every file the map must name. */
const MAPPED = ["harness", "cli", "plugin-src"];

/** A backticked token that names a path of this repository. */
const REPO_PATH = /^(?:(?:harness|cli|plugin-src|deps|bench|scripts|test|docs)\/[\w./-]*|mod\.ts)$/;

/** The repository paths the "Map of the code" section of `markdown` names in backticks. */
export function mapPaths(markdown: string): Set<string> {
  const start = markdown.search(/^## Map of the code$/m);
  if (start < 0) throw new SyntaxError("Cannot find the map: no '## Map of the code' heading");
  const rest = markdown.slice(start + 1);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  const paths = new Set<string>();
  for (const m of section.matchAll(/`([^`\n]+)`/g)) {
    if (REPO_PATH.test(m[1]!)) paths.add(m[1]!);
  }
  return paths;
}

async function* files(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    if (e.isDirectory) yield* files(p);
    else yield relative(root, p);
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(join(root, path)).then(() => true, () => false);
}

Deno.test("mapPaths reads the backticked paths of the map section only", () => {
  const md = [
    "# How it works",
    "See `harness/run/session.ts` (before the map).",
    "## Map of the code",
    "| to change… | open |",
    "| a default | `harness/core/defaults.ts` (`DEFAULTS`), `cli/args.ts` |",
    "### `plugin-src/`: the plugin",
    "| the hot path | `plugin-src/exec.c`; run `deno task bench`; `mod.ts` |",
    "## After the map",
    "`cli/main.ts`",
  ].join("\n");
  assert.deepEqual(
    [...mapPaths(md)].sort(),
    ["cli/args.ts", "harness/core/defaults.ts", "mod.ts", "plugin-src/", "plugin-src/exec.c"],
  );
  assert.throws(() => mapPaths("# No map here\n"), SyntaxError);
});

Deno.test("the code map in how-it-works.md names every file and only files that exist", async (t) => {
  const named = mapPaths(await Deno.readTextFile(join(root, "docs/how-it-works.md")));

  await t.step("every file of harness/, cli/, plugin-src/ and mod.ts is named", async () => {
    const missing: string[] = [];
    for (const dir of MAPPED) {
      for await (const f of files(join(root, dir))) if (!named.has(f)) missing.push(f);
    }
    if (!named.has("mod.ts")) missing.push("mod.ts");
    assert.deepEqual(
      missing.sort(),
      [],
      `docs/how-it-works.md's "Map of the code" does not name (add a row for each): ${
        missing.join(", ")
      }`,
    );
  });

  await t.step("every path the map names exists", async () => {
    const gone: string[] = [];
    for (const p of named) if (!(await exists(p))) gone.push(p);
    assert.deepEqual(
      gone.sort(),
      [],
      `docs/how-it-works.md's "Map of the code" names what does not exist: ${gone.join(", ")}`,
    );
  });
});

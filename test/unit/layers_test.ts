// The library's folders are layers: a file imports from its own folder or
// from a folder below it, never above; the CLI uses the library only
// through mod.ts. Both rules are read from the import statements.
import assert from "node:assert/strict";
import { dirname, join, relative } from "../../deps/path.ts";

const root = new URL("../../", import.meta.url).pathname;

/** harness/ folders, lowest first; folders on one row are beside each other. */
export const LAYERS: readonly (readonly string[])[] = [
  ["core"],
  ["verdict", "trace"],
  ["guest"],
  ["qemu"],
  ["plan"],
  ["run"],
  ["golden", "debug"],
  ["suite"],
];

function layerOf(folder: string): number {
  const i = LAYERS.findIndex((row) => row.includes(folder));
  if (i < 0) throw new RangeError(`harness/${folder} is in no layer: add it to LAYERS`);
  return i;
}

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) yield* tsFiles(p);
    else if (e.name.endsWith(".ts")) yield p;
  }
}

/** The relative module specifiers a file imports or re-exports. */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  const re = /(?:^|\n)\s*(?:import|export)[^;"']*?from\s*["'](\.[^"']+)["']/g;
  for (const m of text.matchAll(re)) out.push(m[1]!);
  return out;
}

Deno.test("importsOf reads imports and re-exports, not strings in code", () => {
  const src =
    'import { a } from "./x.ts";\nexport { b } from "../y/z.ts";\nconst s = "./not.ts";\n';
  assert.deepEqual(importsOf(src), ["./x.ts", "../y/z.ts"]);
});

Deno.test("every import in harness/ points to its own folder or one below", async () => {
  const upward: string[] = [];
  for await (const file of tsFiles(join(root, "harness"))) {
    const from = relative(join(root, "harness"), file).split("/")[0]!;
    assert.ok(!from.endsWith(".ts"), `${file}: a file directly in harness/ belongs in a folder`);
    for (const spec of importsOf(await Deno.readTextFile(file))) {
      const target = relative(root, join(dirname(file), spec));
      assert.ok(!target.startsWith("cli/"), `${file} imports the CLI (${target})`);
      if (!target.startsWith("harness/")) continue;
      const to = target.split("/")[1]!;
      if (layerOf(to) > layerOf(from)) upward.push(`${relative(root, file)} -> ${target}`);
    }
  }
  assert.deepEqual(upward, [], "imports that point up a layer");
});

Deno.test("cli/ uses the library only through mod.ts", async () => {
  const reaching: string[] = [];
  for await (const file of tsFiles(join(root, "cli"))) {
    for (const spec of importsOf(await Deno.readTextFile(file))) {
      const target = relative(root, join(dirname(file), spec));
      if (target.startsWith("harness/")) reaching.push(`${relative(root, file)} -> ${target}`);
    }
  }
  assert.deepEqual(reaching, []);
});

// Suite files and shards, without running anything.
import { readSuite } from "../../cli/suite_file.ts";
import { SetupError, shardOf } from "../../mod.ts";
import { deepEqual, ok, rejects, throws } from "../../deps/assert.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

const x86 = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  arch: "x86_64",
  image: "guests/build/x86_64-hello",
  ...extra,
});

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "lockstep-test-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

Deno.test("shards together cover every case exactly once", () => {
  const names = ["c1", "c2", "c3", "c4", "c5"];
  deepEqual(shardOf(names, 1, 2), ["c1", "c3", "c5"]);
  deepEqual(shardOf(names, 2, 2), ["c2", "c4"]);
  deepEqual([1, 2, 3].flatMap((i) => shardOf(names, i, 3)).sort(), names);
  throws(() => shardOf(names, 3, 2), RangeError);
  throws(() => shardOf(names, 1, 0), RangeError);
});

Deno.test("a bad suite file is refused naming the case and the field", async (t) => {
  await using dir = await tempDir();
  const cases: [string, unknown, RegExp][] = [
    ["not JSON", "{", /is not JSON/],
    ["no cases", { tests: [] }, /"cases" array/],
    ["missing arch", { cases: [{ name: "a", image: "x" }] }, /case 1 \("a"\): field "arch"/],
    [
      "bad expect",
      { cases: [x86("b", { expect: "maybe" })] },
      /case 1 \("b"\): field "expect" must be/,
    ],
    [
      "unknown field",
      { cases: [x86("c"), x86("d", { arg: [] })] },
      /case 2 \("d"\): unknown field "arg"/,
    ],
    [
      "bad args",
      { cases: [x86("e", { args: ["--max-insns", "x"] })] },
      /case 1 \("e"\): field "args": Invalid --max-insns/,
    ],
    [
      "against not a path",
      { cases: [x86("g", { against: 3 })] },
      /case 1 \("g"\): field "against" must be the path of a trace/,
    ],
    [
      "--against in args",
      { cases: [x86("h", { args: ["--against", "t.trace"] })] },
      /case 1 \("h"\): field "args" has --against; use the field "against"/,
    ],
    [
      "note not a string",
      { cases: [x86("n", { note: ["why"] })] },
      /case 1 \("n"\): field "note" must be a string/,
    ],
    [
      "duplicate name",
      { cases: [x86("f"), x86("f")] },
      /case 2 \("f"\): the name "f" is used twice/,
    ],
  ];
  for (const [name, content, re] of cases) {
    await t.step(name, async () => {
      const path = `${dir.path}/bad.json`;
      await Deno.writeTextFile(
        path,
        typeof content === "string" ? content : JSON.stringify(content),
      );
      await rejects(readSuite(path), (e) => e instanceof SetupError && re.test(e.message));
    });
  }
});

Deno.test("a case's trace is found relative to the suite file", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/suite.json`;
  await Deno.writeTextFile(
    path,
    JSON.stringify({ cases: [x86("t", { against: "traces/x.trace" })] }),
  );
  const [c] = await readSuite(path);
  deepEqual(c?.against, `${dir.path}/traces/x.trace`);
});

Deno.test("suite paths are relative to the suite file", async () => {
  const cases = await readSuite(`${ROOT}test/suite.json`);
  ok(cases.length >= 10);
  for (const c of cases) {
    ok(c.options.image.startsWith(`${ROOT}test/guests/build/`), c.options.image);
    if (c.options.imageB) {
      ok(c.options.imageB.startsWith(`${ROOT}test/guests/build/`), c.options.imageB);
    }
  }
});

import assert from "node:assert/strict";
import { type ByteReader, readLines } from "../../harness/core/lines.ts";

/** A reader that hands out `chunks` one read at a time. */
function chunked(...chunks: (string | Uint8Array)[]): ByteReader {
  const enc = new TextEncoder();
  const queue = chunks.map((c) => (typeof c === "string" ? enc.encode(c) : c));
  return {
    read(p: Uint8Array): Promise<number | null> {
      const next = queue.shift();
      if (next === undefined) return Promise.resolve(null);
      p.set(next);
      return Promise.resolve(next.length);
    },
  };
}

async function all(r: ByteReader, max?: number): Promise<string[]> {
  const out: string[] = [];
  for await (const line of readLines(r, max)) out.push(line);
  return out;
}

Deno.test("readLines", async (t) => {
  await t.step("joins a line split over reads and splits several in one read", async () => {
    assert.deepEqual(await all(chunked('{"t":"he', 'llo"}\n{"a":1}\n{"b"', ":2}\n")), [
      '{"t":"hello"}',
      '{"a":1}',
      '{"b":2}',
    ]);
  });
  await t.step("keeps empty lines and drops an unterminated last one", async () => {
    assert.deepEqual(await all(chunked("a\n\nb\nhalf")), ["a", "", "b"]);
  });
  await t.step("decodes a character whose bytes arrive in two reads", async () => {
    const bytes = new TextEncoder().encode("µs\n");
    assert.deepEqual(await all(chunked(bytes.subarray(0, 1), bytes.subarray(1))), ["µs"]);
  });
  await t.step("refuses a line longer than the limit with a RangeError", async () => {
    await assert.rejects(all(chunked("x".repeat(10), "y".repeat(10)), 16), RangeError);
    assert.deepEqual(await all(chunked("x".repeat(15) + "\n"), 16), ["x".repeat(15)]);
  });
});

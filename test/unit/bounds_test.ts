import assert from "node:assert/strict";
import { BOUNDS, checkBound, parseBounded } from "../../harness/core/bounds.ts";
import { LIMITS } from "../../harness/core/defaults.ts";
import { parseCommandLine, parseRecordLine, UsageError } from "../../cli/args.ts";
import { parseSuiteArgs } from "../../cli/suite.ts";
import { readSuite } from "../../cli/suite_file.ts";
import { SetupError } from "../../harness/core/errors.ts";
import { checkHeader } from "../../harness/trace/checks.ts";
import { TraceError } from "../../harness/trace/format.ts";
import { readTrace } from "../../harness/trace/reader.ts";

Deno.test("checkBound and parseBounded: finite, whole where asked, within both ends", async (t) => {
  await t.step("values at both ends pass, past them fail", () => {
    assert.equal(checkBound("x", 0, BOUNDS.window), 0);
    assert.equal(checkBound("x", LIMITS.window, BOUNDS.window), LIMITS.window);
    assert.throws(() => checkBound("x", LIMITS.window + 1, BOUNDS.window), RangeError);
    assert.throws(() => checkBound("x", -1, BOUNDS.window), RangeError);
  });
  await t.step("not a finite number, or not whole where it must be: refused", () => {
    for (const v of [Infinity, -Infinity, NaN, "5", null, undefined, 1.5, 2 ** 53]) {
      assert.throws(() => checkBound("x", v, BOUNDS.maxInsns), RangeError, String(v));
    }
  });
  await t.step("a timeout past setTimeout's range (1e400, 3,000,000 s) is refused", () => {
    assert.throws(() => checkBound("timeout", 1e400, BOUNDS.timeoutSeconds), RangeError);
    assert.throws(() => checkBound("timeout", 3_000_000, BOUNDS.timeoutSeconds), RangeError);
    assert.equal(checkBound("timeout", 0.5, BOUNDS.timeoutSeconds), 0.5);
  });
  await t.step("text: digits only, no sign, exponent or Infinity", () => {
    assert.equal(parseBounded("--t", "2.5", BOUNDS.timeoutSeconds), 2.5);
    for (const text of ["1e3", "+5", "-5", "Infinity", "0x10", " 5", ""]) {
      assert.throws(() => parseBounded("--t", text, BOUNDS.timeoutSeconds), RangeError, text);
    }
    assert.throws(() => parseBounded("--n", "2.5", BOUNDS.interval), /whole number/);
  });
});

Deno.test("one bound everywhere: the CLI, a suite file, a library call and a trace agree", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await t.step("CLI --timeout 3000000 and --chunk past the limit", () => {
      assert.throws(
        () => parseCommandLine(["--timeout", "3000000", "x86_64", "img"]),
        (e) => e instanceof UsageError && /^Invalid --timeout: 3000000 \(expected/.test(e.message),
      );
      assert.throws(
        () => parseRecordLine(["--chunk", String(2 ** 52), "x86_64", "img", "-o", "t"]),
        (e) => e instanceof UsageError && /^Invalid --chunk: /.test(e.message),
      );
      assert.throws(
        () => parseSuiteArgs(["--jobs", "100000", "s.json"]),
        (e) => e instanceof UsageError,
      );
    });
    for (const timeout of [3_000_000, 1e400]) {
      await t.step(`a suite case's "timeout": ${timeout}`, async () => {
        const file = `${dir}/suite.json`;
        // 1e400 is what JSON.parse makes Infinity of.
        await Deno.writeTextFile(
          file,
          `{"cases": [{"name": "c", "arch": "x86_64", "image": "img", "timeout": ${
            timeout === 1e400 ? "1e400" : timeout
          }}]}`,
        );
        await assert.rejects(
          () => readSuite(file),
          (e) => e instanceof SetupError && /field "timeout": Invalid timeout/.test(e.message),
        );
      });
    }
    await t.step("a trace header's chunk of 2^52 instructions is damage", async () => {
      const real = await readTrace(new URL("./testdata/hello-7.2.trace", import.meta.url).pathname);
      const header = { ...real.header, chunk: 2 ** 52 } as unknown as Record<string, unknown>;
      assert.throws(() => checkHeader(header, "Trace t"), TraceError);
      assert.throws(
        () => checkHeader({ ...header, chunk: real.header.chunk, interval: 2 ** 40 }, "Trace t"),
        TraceError,
      );
      assert.doesNotThrow(() =>
        checkHeader({ ...header, chunk: real.header.chunk } as Record<string, unknown>, "Trace t")
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

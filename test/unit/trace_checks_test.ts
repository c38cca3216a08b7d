// A trace's header and summary checked field by field: the real traces of
// testdata/ pass, and each damaged or foreign field is a TraceError that
// names it (never a wrong value taken on, nor an exception of another kind).
import { checkHeader, checkSummary, parseJson } from "../../harness/trace/checks.ts";
import { crc32, PREFIX_SIZE, TraceError } from "../../harness/trace/format.ts";
import { openTrace, traceBytes } from "../../harness/trace/reader.ts";
import { deepEqual, equal, ok, throws } from "../../deps/assert.ts";

const TESTDATA = new URL("./testdata/", import.meta.url).pathname;
const TRACES = [
  "hello-7.2.trace",
  "hello-variant-7.2.trace",
  "sparc-bios-7.2.trace",
  "value-10.2.trace",
];

type Json = Record<string, unknown>;

/** The header and summary of a real trace, as the JSON they were stored as. */
async function parts(name: string): Promise<{ header: Json; summary: Json }> {
  const t = await openTrace(traceBytes(await Deno.readFile(`${TESTDATA}${name}`)), name);
  return {
    header: JSON.parse(JSON.stringify(t.header)),
    summary: JSON.parse(JSON.stringify(t.summary)),
  };
}

/** A copy of `o` with the field at `path` set to `value` (undefined: removed). */
function withField(o: Json, path: string, value: unknown): Json {
  const copy: Json = structuredClone(o);
  const keys = path.split(".");
  let at = copy;
  for (const k of keys.slice(0, -1)) at = at[k] as Json;
  if (value === undefined) delete at[keys.at(-1)!];
  else at[keys.at(-1)!] = value;
  return copy;
}

/** `f` throws a TraceError whose message is `message`. */
function refused(f: () => unknown, message: string): void {
  throws(f, (e: unknown) => {
    ok(e instanceof TraceError, `expected a TraceError, got ${e}`);
    equal(e.message, message);
    return true;
  });
}

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("a trace's JSON part is an object, or a TraceError saying which part is damaged", async (t) => {
  await t.step("an object is parsed", () => {
    deepEqual(parseJson(enc(`{"format":1,"tool":"x"}`), "h"), { format: 1, tool: "x" });
  });
  for (
    const [what, bytes] of [
      ["not JSON", enc("{format: 1}")],
      ["cut short", enc(`{"format":1`)],
      ["an array", enc("[1,2]")],
      ["null", enc("null")],
      ["a number", enc("42")],
      ["a string", enc(`"header"`)],
      ["empty", new Uint8Array(0)],
      ["not UTF-8", new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])],
    ] as const
  ) {
    await t.step(what, () => {
      refused(
        () => parseJson(bytes, "Trace t's header"),
        "Trace t's header is damaged: it is not a JSON object",
      );
    });
  }
});

Deno.test("every real trace's header and summary pass the checks unchanged", async () => {
  for (const name of TRACES) {
    const { header, summary } = await parts(name);
    deepEqual(checkHeader(structuredClone(header), name), header, name);
    deepEqual(checkSummary(structuredClone(summary), name), summary, name);
  }
});

Deno.test("a header field that is missing or of the wrong kind is named", async (t) => {
  const { header } = await parts("value-10.2.trace");
  const where = `Trace t's header`;
  const bad: [string, unknown, string][] = [
    ["format", 0, `${where} has a bad "format"`],
    ["format", "1", `${where} has a bad "format"`],
    ["tool", undefined, `${where} has a bad "tool"`],
    ["arch", 64, `${where} has a bad "arch"`],
    ["mode", "kernel", `${where} has a bad "mode"`],
    ["argv", ["qemu", 1], `${where} has a bad "argv"`],
    ["argv", "qemu", `${where} has a bad "argv"`],
    ["compared", null, `${where} has a bad "compared"`],
    ["outputs", "yes", `${where} has a bad "outputs"`],
    ["registers", [null], `${where} has a bad "registers"`],
    ["interval", 0, `${where} has a bad "interval"`],
    ["interval", 1.5, `${where} has a bad "interval"`],
    ["chunk", -16, `${where} has a bad "chunk"`],
    ["chunk", 2 ** 53, `${where} has a bad "chunk"`],
    ["detail", -1, `${where} has a bad "detail"`],
    ["host", undefined, `${where} (host) is not an object`],
    ["host", ["vm"], `${where} (host) is not an object`],
    ["host.hostname", 1, `${where} (host) has a bad "hostname"`],
    ["qemu", "10.2.2", `${where} (qemu) is not an object`],
    ["qemu.version", 10.2, `${where} (qemu) has a bad "version"`],
    ["qemu.pluginApi", 0, `${where} (qemu) has a bad "pluginApi"`],
    [
      "image.sha256",
      "89A0795027372367417602C164334E9ED1399AADBEB386882604498D6EA96031",
      `${where} (image) has a bad "sha256"`,
    ],
    ["image.sha256", "89a07950", `${where} (image) has a bad "sha256"`],
    ["image.bytes", -1, `${where} (image) has a bad "bytes"`],
    ["options", null, `${where} (options) is not an object`],
    ["options.bios", 0, `${where} (options) has a bad "bios"`],
    ["options.extra", [1], `${where} (options) has a bad "extra"`],
    ["options.guestArgs", undefined, `${where} (options) has a bad "guestArgs"`],
    ["options.guestName", null, `${where} (options) has a bad "guestName"`],
    ["options.maxInsns", 0, `${where} (options) has a bad "maxInsns"`],
    ["options.maxInsns", "1000", `${where} (options) has a bad "maxInsns"`],
    ["options.maskRegs", "rax", `${where} (options) has a bad "maskRegs"`],
  ];
  for (const [path, value, message] of bad) {
    await t.step(`${path}: ${JSON.stringify(value) ?? "missing"}`, () => {
      refused(() => checkHeader(withField(header, path, value), "Trace t"), message);
    });
  }

  await t.step("a detail interval that does not divide the checkpoint interval", () => {
    refused(
      () => checkHeader(withField(header, "detail", 3000), "Trace t"),
      `${where} has a detail interval that does not divide the checkpoint interval`,
    );
  });

  await t.step("what may be so: no detail, a recording's --max-insns", () => {
    checkHeader(withField(header, "detail", 0), "Trace t");
    checkHeader(withField(header, "options.maxInsns", 1_000_000), "Trace t");
  });
});

Deno.test("a summary field that is missing or of the wrong kind is named", async (t) => {
  const { summary } = await parts("hello-7.2.trace");
  const where = `Trace t's summary`;
  const bad: [string, unknown, string][] = [
    ["blocks", -1, `${where} has a bad "blocks"`],
    ["jumps", undefined, `${where} has a bad "jumps"`],
    ["seconds", "4.7", `${where} has a bad "seconds"`],
    ["peakRssKb", 1.5, `${where} has a bad "peakRssKb"`],
    ["end", undefined, `${where} (end) is not an object`],
    ["end.kind", "crash", `${where} (end) has a bad "kind"`],
    ["end.insns", -1, `${where} (end) has a bad "insns"`],
    ["end.hash", "003207175962fd77", `${where} (end) has a bad "hash"`],
    ["end.hash", "0x3207175962fd77", `${where} (end) has a bad "hash"`],
    ["end.hash", "0x003207175962FD77", `${where} (end) has a bad "hash"`],
    ["end.tail", null, `${where} (end) has a bad "tail"`],
    ["exit", null, `${where} (exit) is not an object`],
    ["exit.code", 1.5, `${where} (exit) has a bad "code"`],
    ["exit.code", "0", `${where} (exit) has a bad "code"`],
    ["exit.signal", 9, `${where} (exit) has a bad "signal"`],
    ["output", "checksum", `${where} (output) is not an object`],
    ["output.text", undefined, `${where} (output) has a bad "text"`],
    ["output.bytes", -20, `${where} (output) has a bad "bytes"`],
    ["output.sha256", 0, `${where} (output) has a bad "sha256"`],
    ["output.truncated", "no", `${where} (output) has a bad "truncated"`],
  ];
  for (const [path, value, message] of bad) {
    await t.step(`${path}: ${JSON.stringify(value) ?? "missing"}`, () => {
      refused(() => checkSummary(withField(summary, path, value), "Trace t"), message);
    });
  }

  await t.step("what may be so: a limit, a signal, no exit code, a negative one", () => {
    for (
      const [path, value] of [
        ["end.kind", "limit"],
        ["exit.code", null],
        ["exit.code", -1],
        ["exit.signal", "SIGSEGV"],
      ] as const
    ) {
      const s = withField(summary, path, value);
      deepEqual(checkSummary(s, "Trace t"), s, `${path} ${value}`);
    }
  });
});

Deno.test("a real trace file whose header was changed, checksum and all, is refused by the field", async (t) => {
  const real = await Deno.readFile(`${TESTDATA}hello-7.2.trace`);
  /** The file with `from` replaced by `to` (as long) in its header, the header's CRC made to fit. */
  const edited = (from: string, to: string) => {
    const b = real.slice();
    const v = new DataView(b.buffer);
    const len = v.getUint32(12, true);
    const json = b.subarray(PREFIX_SIZE, PREFIX_SIZE + len);
    const at = new TextDecoder().decode(json).indexOf(from);
    ok(at >= 0 && from.length === to.length);
    json.set(enc(to), at);
    v.setUint32(16, crc32(json, crc32(b.subarray(0, 16))), true);
    return openTrace(traceBytes(b), "t.trace");
  };
  const fails = async (p: Promise<unknown>, message: string) => {
    const e = await p.then(() => undefined, (x: unknown) => x);
    ok(e instanceof TraceError, `expected a TraceError, got ${e}`);
    equal(e.message, message);
  };
  await t.step("the edit itself is sound: an equal value opens", async () => {
    equal((await edited(`"mode":"user"`, `"mode":"user"`)).header.mode, "user");
  });
  await t.step(
    "a mode of another kind",
    () =>
      fails(edited(`"mode":"user"`, `"mode":"usex"`), `Trace t.trace's header has a bad "mode"`),
  );
  await t.step(
    "a plugin API of 0",
    () =>
      fails(
        edited(`"pluginApi":1`, `"pluginApi":0`),
        `Trace t.trace's header (qemu) has a bad "pluginApi"`,
      ),
  );
  await t.step(
    "no longer JSON",
    () =>
      fails(
        edited(`"format":2,`, `"format":2;`),
        "Trace t.trace's header is damaged: it is not a JSON object",
      ),
  );
});

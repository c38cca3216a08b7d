// The verdict's JSON Schema (docs/verdict.schema.json) and the small
// validator the tests check verdicts with (test/_json_schema.ts).
import { type Schema, validate } from "../_json_schema.ts";
import { renderJson } from "../../cli/render.ts";
import type { Verdict } from "../../mod.ts";
import { base, crashed, demo, diverged, memDiverged } from "./_verdicts.ts";
import { deepEqual, equal, match, ok, throws } from "../../deps/assert.ts";

const schema: Schema = JSON.parse(
  await Deno.readTextFile(new URL("../../docs/verdict.schema.json", import.meta.url)),
);
const asJson = (v: Verdict) => JSON.parse(renderJson(v));

Deno.test("the validator rejects documents that break each keyword it supports", () => {
  const s: Schema = {
    type: "object",
    required: ["n", "list"],
    properties: {
      n: { type: "integer", minimum: 1 },
      hex: { type: "string", pattern: "^0x[0-9a-f]+$" },
      kind: { enum: ["pc", "mem"] },
      one: { const: 1 },
      list: { type: "array", minItems: 1, maxItems: 2, items: { $ref: "#/$defs/item" } },
      either: { anyOf: [{ type: "null" }, { type: "string" }] },
      closed: { type: "object", properties: { a: {} }, additionalProperties: false },
    },
    $defs: { item: { type: ["number", "null"] } },
  };
  deepEqual(validate(s, { n: 1, list: [1, null] }), []);
  const bad: [unknown, RegExp][] = [
    [[], /^\/: expected object, got array/],
    [{ list: [1] }, /^\/: missing n/],
    [{ n: 1.5, list: [1] }, /^\/n: expected integer, got number/],
    [{ n: 0, list: [1] }, /^\/n: 0 is less than 1/],
    [{ n: 1, list: [1], hex: "0xZZ" }, /^\/hex: "0xZZ" does not match/],
    [{ n: 1, list: [1], kind: "regs" }, /^\/kind: "regs" is not one of/],
    [{ n: 1, list: [1], one: 2 }, /^\/one: expected 1/],
    [{ n: 1, list: [] }, /^\/list: fewer than 1 items/],
    [{ n: 1, list: [1, 2, 3] }, /^\/list: more than 2 items/],
    [{ n: 1, list: ["x"] }, /^\/list\/0: expected number or null, got string/],
    [{ n: 1, list: [1], either: 3 }, /^\/either: matches none of anyOf/],
    [{ n: 1, list: [1], closed: { b: 1 } }, /^\/closed\/b: not allowed/],
  ];
  for (const [doc, why] of bad) {
    const errors = validate(s, doc);
    equal(errors.length, 1, `${JSON.stringify(doc)}: ${errors.join("; ")}`);
    match(errors[0]!, why);
  }
  // Properties the schema does not name pass, unless strict.
  deepEqual(validate(s, { n: 1, list: [1], extra: true }), []);
  deepEqual(validate(s, { n: 1, list: [1], extra: true }, { strict: true }), [
    "/extra: not in the schema",
  ]);
  // A keyword it does not know is an error in the schema, not a pass.
  throws(() => validate({ type: "string", format: "email" }, "x"), /not supported.*format/);
  throws(() => validate({ $ref: "#/$defs/none" }, 1), /Unresolved \$ref/);
});

Deno.test("rendered verdicts of every status validate against the schema, strictly", () => {
  for (const v of [base, diverged, crashed, demo, memDiverged]) {
    deepEqual(validate(schema, asJson(v), { strict: true }), [], v.message);
  }
  // An error before the run: no timeline.
  const { timeline: _, ...early } = crashed;
  const error: Verdict = { ...early, status: "error", stoppedBy: null };
  deepEqual(validate(schema, asJson(error), { strict: true }), []);
});

Deno.test("the schema rejects verdicts that are not version 1's shape", () => {
  const d = asJson(demo);
  const broken: [string, (v: ReturnType<typeof asJson>) => void][] = [
    ["version 2", (v) => v.version = 2],
    ["a status of its own", (v) => v.status = "maybe"],
    ["no sides", (v) => delete v.sides],
    ["a pc that is not hex", (v) => v.divergence.a.pc = 4195484],
    ["bytes with an odd digit", (v) => v.divergence.a.bytes = "e84"],
    ["a timeline sample of three", (v) => v.timeline.a.push([1, 2, 3])],
    ["disas that is not text", (v) => v.divergence.history.a[0].insns[0].disas = null],
    ["a negative count", (v) => v.sides.b.insns = -1],
  ];
  for (const [name, breakIt] of broken) {
    const v = structuredClone(d);
    breakIt(v);
    ok(validate(schema, v).length > 0, `${name} passed`);
  }
});

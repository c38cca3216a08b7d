// Real verdicts, from real runs of every status and every kind of
// divergence, against the JSON Schema in docs/ (strictly: every field they
// carry is in the schema).
import { QEMU_10_0_DIR, QEMU_10_2_DIR } from "../../cli/setup_qemus.ts";
import { type Schema, validate } from "../_json_schema.ts";
import { GUESTS, ROOT, runCli, tempDir } from "./_cli.ts";
import { deepEqual, equal } from "../../deps/assert.ts";

const g = (name: string) => GUESTS + name;
const schema: Schema = JSON.parse(await Deno.readTextFile(`${ROOT}docs/verdict.schema.json`));
const x86Value = ["x86_64", g("x86_64-value"), "--image-b", g("x86_64-value-variant")];

const runs: [string, string[], string, string | null][] = [
  ["match", ["x86_64", g("x86_64-hello")], "match", null],
  [
    "diverged, pc",
    ["x86_64", g("x86_64-hello"), "--image-b", g("x86_64-hello-variant")],
    "diverged",
    "pc",
  ],
  ["diverged, mem", ["--compare", "mem", ...x86Value], "diverged", "mem"],
  ["diverged, syscall", ["--compare", "syscalls", ...x86Value], "diverged", "syscall"],
  [
    "diverged, regs (narrowed)",
    [
      "--qemu",
      `${QEMU_10_0_DIR}qemu-system-aarch64`,
      "--regs-every",
      "1",
      "aarch64",
      g("aarch64-value.elf"),
      "--image-b",
      g("aarch64-value-variant.elf"),
    ],
    "diverged",
    "regs",
  ],
  [
    "inconclusive (timeout)",
    ["--timeout", "1.5", "x86_64", g("x86_64-loop"), "--", "4000000000"],
    "inconclusive",
    null,
  ],
  [
    "error (QEMU refuses an option)",
    ["--extra=-bogus", "x86_64", g("x86_64-hello")],
    "error",
    null,
  ],
];

Deno.test("real verdicts of every status and divergence kind validate against docs/verdict.schema.json", async (t) => {
  for (const [name, args, status, kind] of runs) {
    await t.step(name, async () => {
      const r = await runCli(["--json", ...args]);
      equal(r.json?.status, status, r.stderr);
      equal(r.json.divergence?.kind ?? null, kind);
      deepEqual(validate(schema, r.json, { strict: true }), []);
    });
  }
});

Deno.test("verdicts against a trace validate too: a match, a jump, a register window with side b's steps", async (t) => {
  await using dir = await tempDir();
  const qemu = ["--qemu", `${QEMU_10_2_DIR}qemu-x86_64`];
  const hello = `${dir.path}/hello.trace`;
  const value = `${dir.path}/value.trace`;
  for (const [out, guest] of [[hello, "x86_64-hello"], [value, "x86_64-value"]]) {
    const r = await runCli(["record", ...qemu, "-o", out!, "x86_64", g(guest!)]);
    equal(r.code, 0, r.stderr);
  }
  const cases: [string, string[], string, string | null][] = [
    ["match", ["x86_64", g("x86_64-hello"), "--against", hello], "match", null],
    [
      "a jump",
      ["x86_64", g("x86_64-hello"), "--image-b", g("x86_64-hello-variant"), "--against", hello],
      "diverged",
      "pc",
    ],
    ["a register window", [...x86Value, "--against", value], "diverged", "regs"],
  ];
  for (const [name, args, status, kind] of cases) {
    await t.step(name, async () => {
      const r = await runCli(["--json", ...qemu, ...args]);
      equal(r.json?.status, status, r.stderr);
      equal(r.json.divergence?.kind ?? null, kind);
      deepEqual(validate(schema, r.json, { strict: true }), []);
    });
  }
});

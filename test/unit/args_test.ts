import { HELP, parseCommandLine, parseRecordLine, UsageError } from "../../cli/args.ts";
import { parseSuiteArgs } from "../../cli/suite.ts";
import { DEFAULTS } from "../../mod.ts";
import { deepEqual, equal, throws } from "../../deps/assert.ts";

function run(argv: string[]) {
  const cmd = parseCommandLine(argv);
  if (cmd.kind !== "run") throw new Error(`expected a run, got ${cmd.kind}`);
  return cmd;
}

Deno.test("command line", async (t) => {
  await t.step("takes arch and image, with defaults", () => {
    const cmd = run(["sparc", "zImage.elf"]);
    equal(cmd.options.arch, "sparc");
    equal(cmd.options.image, "zImage.elf");
    // Unset options are left to the plan, which applies DEFAULTS.
    equal(cmd.options.history, undefined);
    equal(cmd.options.compare, undefined);
    equal(cmd.options.chain, false);
    equal(cmd.options.mode, undefined);
    deepEqual(cmd.options.guestArgs, []);
    deepEqual(cmd.output, {
      json: false,
      report: undefined,
      html: undefined,
      historyLines: DEFAULTS.historyLines,
      verbose: false,
      color: "auto",
    });
  });

  await t.step("takes --html and --history-lines", () => {
    const cmd = run(["--html", "v.html", "--history-lines", "40", "x86_64", "g"]);
    equal(cmd.output.html, "v.html");
    equal(cmd.output.historyLines, 40);
    throws(() => run(["--history-lines", "0", "x86_64", "g"]), UsageError);
  });

  await t.step("keeps extra QEMU arguments one element each, per side", () => {
    const cmd = run([
      "--extra=-no-reboot",
      "--extra",
      "icount=1",
      "--extra-b=-singlestep",
      "--extra-a=-d",
      "--extra-a=in_asm",
      "x86_64",
      "g",
    ]);
    deepEqual(cmd.options.extra, ["-no-reboot", "icount=1"]);
    deepEqual(cmd.options.extraA, ["-d", "in_asm"]);
    deepEqual(cmd.options.extraB, ["-singlestep"]);
  });

  await t.step("passes guest arguments after --", () => {
    const cmd = run(["x86_64", "prog", "--", "-v", "--json", "x"]);
    deepEqual(cmd.options.guestArgs, ["-v", "--json", "x"]);
    equal(cmd.output.json, false);
  });

  await t.step("parses numbers and modes", () => {
    const cmd = run([
      "--max-insns",
      "1000",
      "--timeout",
      "2.5",
      "--history",
      "0",
      "--user",
      "arm",
      "g",
    ]);
    equal(cmd.options.maxInsns, 1000);
    equal(cmd.timeoutSeconds, 2.5);
    equal(cmd.options.history, 0);
    equal(cmd.options.mode, "user");
  });

  await t.step("answers help and version", () => {
    equal(parseCommandLine(["-h"]).kind, "help");
    equal(parseCommandLine(["x", "--help"]).kind, "help");
    equal(parseCommandLine(["-V"]).kind, "version");
  });

  await t.step("rejects bad command lines with a message naming the problem", () => {
    const cases: [string[], RegExp][] = [
      [[], /Missing <ARCH> and <IMAGE>/],
      [["sparc"], /Missing <IMAGE>/],
      [["sparc", "a", "b"], /Unexpected argument: b/],
      [["--frobnicate", "sparc", "a"], /frobnicate/],
      [["--extra", "-no-reboot", "sparc", "a"], /--extra/],
      [["--max-insns", "ten", "sparc", "a"], /Invalid --max-insns: ten/],
      [["--max-insns", "0", "sparc", "a"], /Invalid --max-insns: 0/],
      [["--timeout", "-1", "sparc", "a"], /timeout/],
      [["--color", "pink", "sparc", "a"], /Invalid --color: pink/],
      [["--user", "--system", "sparc", "a"], /exclude each other/],
    ];
    for (const [argv, re] of cases) {
      throws(() => parseCommandLine(argv), (e) => e instanceof UsageError && re.test(e.message));
    }
  });
});

Deno.test("the help text shows the defaults the plan applies", () => {
  for (
    const [option, value] of [
      ["--history", DEFAULTS.history],
      ["--regs-every", DEFAULTS.regsEvery],
      ["--interval", DEFAULTS.interval],
      ["--window", DEFAULTS.window],
    ] as const
  ) {
    const at = HELP.indexOf(option);
    const next = HELP.indexOf("\n      --", at + 1);
    const text = HELP.slice(at, next);
    equal(text.includes(`[default: ${value}]`), true, `${option}: ${text}`);
  }
});

Deno.test("a negative number is refused for what it is, not as an ambiguous option", async (t) => {
  const cases: [string[], RegExp][] = [
    [
      ["--max-insns", "-5", "x86_64", "img"],
      /^Invalid --max-insns: -5 \(expected a whole number of instructions from 1 to /,
    ],
    [
      ["--timeout", "-0.5", "x86_64", "img"],
      /^Invalid --timeout: -0\.5 \(expected a number of seconds from 0\.001 to 2,147,483\)$/,
    ],
    [
      ["--window", "-1", "x86_64", "img"],
      /^Invalid --window: -1 \(expected a whole number of instructions from 0 to 16,777,216\)$/,
    ],
    [["--history", "-Infinity", "x86_64", "img"], /^Invalid --history: -Infinity/],
  ];
  for (const [argv, re] of cases) {
    await t.step(argv.slice(0, 2).join(" "), () => {
      throws(() => parseCommandLine(argv), (e) => e instanceof UsageError && re.test(e.message));
    });
  }
  await t.step("record --detail -1", () => {
    throws(
      () => parseRecordLine(["--detail", "-1", "x86_64", "img", "-o", "t"]),
      (e) => e instanceof UsageError && /^Invalid --detail: -1 /.test(e.message),
    );
  });
  await t.step("suite --jobs -2", () => {
    throws(
      () => parseSuiteArgs(["--jobs", "-2", "suite.json"]),
      (e) =>
        e instanceof UsageError &&
        /^Invalid --jobs: -2 \(expected a whole number of pairs from 1 to 256\)$/.test(e.message),
    );
  });
  await t.step("a guest argument after -- is left as it is", () => {
    deepEqual(run(["x86_64", "img", "--", "--max-insns", "-5"]).options.guestArgs, [
      "--max-insns",
      "-5",
    ]);
  });
  await t.step("--extra still wants = for a value starting with -", () => {
    throws(() => parseCommandLine(["--extra", "-S", "x86_64", "img"]), UsageError);
  });
});

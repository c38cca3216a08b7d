/**
 * `qemu-lockstep suite FILE`: run the cases of a suite file, print a line
 * per case and a summary table, optionally JUnit XML and JSON; exit 0 when
 * every case met its expectation, 1 otherwise, 2 for a bad suite file.
 */
import { parseArgs } from "../deps/cli.ts";
import { bounded, joinNegativeValues, UsageError } from "./args.ts";
import { renderJson } from "./render.ts";
import { renderJunit } from "./junit.ts";
import { renderHtml } from "./html.ts";
import { readSuite } from "./suite_file.ts";
import { palette } from "../deps/fmt.ts";
import {
  BOUNDS,
  type CaseResult,
  checkOutput,
  openCacheDir,
  openOutputDir,
  OutputError,
  runSuite,
  shardOf,
  writeOutput,
} from "../mod.ts";
import { basename, join } from "../deps/path.ts";
import { err, out, printable, writeOutputs } from "./_output.ts";
import { worldProbes } from "./setup_qemus.ts";

/** Help for the subcommand. */
export const SUITE_HELP = `Usage: qemu-lockstep suite [OPTIONS] <FILE>

Runs the lockstep cases listed in FILE (JSON; see docs/suites.md).

Options:
      --jobs <N>         pairs of QEMUs at once [default: cores / 2, at least 1]
      --shard <I/N>      run only shard I of N (case i goes to shard i mod N + 1)
      --junit <FILE>     write JUnit XML to FILE
      --html-dir <DIR>   write an HTML page for each case that diverged into DIR
      --json             print the results as JSON on stdout
      --color <WHEN>     auto, always or never [default: auto]
      --cache-dir <DIR>  where built plugins are cached
  -h, --help             print help

Exit codes: 0 every case met its expectation, 1 otherwise, 2 bad suite file or options
(or every case met it but an output could not be written).
`;

/** The parsed subcommand line. */
export interface SuiteCommand {
  readonly file: string;
  readonly jobs: number;
  readonly shard: [number, number] | undefined;
  readonly junit: string | undefined;
  readonly htmlDir: string | undefined;
  readonly json: boolean;
  readonly color: "auto" | "always" | "never";
  readonly cacheDir: string | undefined;
}

/** Parses `suite` arguments; "help" for -h. */
export function parseSuiteArgs(argv: readonly string[]): SuiteCommand | "help" {
  const options = {
    jobs: { type: "string" },
    shard: { type: "string" },
    junit: { type: "string" },
    "html-dir": { type: "string" },
    json: { type: "boolean" },
    color: { type: "string" },
    "cache-dir": { type: "string" },
    help: { type: "boolean", short: "h" },
  } as const;
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv, options),
      allowPositionals: true,
      options,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return "help";
  if (parsed.positionals.length !== 1) {
    throw new UsageError(parsed.positionals.length ? "Give one suite file" : "Missing <FILE>");
  }
  const jobs = bounded("jobs", v.jobs, BOUNDS.jobs) ??
    Math.max(1, Math.floor(navigator.hardwareConcurrency / 2));
  let shard: [number, number] | undefined;
  if (v.shard !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(v.shard);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > Number(m[2])) {
      throw new UsageError(`Invalid --shard: ${v.shard} (expected I/N with 1 ≤ I ≤ N)`);
    }
    shard = [Number(m[1]), Number(m[2])];
  }
  const color = v.color ?? "auto";
  if (color !== "auto" && color !== "always" && color !== "never") {
    throw new UsageError(`Invalid --color: ${color}`);
  }
  return {
    file: parsed.positionals[0]!,
    jobs,
    shard,
    junit: v.junit,
    htmlDir: v["html-dir"],
    json: v.json ?? false,
    color,
    cacheDir: v["cache-dir"],
  };
}

function outcome(r: CaseResult): string {
  if (r.error) return "error";
  return r.verdict!.status;
}

/**
 * Makes `dir` (found writable before any case runs, as outputs are) and
 * returns a function giving each case's page a file name of its own
 * there, from its name.
 */
async function pageNamer(dir: string): Promise<(name: string) => string> {
  const real = await openOutputDir(dir, "--html-dir");
  const taken = new Set<string>();
  return (name) => {
    const base = name.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") ||
      "case";
    let file = `${base}.html`;
    for (let i = 2; taken.has(file); i++) file = `${base}-${i}.html`;
    taken.add(file);
    return join(real, file);
  };
}

/** Runs the subcommand; returns the exit code. SetupError and UsageError propagate. */
export async function suiteMain(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const cmd = parseSuiteArgs(argv);
  if (cmd === "help") {
    await out(SUITE_HELP);
    return 0;
  }
  const all = await readSuite(cmd.file);
  const cases = cmd.shard ? shardOf(all, cmd.shard[0], cmd.shard[1]) : all;
  if (cases.length === 0) {
    // A shard past the cases would pass with nothing run.
    throw new UsageError(
      `--shard ${cmd.shard![0]}/${cmd.shard![1]} selects no case: the suite has ${all.length}`,
    );
  }
  const tty = Deno.stderr.isTerminal();
  const c = palette(cmd.color === "always" || (cmd.color === "auto" && tty && !Deno.noColor));
  const running = new Set<string>();
  const reports: Promise<void>[] = [];
  // Found before any case runs: what would otherwise fail every case, or
  // lose its output after it.
  for (const dir of new Set([cmd.cacheDir, ...cases.map((k) => k.cacheDir)])) {
    if (dir !== undefined) await openCacheDir(dir);
  }
  for (const k of cases) {
    if (k.report) await checkOutput(k.report, `the report of case "${printable(k.name)}"`);
  }
  if (cmd.junit) await checkOutput(cmd.junit, "--junit");
  const pages = cmd.htmlDir ? await pageNamer(cmd.htmlDir) : undefined;
  let done = 0;
  const live = () => {
    if (tty) err(`\r\x1b[K  running: ${[...running].join(", ")} (${done}/${cases.length} done)`);
  };
  err(
    `suite ${printable(cmd.file)}: ${cases.length} case(s)` +
      (cmd.shard ? ` (shard ${cmd.shard[0]}/${cmd.shard[1]} of ${all.length})` : "") +
      `, ${cmd.jobs} at once\n`,
  );
  const results = await runSuite(cases, {
    jobs: cmd.jobs,
    signal,
    cacheDir: cmd.cacheDir,
    worldProbes: worldProbes(),
    onStart: (k) => {
      running.add(printable(k.name));
      if (!tty) err(`start ${printable(k.name)}\n`);
      live();
    },
    onEnd: (r) => {
      running.delete(printable(r.name));
      const k = cases.find((k) => k.name === r.name);
      const what = `case "${printable(r.name)}"`;
      if (k?.report && r.verdict) {
        reports.push(
          writeOutput(k.report, `the report of ${what}`, renderJson(r.verdict) + "\n", { signal }),
        );
      }
      if (pages && r.verdict?.status === "diverged") {
        reports.push(
          writeOutput(pages(r.name), `the page of ${what}`, renderHtml(r.verdict), { signal }),
        );
      }
      done++;
      const word = r.passed ? c.green("PASS") : c.red("FAIL");
      err(
        `${tty ? "\r\x1b[K" : ""}${word} ${printable(r.name)} (expected ${r.expect}, got ${
          outcome(r)
        }, ${r.seconds.toFixed(2)} s)${
          r.passed ? "" : `: ${printable(r.error ?? r.verdict?.message ?? "")}`
        }\n`,
      );
      live();
    },
  });
  if (tty) err("\r\x1b[K");
  const names = results.map((r) => printable(r.name));
  const width = Math.max(4, ...names.map((n) => n.length));
  err(`\n${"case".padEnd(width)}  expect    got           seconds\n`);
  results.forEach((r, i) => {
    err(
      `${names[i]!.padEnd(width)}  ${r.expect.padEnd(8)}  ${outcome(r).padEnd(12)}  ${
        r.seconds.toFixed(2).padStart(7)
      }  ${r.passed ? c.green("ok") : c.red("FAILED")}\n`,
    );
  });
  const failed = results.filter((r) => !r.passed).length;
  err(`\n${results.length - failed} met expectation, ${failed} did not\n`);
  if (cmd.json) {
    await out(
      `{"version": 1, "suite": ${JSON.stringify(cmd.file)}, "results": [${
        results.map((r) =>
          JSON.stringify({ ...r, verdict: r.verdict ? JSON.parse(renderJson(r.verdict)) : null })
        ).join(", ")
      }]}\n`,
    );
  }
  // Each case's report and page has been written or refused by now.
  const lost = (await Promise.allSettled(reports)).flatMap((w) => {
    if (w.status === "fulfilled") return [];
    if (w.reason instanceof OutputError) return [w.reason];
    throw w.reason;
  });
  return await writeOutputs(
    cmd.junit
      ? [{ path: cmd.junit, what: "--junit", text: () => renderJunit(basename(cmd.file), results) }]
      : [],
    {
      result: `the results stand: ${results.length - failed} met expectation, ${failed} did not`,
      // Interrupted: cases were cut short or never ran, so no verdict on the suite.
      code: signal.aborted ? 3 : failed === 0 ? 0 : 1,
      stdout: cmd.json ? "the results" : undefined,
      lost,
      signal,
    },
  );
}

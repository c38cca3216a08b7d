/**
 * `deno task bench`: lockstep against one QEMU, on the workloads of
 * bench/workloads.ts, for each QEMU version set-up provides and both chain
 * modes. Each row is measured in one run, alternately: one QEMU with no
 * plugin ("bare", what a user feels), one QEMU with the counting plugin
 * ("count", what a plugin costs anyway), two of those at once ("2×count":
 * what this machine charges for two QEMUs side by side) and the full
 * lockstep, `--pairs` times; medians and their ratios, of the medians and
 * round by round, are printed side by side (or --json).
 */
import { parseArgs } from "../deps/cli.ts";
import { markdownTable, report, runBench } from "./run.ts";
import { type BenchRow, benchWorkload, type RunSample } from "./measure.ts";
import { WORKLOAD_NAMES, workloads, writeInputs } from "./workloads.ts";

const HELP = `Usage: deno task bench [OPTIONS]

Options:
      --quick          shorter runs (the loops 60 M instructions, smaller inputs,
                       kernel and sparc 300 M instructions)
      --pairs <N>      rounds per row (bare, count, 2×count, lockstep), median
                       quoted [default: 3]
      --only <LIST>    run these workloads (comma list): ${WORKLOAD_NAMES.join(", ")}
      --qemu <V>       7.2 (Debian's), 10.2 (set-up's build) or all [default: all]
      --chain-only     only the --chain mode; --nochain-only likewise
      --compare <LIST> what lockstep compares (as the CLI's --compare) [default: all]
      --json           print the rows as JSON
  -h, --help           print help
`;

function table(rows: BenchRow[]): string {
  const head = [
    "workload",
    "QEMU",
    "chain",
    "instructions",
    "bare s",
    "count s",
    "2×count s",
    "lockstep s",
    "× bare",
    "× bare paired",
    "× count",
    "× count paired",
    "× 2×count",
    "RSS count MB",
    "RSS lockstep MB",
    "retried",
  ];
  const body = rows.map((r) => [
    r.workload,
    r.qemu,
    r.chain ? "chain" : "nochain",
    r.insns.toLocaleString("en-US"),
    Number.isNaN(r.bareSeconds) ? "n/a" : r.bareSeconds.toFixed(2),
    r.singleSeconds.toFixed(2),
    r.twoSeconds.toFixed(2),
    r.lockstepSeconds.toFixed(2),
    Number.isNaN(r.ratioBare) ? "n/a" : r.ratioBare.toFixed(2),
    Number.isNaN(r.ratioBarePaired) ? "n/a" : r.ratioBarePaired.toFixed(2),
    r.ratio.toFixed(2),
    r.ratioPaired.toFixed(2),
    r.ratioTwo.toFixed(2),
    (r.singleRssKb / 1024).toFixed(0),
    (r.lockstepRssKb / 1024).toFixed(0),
    String(r.retried.length),
  ]);
  return markdownTable(head, body);
}

async function main(signal: AbortSignal): Promise<number> {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean" },
      pairs: { type: "string" },
      only: { type: "string" },
      qemu: { type: "string" },
      "chain-only": { type: "boolean" },
      "nochain-only": { type: "boolean" },
      compare: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  const pairs = Number(v.pairs ?? 3);
  const chains = v["chain-only"] ? [true] : v["nochain-only"] ? [false] : [false, true];
  const only = v.only?.split(",");
  const unknown = only?.filter((n) => !(WORKLOAD_NAMES as readonly string[]).includes(n));
  if (unknown?.length) {
    console.error(`bench: no workload ${unknown.join(", ")} (known: ${WORKLOAD_NAMES.join(", ")})`);
    return 2;
  }
  const compare = v.compare === undefined ? undefined : v.compare.split(",");
  const rows: BenchRow[] = [];
  const inputs = await Deno.makeTempDir({ prefix: "qemu-lockstep-bench-" });
  try {
    await writeInputs(inputs);
    const chosen = workloads(v.quick ?? false, inputs).filter((w) =>
      (!only || only.includes(w.name)) && (!v.qemu || v.qemu === "all" || w.qemu === v.qemu)
    );
    for (const base of chosen) {
      const w = { ...base, options: { ...base.options, compare } };
      for (const chain of chains) {
        console.error(
          `bench: ${w.name} on QEMU ${w.qemu} (${chain ? "chain" : "nochain"}), ${pairs} rounds`,
        );
        rows.push(await benchWorkload(w, chain, pairs, progress, signal));
      }
    }
  } finally {
    await Deno.remove(inputs, { recursive: true }).catch(() => {});
  }
  report(Boolean(v.json), 3, rows, table(rows));
  for (const r of rows) {
    for (const why of r.retried) console.error(`retried: ${r.workload} ${r.qemu}: ${why}`);
  }
  return 0;
}

/** Each run as it ends, on stderr. */
function progress(kind: string, s: RunSample): void {
  console.error(
    `  ${kind.padEnd(8)} ${s.seconds.toFixed(2)} s  ${s.insns} insns  ${
      (s.rssKb / 1024).toFixed(0)
    } MB`,
  );
}

await runBench("bench", main);

/**
 * `deno task bench`: lockstep against one QEMU, on the bundled workloads,
 * for each QEMU version set-up provides and both chain modes. Each row is
 * measured in one run, alternately: one QEMU with no plugin ("bare", what a
 * user feels), one QEMU with the counting plugin ("count", what a plugin
 * costs anyway), two of those at once ("2×count": what this machine charges
 * for two QEMUs side by side) and the full lockstep, `--pairs` times;
 * medians and their ratios are printed side by side (or --json).
 */
import { parseArgs } from "../deps/cli.ts";
import { markdownTable, QEMUS, report, runBench } from "./run.ts";
import { type BenchRow, benchWorkload, type Workload } from "./measure.ts";

const HELP = `Usage: deno task bench [OPTIONS]

Options:
      --quick          shorter runs (loop 20 M iterations, kernel and sparc
                       300 M instructions)
      --pairs <N>      rounds per row (bare, count, 2×count, lockstep), median
                       quoted [default: 3]
      --only <NAME>    run one workload: loop, kernel, sparc, aarch64-loop
      --qemu <V>       7.2 (Debian's), 10.2 (set-up's build) or all [default: all]
      --chain-only     only the --chain mode; --nochain-only likewise
      --compare <LIST> what lockstep compares (as the CLI's --compare) [default: all]
      --json           print the rows as JSON
  -h, --help           print help
`;

const root = new URL("../", import.meta.url).pathname;
const guests = `${root}test/guests/build/`;

function workloads(quick: boolean): Workload[] {
  const kernelStop = quick ? 300_000_000 : undefined;
  const list: Workload[] = [];
  for (const [version, qemu] of Object.entries(QEMUS)) {
    list.push(
      {
        name: "loop",
        qemu: version,
        options: {
          arch: "x86_64",
          image: `${guests}x86_64-loop`,
          qemu: qemu("qemu-x86_64"),
          guestArgs: [quick ? "20000000" : "1000000000"],
        },
      },
      {
        name: "kernel",
        qemu: version,
        options: {
          arch: "x86_64",
          image: `${guests}vmlinuz`,
          qemu: qemu("qemu-system-x86_64"),
          extra: ["-append", "console=ttyS0 panic=-1"],
          maxInsns: kernelStop,
        },
      },
      {
        name: "sparc",
        qemu: version,
        options: {
          arch: "sparc",
          image: `${guests}sparc-hello.elf`,
          qemu: qemu("qemu-system-sparc"),
          maxInsns: kernelStop,
        },
      },
    );
  }
  return list;
}

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
    "× count",
    "× count paired",
    "× 2×count",
    "RSS count MB",
    "RSS lockstep MB",
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
    r.ratio.toFixed(2),
    r.ratioPaired.toFixed(2),
    r.ratioTwo.toFixed(2),
    (r.singleRssKb / 1024).toFixed(0),
    (r.lockstepRssKb / 1024).toFixed(0),
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
  const rows: BenchRow[] = [];
  const compare = v.compare === undefined ? undefined : v.compare.split(",");
  for (const base of workloads(v.quick ?? false)) {
    if (v.only && base.name !== v.only) continue;
    if (v.qemu && v.qemu !== "all" && base.qemu !== v.qemu) continue;
    const w = { ...base, options: { ...base.options, compare } };
    for (const chain of chains) {
      console.error(
        `bench: ${w.name} on QEMU ${w.qemu} (${chain ? "chain" : "nochain"}), ${pairs} rounds`,
      );
      rows.push(
        await benchWorkload(
          w,
          chain,
          pairs,
          (kind, s) =>
            console.error(
              `  ${kind.padEnd(8)} ${s.seconds.toFixed(2)} s  ${s.insns} insns  ${
                (s.rssKb / 1024).toFixed(0)
              } MB`,
            ),
          signal,
        ),
      );
    }
  }
  report(Boolean(v.json), 2, rows, table(rows));
  return 0;
}

await runBench("bench", main);

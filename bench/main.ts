/**
 * `deno task bench`: lockstep against one QEMU with a counting plugin, on
 * the bundled workloads, in both chain modes. Prints a table (or --json).
 */
import { parseArgs } from "../deps/cli.ts";
import { type BenchRow, benchWorkload, type Workload } from "./measure.ts";
import { QEMU_10_0_DIR } from "../mod.ts";

const HELP = `Usage: deno task bench [OPTIONS]

Options:
      --quick          shorter runs (loop 20 M iterations, kernel 300 M insns)
      --pairs <N>      single/lockstep pairs per row, median quoted [default: 3]
      --only <NAME>    run one workload: loop, kernel, sparc, loop-10x, aarch64-loop
      --chain-only     only the --chain mode; --nochain-only likewise
      --compare <LIST> what lockstep compares (as the CLI's --compare) [default: pc]
      --json           print the rows as JSON
  -h, --help           print help
`;

const root = new URL("../", import.meta.url).pathname;
const guests = `${root}test/guests/build/`;

function workloads(quick: boolean): Workload[] {
  return [
    {
      name: "loop",
      options: {
        arch: "x86_64",
        image: `${guests}x86_64-loop`,
        guestArgs: quick ? ["20000000"] : [],
      },
    },
    {
      name: "kernel",
      options: {
        arch: "x86_64",
        image: `${guests}vmlinuz`,
        extra: ["-append", "console=ttyS0 panic=-1"],
        maxInsns: quick ? 300_000_000 : undefined,
      },
    },
    { name: "sparc", options: { arch: "sparc", image: `${guests}sparc-hello.elf` } },
    // QEMU 10.0 (plugin API 4): registers can be compared. A taken branch
    // every 3 instructions: the most register snapshots a guest can ask for.
    {
      name: "aarch64-loop",
      options: {
        arch: "aarch64",
        image: `${guests}aarch64-loop.elf`,
        qemu: `${QEMU_10_0_DIR}qemu-system-aarch64`,
      },
    },
    // Ten times the loop: peak RSS must not grow with the run.
    ...(quick ? [] : [{
      name: "loop-10x",
      options: { arch: "x86_64", image: `${guests}x86_64-loop`, guestArgs: ["1000000000"] },
    }]),
  ];
}

function table(rows: BenchRow[]): string {
  const head = [
    "workload",
    "chain",
    "blocks",
    "single s",
    "lockstep s",
    "ratio",
    "blocks/s",
    "RSS single MB",
    "RSS lockstep MB",
  ];
  const body = rows.map((r) => [
    r.workload,
    r.chain ? "chain" : "nochain",
    r.blocks.toLocaleString("en-US"),
    r.singleSeconds.toFixed(2),
    r.lockstepSeconds.toFixed(2),
    r.ratio.toFixed(2),
    `${(r.blocksPerSecond / 1e6).toFixed(1)} M`,
    (r.singleRssKb / 1024).toFixed(0),
    (r.lockstepRssKb / 1024).toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    "| " + cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ") + " |";
  return [line(head), "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|", ...body.map(line)]
    .join("\n");
}

async function main(): Promise<number> {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean" },
      pairs: { type: "string" },
      only: { type: "string" },
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
  const compare = (v.compare ?? "pc").split(",");
  for (const base of workloads(v.quick ?? false)) {
    if (v.only && base.name !== v.only) continue;
    const w = { ...base, options: { ...base.options, compare } };
    for (const chain of chains) {
      console.error(`bench: ${w.name} (${chain ? "chain" : "nochain"}), ${pairs} pairs`);
      rows.push(
        await benchWorkload(w, chain, pairs, (kind, s) =>
          console.error(
            `  ${kind.padEnd(8)} ${s.seconds.toFixed(2)} s  ${s.blocks} blocks  ${
              (s.rssKb / 1024).toFixed(0)
            } MB`,
          )),
      );
    }
  }
  if (v.json) {
    console.log(JSON.stringify({ version: 1, cpus: navigator.hardwareConcurrency, rows }, null, 2));
  } else {
    console.log(table(rows));
  }
  return 0;
}

Deno.exitCode = await main();

/**
 * `deno task bench:trace`: what golden traces cost. For each workload and
 * QEMU version: one QEMU with the counting plugin ("count"), recording a
 * trace ("record") and comparing with it ("compare"), alternately,
 * `--pairs` rounds; medians of wall time and their ratios to count, the
 * CPU time of the harness and of QEMU (from /proc, so a loaded machine
 * shows as wall time, not as CPU), peak RSS, and the trace's size.
 */
import { parseArgs } from "../deps/cli.ts";
import { markdownTable, QEMUS, report, runBench } from "./run.ts";
import { Interrupted, median, pairedRatio, runSingle } from "./measure.ts";
import { buildPlugin } from "../harness/qemu/plugin_build.ts";
import {
  type LockstepOptions,
  planAgainst,
  planRun,
  readTrace,
  recordTrace,
  runAgainst,
} from "../mod.ts";
import { join } from "../deps/path.ts";

const HELP = `Usage: deno task bench:trace [OPTIONS]

Options:
      --quick          the kernel and the loop stop at 1,000 M instructions
      --pairs <N>      rounds per row (count, record, compare), medians quoted [default: 3]
      --only <NAME>    one workload: kernel, sparc (OpenBIOS), sparc-bios, loop
      --qemu <V>       7.2 (Debian's), 10.2 (set-up's build) or all [default: all]
      --json           print the rows as JSON
  -h, --help           print help
`;

const root = new URL("../", import.meta.url).pathname;
const guests = `${root}test/guests/build/`;

/** CPU seconds of this process and of its reaped children (QEMU), from /proc. */
function cpu(): { self: number; children: number } {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  // utime, stime, cutime, cstime are fields 14 to 17 (here from 0 after the state).
  const hz = 100;
  return { self: (f[11]! + f[12]!) / hz, children: (f[13]! + f[14]!) / hz };
}

/** One measured run. */
interface Sample {
  readonly seconds: number;
  readonly harnessCpu: number;
  readonly qemuCpu: number;
  readonly qemuRssKb: number;
}

async function measure(run: () => Promise<number>): Promise<Sample> {
  const c0 = cpu();
  const t0 = performance.now();
  const qemuRssKb = await run();
  const seconds = (performance.now() - t0) / 1000;
  const c1 = cpu();
  return {
    seconds,
    harnessCpu: c1.self - c0.self,
    qemuCpu: c1.children - c0.children,
    qemuRssKb,
  };
}

/** A row: medians per kind, the trace's size and what it holds. */
interface Row {
  readonly workload: string;
  readonly qemu: string;
  readonly insns: number;
  readonly traceBytes: number;
  readonly jumps: number;
  readonly pairs: number;
  readonly count: Sample;
  readonly record: Sample;
  readonly compare: Sample;
  readonly recordRatio: number;
  readonly compareRatio: number;
  /** The same, as the median of the rounds' own ratios (bench/measure.ts). */
  readonly recordPaired: number;
  readonly comparePaired: number;
  readonly samples: Record<"count" | "record" | "compare", Sample[]>;
}

const medians = (xs: Sample[]): Sample => ({
  seconds: median(xs.map((x) => x.seconds)),
  harnessCpu: median(xs.map((x) => x.harnessCpu)),
  qemuCpu: median(xs.map((x) => x.qemuCpu)),
  qemuRssKb: median(xs.map((x) => x.qemuRssKb)),
});

async function benchRow(
  name: string,
  qemu: string,
  o: LockstepOptions,
  pairs: number,
  signal: AbortSignal,
) {
  const plan = await planRun(o);
  const count = await buildPlugin({
    source: "count",
    api: plan.a.qemu.pluginApi,
    qemuPath: plan.a.qemu.path,
  });
  const dir = await Deno.makeTempDir({ prefix: "qemu-lockstep-bench-" });
  const out = join(dir, "bench.trace");
  const samples = { count: [] as Sample[], record: [] as Sample[], compare: [] as Sample[] };
  let insns = 0;
  let traceBytes = 0;
  let jumps = 0;
  const log = (kind: string, s: Sample) =>
    console.error(
      `  ${kind.padEnd(8)} ${s.seconds.toFixed(2)} s  cpu qemu ${s.qemuCpu.toFixed(2)} s ` +
        `harness ${s.harnessCpu.toFixed(2)} s  rss ${(s.qemuRssKb / 1024).toFixed(0)} MB`,
    );
  try {
    for (let i = 0; i < pairs; i++) {
      const c = await measure(async () => {
        const s = await runSingle(plan, count.path, signal);
        insns = s.insns;
        return s.rssKb;
      });
      samples.count.push(c);
      log("count", c);
      const r = await measure(async () => {
        const res = await recordTrace(plan, { out, signal });
        if (signal.aborted) throw new Interrupted();
        if (res.status !== "recorded") throw new Error(`Recording failed: ${res.message}`);
        traceBytes = res.bytes;
        jumps = res.summary!.jumps;
        return res.summary!.peakRssKb;
      });
      samples.record.push(r);
      log("record", r);
      const v = await measure(async () => {
        const trace = await readTrace(out);
        const verdict = await runAgainst(await planAgainst(o, trace), trace, { signal });
        if (signal.aborted) throw new Interrupted();
        if (verdict.status !== "match") {
          throw new Error(`Compare did not match: ${verdict.message}`);
        }
        return verdict.sides.b.peakRssKb;
      });
      samples.compare.push(v);
      log("compare", v);
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const m = {
    count: medians(samples.count),
    record: medians(samples.record),
    compare: medians(samples.compare),
  };
  return {
    workload: name,
    qemu,
    insns,
    traceBytes,
    jumps,
    pairs,
    ...m,
    recordRatio: m.record.seconds / m.count.seconds,
    compareRatio: m.compare.seconds / m.count.seconds,
    recordPaired: pairedRatio(samples.record, samples.count),
    comparePaired: pairedRatio(samples.compare, samples.count),
    samples,
  } satisfies Row;
}

function table(rows: Row[]): string {
  const head = [
    "workload",
    "QEMU",
    "instructions",
    "trace MB",
    "count s",
    "record s",
    "compare s",
    "record ×",
    "compare ×",
    "record × paired",
    "compare × paired",
    "CPU count/record/compare s (QEMU + harness)",
    "RSS MB count/record/compare",
  ];
  const cpuOf = (s: Sample) => `${s.qemuCpu.toFixed(1)}+${s.harnessCpu.toFixed(1)}`;
  const body = rows.map((r) => [
    r.workload,
    r.qemu,
    r.insns.toLocaleString("en-US"),
    (r.traceBytes / 1e6).toFixed(1),
    r.count.seconds.toFixed(2),
    r.record.seconds.toFixed(2),
    r.compare.seconds.toFixed(2),
    r.recordRatio.toFixed(2),
    r.compareRatio.toFixed(2),
    r.recordPaired.toFixed(2),
    r.comparePaired.toFixed(2),
    `${cpuOf(r.count)} / ${cpuOf(r.record)} / ${cpuOf(r.compare)}`,
    [r.count, r.record, r.compare].map((s) => (s.qemuRssKb / 1024).toFixed(0)).join(" / "),
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
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  const pairs = Number(v.pairs ?? 3);
  const stop = v.quick ? 1_000_000_000 : undefined;
  const rows: Row[] = [];
  for (const [version, q] of Object.entries(QEMUS)) {
    if (v.qemu && v.qemu !== "all" && v.qemu !== version) continue;
    const workloads: [string, LockstepOptions][] = [
      ["kernel", {
        arch: "x86_64",
        image: `${guests}vmlinuz`,
        qemu: q("qemu-system-x86_64"),
        extra: ["-append", "console=ttyS0 panic=-1"],
        maxInsns: stop,
      }],
      ["sparc", {
        arch: "sparc",
        image: `${guests}sparc-hello.elf`,
        qemu: q("qemu-system-sparc"),
      }],
      ["sparc-bios", {
        arch: "sparc",
        image: `${guests}sparc-bios.bin`,
        bios: true,
        qemu: q("qemu-system-sparc"),
      }],
      ["loop", {
        arch: "x86_64",
        image: `${guests}x86_64-loop`,
        qemu: q("qemu-x86_64"),
        guestArgs: [v.quick ? "20000000" : "100000000"],
      }],
    ];
    for (const [name, o] of workloads) {
      if (v.only && v.only !== name) continue;
      console.error(`bench:trace: ${name} on QEMU ${version}, ${pairs} rounds`);
      rows.push(await benchRow(name, version, o, pairs, signal));
    }
  }
  report(Boolean(v.json), 1, rows, table(rows));
  return 0;
}

await runBench("bench:trace", main);

/**
 * What both benchmarks share: the QEMUs of each version, the table of
 * their rows, the closing report (with the machine as it was at the end),
 * and a signal that stops the run in progress, its QEMUs too, with 130.
 */
import { Interrupted } from "./measure.ts";
import { QEMU_10_2_DIR } from "../cli/setup_qemus.ts";

/** The QEMU binaries of each version set-up provides, by preset binary name. */
export const QEMUS: Readonly<Record<string, (name: string) => string>> = {
  "7.2": (name) => name,
  "10.2": (name) => `${QEMU_10_2_DIR}${name}`,
};

/** A Markdown table, each column as wide as its widest cell. */
export function markdownTable(head: readonly string[], body: readonly string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]) =>
    "| " + cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ") + " |";
  return [line(head), "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|", ...body.map(line)]
    .join("\n");
}

/** The machine at the end of a run: cores, load average, date. */
export interface Machine {
  readonly cpus: number;
  readonly loadAverage: number[];
  readonly date: string;
}

/** Prints the rows: as JSON (`version` of the rows' shape), or the machine's line and `table`. */
export function report(json: boolean, version: number, rows: unknown[], table: string): void {
  const machine: Machine = {
    cpus: navigator.hardwareConcurrency,
    loadAverage: Deno.loadavg(),
    date: new Date().toISOString(),
  };
  if (json) {
    console.log(JSON.stringify({ version, machine, rows }, null, 2));
    return;
  }
  console.log(
    `${machine.date}, ${machine.cpus} cores, load average ${
      machine.loadAverage.map((l) => l.toFixed(2)).join(" ")
    } at the end`,
  );
  console.log(table);
}

/** Runs a bench's `main` with SIGINT, SIGTERM and SIGHUP stopping it; sets the exit code. */
export async function runBench(
  name: string,
  main: (signal: AbortSignal) => Promise<number>,
): Promise<void> {
  const signals: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  for (const sig of signals) Deno.addSignalListener(sig, onSignal);
  try {
    Deno.exitCode = await main(abort.signal);
  } catch (e) {
    if (!abort.signal.aborted && !(e instanceof Interrupted)) throw e;
    console.error(`${name}: interrupted; no figures`);
    Deno.exitCode = 130;
  } finally {
    for (const sig of signals) Deno.removeSignalListener(sig, onSignal);
  }
}

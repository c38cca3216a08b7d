/**
 * What both benchmarks share around their rows: a signal stops the run in
 * progress (its QEMUs too) and ends the command with 130, and the closing
 * report names the machine as it was at the end.
 */
import { Interrupted } from "./measure.ts";

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

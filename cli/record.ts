/**
 * `qemu-lockstep record … -o FILE`: record a golden trace of one QEMU's run
 * (harness/golden/record.ts), say what was recorded, and exit 0 (recorded), 2
 * (set-up error) or 3 (no trace: a timeout, a crash).
 */
import { parseRecordLine, RECORD_HELP } from "./args.ts";
import { err, out, writeOutputs } from "./_output.ts";
import { planRun, type RecordResult, recordTrace } from "../mod.ts";

const EXIT = { recorded: 0, error: 2, inconclusive: 3 } as const;

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e6 ? 3 : 1)} MB`;
}

/** What was recorded, for a person. */
export function renderRecord(r: RecordResult): string {
  if (r.status !== "recorded" || !r.header || !r.summary) {
    const tail = r.stderrTail.trim();
    return `${r.status === "error" ? "ERROR" : "INCONCLUSIVE"}  No trace written: ${r.message}\n` +
      (tail ? `\n  QEMU's stderr:\n${tail.split("\n").map((l) => `    ${l}`).join("\n")}\n` : "");
  }
  const h = r.header;
  const s = r.summary;
  const perM = s.end.insns > 0 ? (r.bytes / (s.end.insns / 1e6)).toFixed(1) : "0";
  return [
    `RECORDED  ${r.path}: ${s.end.insns.toLocaleString("en-US")} instructions (${
      s.end.kind === "limit"
        ? "--max-insns"
        : `the guest's end, exit ${s.exit.signal ?? s.exit.code}`
    }), ${megabytes(r.bytes)} (${perM} bytes a million instructions)`,
    `  QEMU ${h.qemu.version} (plugin API ${h.qemu.pluginApi}), ${h.mode} mode, ${h.arch}; holds ${
      h.compared.join(", ")
    }`,
    ...r.notRecorded.map((n) => `  not recorded: ${n.what}: ${n.why}`),
    `  ${r.checkpoints} checkpoints every ${h.interval.toLocaleString("en-US")} instructions, ${
      s.jumps.toLocaleString("en-US")
    } jumps in ${r.chunks} chunks` +
    (r.decisions > 0 ? `, the guest threads' order (${r.decisions} decisions)` : "") +
    (h.detail
      ? `, register snapshots every ${h.detail.toLocaleString("en-US")} instructions`
      : ", no register snapshots"),
    `  took ${
      r.seconds.toFixed(2)
    } s; compare with: qemu-lockstep ${h.arch} <IMAGE> --against ${r.path}`,
    "",
  ].join("\n");
}

/** Runs `record` with its arguments; returns the exit code. */
export async function recordMain(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const cmd = parseRecordLine(argv);
  if (cmd.kind === "help") {
    await out(RECORD_HELP);
    return 0;
  }
  const started = performance.now();
  const plan = await planRun(cmd.options);
  if (!cmd.json) { for (const w of plan.warnings) err(`warning: ${w}\n`); }
  const r = await recordTrace(plan, {
    out: cmd.out,
    interval: cmd.interval,
    chunk: cmd.chunk,
    detail: cmd.detail,
    signal,
    // --timeout counts from the start of the command, planning included.
    timeoutSeconds: cmd.timeoutSeconds,
    since: started,
    keepTemp: cmd.keepTemp,
    cacheDir: cmd.cacheDir,
    onEvent: cmd.verbose ? (line) => err(`[lockstep] ${line}\n`) : undefined,
  });
  if (cmd.json) {
    await out(
      JSON.stringify({ version: 1, ...r, summary: r.summary && { ...r.summary } }, null, 2) + "\n",
    );
  } else {
    err(renderRecord(r));
  }
  return await writeOutputs([], {
    result: r.status === "recorded" ? `the trace ${r.path} is written` : "no trace was written",
    code: EXIT[r.status],
    stdout: cmd.json ? "what was recorded" : undefined,
  });
}

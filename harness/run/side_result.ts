/**
 * One side's QEMU as run, as the verdict shows it, and the words of its
 * stderr a message quotes.
 */
import type { ChildStatus } from "../core/owned_child.ts";
import { commandWithoutPlugin } from "../plan/command_line.ts";
import { shellQuote } from "../core/shell_quote.ts";
import type { RunPlan, SidePlan } from "../plan/plan.ts";
import type { SideState } from "./side_state.ts";
import type { SideResult } from "../verdict/verdict.ts";

/** One side's QEMU as run, for the verdict. */
export async function sideResult(
  plan: RunPlan,
  s: SideState,
  status: ChildStatus,
): Promise<SideResult> {
  const p = s.pair.plan;
  return {
    qemu: p.qemu.path,
    version: p.qemu.version,
    pluginApi: p.qemu.pluginApi,
    image: p.image,
    mode: plan.mode,
    argv: s.pair.argv,
    exitCode: status.code,
    signal: status.signal,
    insns: s.insns,
    blocks: s.blocks,
    peakRssKb: s.rss,
    output: await s.pair.child.stdout(),
    stderrTail: tailLines(await s.pair.child.stderr(), 20),
  };
}

/** The text with its first letter in capitals. */
export function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * The message of an error that `side`'s QEMU caused, with its last words;
 * when it said nothing, with what was run, so that a person can run it
 * alone and see.
 */
export function withLastWords(
  message: string,
  stderrTail: string,
  plan: RunPlan,
  side: SidePlan,
): string {
  const said = lastWords(stderrTail);
  if (said) return `${message}: ${said}`;
  return `${message}, and printed nothing. Without the plugin it ran: ${
    commandWithoutPlugin(plan, side).map(shellQuote).join(" ")
  } (run that to see whether QEMU alone fails; --keep-temp keeps QEMU's log)`;
}

/** QEMU's last line on stderr that is not a warning, if any. */
function lastWords(stderr: string): string | undefined {
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l && !/warning:/.test(l));
  return lines.at(-1);
}

function tailLines(text: string, n: number): string {
  return text.split("\n").slice(-n - 1).join("\n").trimEnd();
}

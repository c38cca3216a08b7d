/**
 * QEMU's own log at the divergence (`--log-at-divergence op,out_asm`):
 * both sides run again as the locate pass runs them, stopping just before
 * the first differing instruction, with QEMU's `-d ITEMS` on and
 * `-dfilter` on the blocks around that instruction, so each log holds how
 * its QEMU translated the divergent block (and its neighbours) and little
 * else. The logs go into the verdict (Verdict.divergenceLogs).
 */
import type { RunPlan } from "../plan/plan.ts";
import type { QemuLog } from "../plan/command_line.ts";
import type { Role } from "../core/protocol.ts";
import type { DivergenceLogs, SideLog, Verdict } from "../verdict/verdict.ts";
import { buildPlugins } from "./plugins.ts";
import { locate } from "./locate.ts";
import { debugTarget, type SideTarget } from "./target.ts";
import { DebugError } from "./debug_error.ts";

/** What logAtDivergence() needs. */
export interface DivergenceLogRequest {
  readonly plan: RunPlan;
  /** A verdict of `plan`'s run that diverged. */
  readonly verdict: Verdict;
  /** QEMU's -d items, comma-separated ("op,out_asm"). */
  readonly items: string;
  /** Seconds the re-runs may take. */
  readonly timeoutSeconds: number;
  readonly cacheDir?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((line: string) => void) | undefined;
}

/** Bytes of each side's log kept in the verdict; the rest is cut. */
export const LOG_MAX_BYTES = 256 * 1024;

/**
 * Bytes logged around the divergent block: before its start, after the
 * instruction (the block's end and the blocks it jumps to nearby).
 */
const BEFORE = 0x40n;
const AFTER = 0x80n;

/** The -d items QEMU knows are words of letters, digits and underscores. */
const ITEMS = /^[a-z0-9_]+(,[a-z0-9_]+)*$/;

/**
 * Throws DebugError when `qemu -d help` does not list one of `items`
 * (a QEMU given one prints its list and exits).
 */
async function checkItems(qemu: string, items: string): Promise<void> {
  let text = "";
  try {
    const out = await new Deno.Command(qemu, {
      args: ["-d", "help"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    text = dec.decode(out.stdout) + dec.decode(out.stderr);
  } catch {
    return; // it cannot say: the re-run will
  }
  const known = new Set(
    text.split("\n").slice(1).map((l) => l.split(/\s+/)[0]!).filter((w) => /^[a-z0-9_]+$/.test(w)),
  );
  const unknown = items.split(",").filter((i) => !known.has(i));
  if (unknown.length && known.size) {
    throw new DebugError(
      `${qemu} does not log ${unknown.join(", ")}`,
      `pass what its -d knows: ${[...known].join(", ")}`,
    );
  }
}

/** The range logged on one side: from before the divergent block's start to past the instruction. */
export function logRange(
  target: SideTarget,
  blockPc: bigint | undefined,
): { readonly from: bigint; readonly to: bigint } {
  const start = blockPc !== undefined && blockPc <= target.pc ? blockPc : target.pc;
  return { from: start > BEFORE ? start - BEFORE : 0n, to: target.pc + AFTER };
}

/**
 * Runs both sides of `req.verdict`'s run again to just before its first
 * differing instruction with QEMU logging `req.items` for the blocks around
 * it; a DebugError when the verdict names no divergence or the re-runs do
 * not get there.
 */
export async function logAtDivergence(req: DivergenceLogRequest): Promise<DivergenceLogs> {
  if (!ITEMS.test(req.items)) {
    throw new DebugError(
      `Invalid QEMU log items: ${JSON.stringify(req.items)}`,
      "pass QEMU's -d items separated by commas, e.g. op,out_asm (qemu -d help lists them)",
    );
  }
  for (const qemu of new Set([req.plan.a.qemu.path, req.plan.b.qemu.path])) {
    await checkItems(qemu, req.items);
  }
  const target = debugTarget(req.verdict, "before", { narrowed: false });
  const d = req.verdict.divergence!;
  const ranges = {} as Record<Role, QemuLog>;
  for (const role of ["a", "b"] as const) {
    ranges[role] = { ...logRange(target[role], d[role]?.blockPc), items: req.items };
  }
  const timeout = new AbortController();
  const timer = setTimeout(
    () =>
      timeout.abort(
        new DebugError(
          `The re-runs did not reach instruction ${target.a.insn} within ${req.timeoutSeconds} s`,
          "raise --timeout; docs/debugging.md says what getting there costs",
        ),
      ),
    req.timeoutSeconds * 1000,
  );
  const signal = req.signal ? AbortSignal.any([req.signal, timeout.signal]) : timeout.signal;
  let found;
  try {
    const plugins = await buildPlugins(req.plan, req.cacheDir);
    found = await locate({
      plan: req.plan,
      plugins,
      target,
      signal,
      onEvent: req.onEvent,
      cacheDir: req.cacheDir,
      qemuLog: ranges,
    });
  } finally {
    clearTimeout(timer);
  }
  const side = (role: Role): SideLog => {
    const text = found[role].log ?? "";
    const bytes = new TextEncoder().encode(text);
    const cut = bytes.length > LOG_MAX_BYTES;
    return {
      insn: target[role].insn,
      pc: target[role].pc,
      from: ranges[role].from,
      to: ranges[role].to,
      text: cut ? new TextDecoder().decode(bytes.subarray(0, LOG_MAX_BYTES)) : text,
      truncated: cut,
    };
  };
  return { items: req.items, a: side("a"), b: side("b") };
}

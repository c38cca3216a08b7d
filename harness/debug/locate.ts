/**
 * The locate pass: both sides run again, each alone, with the plugin
 * counting the executions of the target instruction's address until the
 * target's position; each reports how many ran before the target. A
 * breakpoint there, passed over that many times, then stops gdb on the
 * target itself, however often its address ran before.
 */
import { type QemuLog, sideArgv, sideLogPath } from "../plan/command_line.ts";
import type { RunPlan } from "../plan/plan.ts";
import type { Role } from "../core/protocol.ts";
import { SidePair } from "../run/side_pair.ts";
import type { DebugTarget } from "./target.ts";
import type { Plugins } from "./plugins.ts";
import { DebugError, NOT_RETRACED } from "./debug_error.ts";

/** What one side's locate pass found. */
export interface Located {
  /**
   * The position of the first instruction at the target's address from
   * the target's position on: the target's own, if the re-run retraces
   * the verdict's run.
   */
  readonly at: number;
  /** Executions of that address before it. */
  readonly hits: number;
  /** With LocateRequest.qemuLog: the side's log file as it was when QEMU stopped. */
  readonly log?: string;
}

/** What locate() needs. */
export interface LocateRequest {
  readonly plan: RunPlan;
  readonly plugins: Plugins;
  readonly target: DebugTarget;
  readonly signal: AbortSignal;
  readonly onEvent?: ((line: string) => void) | undefined;
  /** Where the reaper is built (the plugins' cache; the default when undefined). */
  readonly cacheDir?: string | undefined;
  /** What each side's QEMU logs on the way (its -d, -dfilter), read back into Located.log. */
  readonly qemuLog?: Readonly<Record<Role, QemuLog>>;
}

/**
 * Runs the locate pass on the sides whose target is past their first
 * instruction (before it, nothing ran); throws DebugError when a side's
 * guest ends or its QEMU exits before it gets there. Whether it got to the
 * target itself (`at`) is the caller's to check.
 */
export async function locate(req: LocateRequest): Promise<Record<Role, Located>> {
  const { plan, target } = req;
  const found: Partial<Record<Role, Located>> = {};
  const roles = (["a", "b"] as const).filter((r) => {
    if (target[r].insn === 0) found[r] = { at: 0, hits: 0 };
    return target[r].insn > 0;
  });
  if (roles.length === 0) return found as Record<Role, Located>;
  await using pair = await SidePair.open({
    plan,
    roles,
    args: (side, dir) =>
      sideArgv({
        plan,
        side,
        runDir: dir,
        plugin: { path: req.plugins[side.role], shim: req.plugins.shim },
        pass: { kind: "locate", pc: target[side.role].pc, at: target[side.role].insn },
        ...(req.qemuLog ? { qemuLog: req.qemuLog[side.role] } : {}),
      }),
    onEvent: req.onEvent,
    label: "locate ",
    cacheDir: req.cacheDir,
  });
  const problem: Partial<Record<Role, string>> = {};
  const wake = () => pair.notify();
  req.signal.addEventListener("abort", wake);
  try {
    const open = () =>
      roles.some((r) => !found[r] && !problem[r] && !pair.sides[r].exit) &&
      !req.signal.aborted;
    while (open()) {
      const next = await pair.next();
      if (!next) continue;
      const { role, msg } = next;
      const t = target[role];
      if (msg.t === "located") {
        found[role] = { at: msg.at, hits: msg.hits };
        req.onEvent?.(
          `locate side ${role}: instruction ${msg.at} at 0x${t.pc.toString(16)}, ` +
            `after ${msg.hits} runs of that address`,
        );
      } else if (msg.t === "end") {
        problem[role] = `its guest ended after ${msg.insns} instructions, before ` +
          `instruction ${t.insn} at 0x${t.pc.toString(16)}`;
      } else if (msg.t === "error") {
        problem[role] = msg.msg;
      }
    }
  } finally {
    req.signal.removeEventListener("abort", wake);
  }
  await pair.stop();
  if (req.signal.aborted) throw req.signal.reason;
  for (const r of roles) {
    const why = problem[r] ??
      (found[r] ? undefined : `its QEMU exited (${exitText(pair.sides[r].exit)})`);
    if (why) {
      throw new DebugError(
        `Side ${r}'s re-run did not retrace the verdict's run: ${why}`,
        NOT_RETRACED,
      );
    }
    if (req.qemuLog) {
      const log = await Deno.readTextFile(sideLogPath(pair.dir, req.plan[r])).catch(() => "");
      found[r] = { ...found[r]!, log };
    }
  }
  return found as Record<Role, Located>;
}

function exitText(st: { code: number | null; signal: string | null } | undefined): string {
  if (!st) return "unknown status";
  return st.signal ?? `code ${st.code}`;
}

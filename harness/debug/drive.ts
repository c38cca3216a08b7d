/**
 * Drives one QEMU's gdbstub to the target instruction: a breakpoint at its
 * address, passed over as many times as the locate pass says that address
 * ran before it (a single step over the breakpoint, then continue: no
 * breakpoint is removed and put back, which would flush QEMU's translated
 * code each time), then checked with the plugin, which counts the same
 * executions and knows the position of the next instruction. Where the
 * plugin counts more to go (a step that took an interrupt instead), the
 * loop goes on; anything else that does not agree is an error, never a
 * guess.
 */
import { parseStopReply, type RspClient, SIGTRAP } from "./rsp.ts";
import { DebugError, NOT_RETRACED } from "./debug_error.ts";
import type { StopWhen } from "./target.ts";

/** The plugin's answer to "where": see harness/core/protocol.ts ("at"). */
export interface Where {
  readonly next: number;
  readonly whole: boolean;
  readonly hits: number;
}

/** What driveTo() needs. */
export interface DriveRequest {
  readonly role: string;
  readonly client: RspClient;
  /** The target instruction's address and position, and its address's executions before it. */
  readonly pc: bigint;
  readonly insn: number;
  readonly hits: number;
  readonly when: StopWhen;
  /** Interrupts may come during a step (system mode): as in a run without a debugger. */
  readonly system: boolean;
  /** Asks the side's plugin where its stream is. */
  readonly where: () => Promise<Where>;
}

/** Where a side stopped. */
export interface Landed {
  /** The plugin's answer there. */
  readonly where: Where;
  /** Breakpoint stops on the way. */
  readonly stops: number;
}

/** Rounds of "the plugin counts more to go" before giving up. */
const MAX_ROUNDS = 8;

/** Drives the stub to just before (or after) the target; see the module comment. */
export async function driveTo(req: DriveRequest): Promise<Landed> {
  const { client, role } = req;
  const at = `0x${req.pc.toString(16)}`;
  const fail = (why: string) =>
    new DebugError(
      `Side ${role}'s debugger did not stop at instruction ${req.insn}: ${why}`,
      NOT_RETRACED,
    );
  // QEMU steps with interrupts and timers held by default; a run without
  // a debugger takes them where they come. Put back afterwards.
  const sstep = req.system ? await client.request("qqemu.sstep") : "";
  if (/^0x[0-9a-f]+$/i.test(sstep)) await client.request("Qqemu.sstep=0x1");
  const ok = await client.request(`Z0,${req.pc.toString(16)},1`);
  if (ok !== "OK") throw fail(`QEMU refused a breakpoint at ${at} (${ok || "not supported"})`);

  let stops = 0;
  /** Resumes until the breakpoint: a guest's own signals (linux-user) go on to it. */
  const resume = async (packet: string): Promise<void> => {
    for (;;) {
      const stop = parseStopReply(await client.request(packet));
      if (stop.kind !== "signal") {
        throw fail(
          `the guest ended (${
            stop.kind === "exited" ? `exit code ${stop.code}` : `signal ${stop.signal}`
          }) before it`,
        );
      }
      if (stop.signal === SIGTRAP) return;
      packet = `C${stop.signal.toString(16).padStart(2, "0")}`;
    }
  };
  await resume("c");
  stops++;
  let toPass = req.hits;
  let where: Where | undefined;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    for (; toPass > 0; toPass--) {
      // Runs the instruction under the breakpoint, then on to the next stop there.
      await resume("s");
      await resume("c");
      stops++;
    }
    where = await req.where();
    if (where.hits >= req.hits) break;
    toPass = req.hits - where.hits;
  }
  if (!where || where.hits !== req.hits || where.next !== req.insn) {
    throw fail(
      `at the breakpoint at ${at} the plugin counts ${where?.hits} runs of it before ` +
        `(the locate pass: ${req.hits}) and instruction ${where?.next} next`,
    );
  }
  if (req.when === "after") {
    await resume("s");
    where = await req.where();
    // A step that ran nothing (seen on x86 system mode under load) left
    // the machine as it was: the same step again is the same step.
    for (let i = 0; i < 3 && where.hits === req.hits && where.next === req.insn; i++) {
      await resume("s");
      where = await req.where();
    }
    if (where.hits !== req.hits + 1) {
      throw fail(`the step over it ran ${where.hits - req.hits} instructions at ${at}`);
    }
  }
  await client.request(`z0,${req.pc.toString(16)},1`);
  if (/^0x[0-9a-f]+$/i.test(sstep)) await client.request(`Qqemu.sstep=${sstep}`);
  return { where, stops };
}

/**
 * Both QEMUs stopped at the divergence, each under a gdbstub a debugger
 * can attach to, under one owner. Opening it runs the locate pass, starts
 * both sides again with the plugin counting the target's address and a
 * gdbstub on a Unix socket in the run directory, drives each stub to its
 * target (drive.ts) and puts a TCP port in front of it (gdb_port.ts).
 * Disposing it, on every path, closes the ports, stops both QEMUs and
 * removes the run directory; a gdb it ran for a script is stopped too.
 */
import { SidePair } from "../run/side_pair.ts";
import { sideArgv } from "../plan/command_line.ts";
import type { RunPlan } from "../plan/plan.ts";
import { type PluginMessage, type Role, WHERE_COMMAND } from "../core/protocol.ts";
import { OwnedChild } from "../core/owned_child.ts";
import { SetupError } from "../core/errors.ts";
import { join } from "../../deps/path.ts";
import { buildPlugins } from "./plugins.ts";
import { locate } from "./locate.ts";
import { driveTo, type Where } from "./drive.ts";
import { GdbPort } from "./gdb_port.ts";
import { RspClient } from "./rsp.ts";
import { GDB, gdbArgs, isElf } from "./gdb_command.ts";
import type { DebugTarget, SideTarget } from "./target.ts";
import { DebugError, NOT_RETRACED } from "./debug_error.ts";

/** What a debug session needs. */
export interface DebugRequest {
  readonly plan: RunPlan;
  readonly target: DebugTarget;
  /** Seconds the locate pass and driving both stubs may take together. */
  readonly timeoutSeconds: number;
  readonly cacheDir?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((line: string) => void) | undefined;
}

/** One side, stopped. */
export interface DebugSide {
  readonly role: Role;
  readonly target: SideTarget;
  /** Executions of the target's address before the target. */
  readonly hits: number;
  /** The plugin's answer where it stopped (the next instruction's position, executions so far). */
  readonly where: Where;
  /** The port its debugger attaches to, on 127.0.0.1. */
  readonly port: number;
  /** The gdb command line that attaches (program first). */
  readonly gdb: readonly string[];
}

/** What one side's gdb printed running a script. */
export interface BatchOutput {
  readonly output: string;
  readonly code: number | null;
}

/** How a session ended (see DebugSession.wait()). */
export type SessionEnd = "detached" | "exited" | "aborted";

/**
 * Seconds getting there may take after a run of `wallSeconds`: the locate
 * pass retraces the run alone, and each breakpoint stop costs a few
 * round trips (docs/debugging.md has the figures).
 */
export function debugBudget(wallSeconds: number): number {
  return Math.max(120, 20 * wallSeconds);
}

/** See the module comment. */
export class DebugSession implements AsyncDisposable {
  readonly sides: Readonly<Record<Role, DebugSide>>;
  /** Seconds the locate pass and the driving took. */
  readonly seconds: { readonly locate: number; readonly drive: number };
  readonly #pair: SidePair;
  readonly #ports: Record<Role, GdbPort>;
  readonly #pump: Pump;
  #disposed = false;

  private constructor(
    pair: SidePair,
    pump: Pump,
    ports: Record<Role, GdbPort>,
    sides: Record<Role, DebugSide>,
    seconds: { locate: number; drive: number },
  ) {
    this.#pair = pair;
    this.#pump = pump;
    this.#ports = ports;
    this.sides = sides;
    this.seconds = seconds;
  }

  /** Runs the locate pass and stops both sides at the target; see the module comment. */
  static async open(req: DebugRequest): Promise<DebugSession> {
    const { plan, target } = req;
    const event = req.onEvent ?? (() => {});
    const timeout = new AbortController();
    const timer = setTimeout(
      () =>
        timeout.abort(
          new DebugError(
            `The debuggers did not reach instruction ${target.a.insn} within ${req.timeoutSeconds} s`,
            "raise --timeout; docs/debugging.md says what getting there costs",
          ),
        ),
      req.timeoutSeconds * 1000,
    );
    const signal = req.signal ? AbortSignal.any([req.signal, timeout.signal]) : timeout.signal;
    let pair: SidePair | undefined;
    let pump: Pump | undefined;
    const clients: RspClient[] = [];
    const ports: Partial<Record<Role, GdbPort>> = {};
    try {
      const plugins = await buildPlugins(plan, req.cacheDir);
      const started = performance.now();
      const located = await locate({
        plan,
        plugins,
        target,
        signal,
        onEvent: req.onEvent,
        cacheDir: req.cacheDir,
      });
      for (const role of ["a", "b"] as const) {
        const t = target[role];
        if (located[role].at !== t.insn) {
          throw new DebugError(
            `Side ${role}'s re-run did not retrace the verdict's run: the first instruction at ` +
              `0x${t.pc.toString(16)} from instruction ${t.insn} on is instruction ${
                located[role].at
              }`,
            NOT_RETRACED,
          );
        }
      }
      const locateSeconds = (performance.now() - started) / 1000;
      const stub = (dir: string, role: Role) => join(dir, `gdb-${role}.sock`);
      pair = await SidePair.open({
        plan,
        args: (side, dir) =>
          sideArgv({
            plan,
            side,
            runDir: dir,
            plugin: { path: plugins[side.role], shim: plugins.shim },
            pass: { kind: "locate", pc: target[side.role].pc },
            gdbStub: stub(dir, side.role),
          }),
        onEvent: req.onEvent,
        label: "gdb ",
        cacheDir: req.cacheDir,
      });
      const p = pump = new Pump(pair);
      const onAbort = () => {
        for (const c of clients) c.close();
        p.notify();
      };
      signal.addEventListener("abort", onAbort);
      const driven = performance.now();
      try {
        const landed = await Promise.all((["a", "b"] as const).map(async (role) => {
          const client = await RspClient.connect(stub(pair!.dir, role), signal);
          clients.push(client);
          if (signal.aborted) throw signal.reason;
          const t = target[role];
          const out = await driveTo({
            role,
            client,
            pc: t.pc,
            insn: t.insn,
            hits: located[role].hits,
            when: target.when,
            system: plan.mode === "system",
            where: () => p.where(role),
          });
          event(`gdb side ${role}: stopped after ${out.stops} breakpoint stops`);
          return { client, out };
        }));
        const sides = {} as Record<Role, DebugSide>;
        for (const [i, role] of (["a", "b"] as const).entries()) {
          const { client, out } = landed[i]!;
          const port = new GdbPort(client.release(), () => p.notify());
          ports[role] = port;
          const image = plan[role].image;
          sides[role] = {
            role,
            target: target[role],
            hits: located[role].hits,
            where: out.where,
            port: port.port,
            gdb: [
              GDB,
              ...gdbArgs({ preset: plan.preset, image, elf: await isElf(image), port: port.port }),
            ],
          };
        }
        return new DebugSession(pair, p, ports as Record<Role, GdbPort>, sides, {
          locate: locateSeconds,
          drive: (performance.now() - driven) / 1000,
        });
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    } catch (e) {
      for (const c of clients) c.close();
      for (const port of Object.values(ports)) await port[Symbol.asyncDispose]();
      await pump?.stop();
      if (pair) {
        await pair.stop();
        await pair[Symbol.asyncDispose]();
      }
      // A connection closed by the abort: the abort's reason is the error.
      throw signal.aborted ? signal.reason : e;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Waits until every side's debugger has come and gone ("detached"), a
   * QEMU exited ("exited") or `signal` aborts ("aborted").
   */
  async wait(signal?: AbortSignal): Promise<SessionEnd> {
    const wake = () => this.#pump.notify();
    signal?.addEventListener("abort", wake);
    try {
      for (;;) {
        if (signal?.aborted) return "aborted";
        if (this.#pump.exited()) return "exited";
        const ports = Object.values(this.#ports);
        if (ports.every((p) => p.sessions > 0 && !p.attached)) return "detached";
        await this.#pump.changed();
      }
    } finally {
      signal?.removeEventListener("abort", wake);
    }
  }

  /**
   * Runs the gdb script `script` on both sides at once (gdb-multiarch in
   * batch mode, attached to each port) and returns what each printed; a
   * gdb that has not finished after `timeoutSeconds`, or when `signal`
   * aborts, is stopped.
   */
  async batch(
    script: string,
    opts: { readonly timeoutSeconds?: number; readonly signal?: AbortSignal | undefined } = {},
  ): Promise<Record<Role, BatchOutput>> {
    const timeoutSeconds = opts.timeoutSeconds ?? 120;
    const run = async (role: Role): Promise<BatchOutput> => {
      const [cmd, ...args] = this.sides[role].gdb;
      let child: OwnedChild;
      try {
        child = new OwnedChild(cmd!, ["-nx", "-batch", ...args, "-x", script], {
          keepStderr: 1 << 20,
        });
      } catch (e) {
        throw new SetupError(
          `Cannot start ${GDB}: ${(e as Error).message}`,
          "install it (apt-get install gdb-multiarch)",
        );
      }
      await using owned = child;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((
        r,
      ) => (timer = setTimeout(() => r("late"), timeoutSeconds * 1000)));
      const stop = () => owned.stop();
      opts.signal?.addEventListener("abort", stop);
      const first = await Promise.race([owned.status, late]);
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", stop);
      const st = await owned.stop();
      const output = (await owned.stdout()) + (await owned.stderr());
      return {
        output: first === "late"
          ? `${output}\n(${GDB} did not finish within ${timeoutSeconds} s)`
          : output,
        code: st.code,
      };
    };
    const [a, b] = await Promise.all([run("a"), run("b")]);
    return { a, b };
  }

  /** Closes the ports, stops both QEMUs and removes the run directory. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#pump.stop();
    for (const p of Object.values(this.#ports)) await p[Symbol.asyncDispose]();
    await this.#pair.stop();
    await this.#pair[Symbol.asyncDispose]();
  }
}

/**
 * Reads both plugins' messages while the session lives: the answers to
 * "where", and whether a QEMU exited; wakes whoever waits for a change.
 */
class Pump {
  readonly #pair: SidePair;
  readonly #waiting: Record<Role, ((w: Where) => void)[]> = { a: [], b: [] };
  #wake: () => void = () => {};
  /** A change came since the last changed() resolved. */
  #changed = false;
  #stopped = false;
  readonly #loop: Promise<void>;
  #errors: string[] = [];

  constructor(pair: SidePair) {
    this.#pair = pair;
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let next;
      try {
        next = await this.#pair.next();
      } catch {
        return; // the control socket closed: the session is ending
      }
      this.#signal();
      if (!next) continue;
      const msg: PluginMessage | { t: "closed" } = next.msg;
      if (msg.t === "at") {
        const w = { next: msg.next, whole: msg.whole, hits: msg.hits };
        this.#waiting[next.role].shift()?.(w);
      } else if (msg.t === "error") {
        this.#errors.push(`side ${next.role}: ${msg.msg}`);
      }
    }
  }

  /** Asks one side's plugin where it is (the vCPU is held by its stub). */
  async where(role: Role): Promise<Where> {
    const answer = new Promise<Where>((r) => this.#waiting[role].push(r));
    await this.#pair.send(role, WHERE_COMMAND);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 10_000)));
    const w = await Promise.race([answer, late]);
    clearTimeout(timer);
    if (!w) {
      throw new DebugError(
        `Side ${role}'s plugin did not say where it is${
          this.#errors.length ? ` (${this.#errors.join("; ")})` : ""
        }`,
        NOT_RETRACED,
      );
    }
    return w;
  }

  /** A QEMU exited. */
  exited(): boolean {
    return (["a", "b"] as const).some((r) => this.#pair.sides[r].exitStatus !== undefined);
  }

  /** Resolves at the next message, exit or notify() (at once if one came since the last). */
  changed(): Promise<void> {
    if (this.#changed) {
      this.#changed = false;
      return Promise.resolve();
    }
    return new Promise((r) => {
      this.#wake = () => {
        this.#changed = false;
        r();
      };
    });
  }

  #signal(): void {
    this.#changed = true;
    this.#wake();
  }

  /** Wakes changed() (and the loop). */
  readonly notify = (): void => {
    this.#signal();
    this.#pair.notify();
  };

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#pair.notify();
    await this.#loop;
  }
}

/**
 * Two QEMUs under one owner: a private run directory, the control socket
 * both plugins report to, both children, and the start-up handshakes
 * (hello, the register list). The lockstep session and narrowing's re-runs
 * both supervise their QEMUs through it, with `await using`, so every path
 * stops both QEMUs, closes the socket and removes the directory. A run
 * against a trace (or recording one) starts one side only (`roles`): the
 * same owner, with the harness in the other side's place.
 */
import { DecisionLog } from "../trace/decisions.ts";
import { type ChildStatus, OwnedChild } from "../core/owned_child.ts";
import { type ControlMessage, ControlServer } from "./control_socket.ts";
import { placeGuests } from "../plan/command_line.ts";
import { CTL_SOCKET, PEER_SOCKET } from "../plan/plugin_args.ts";
import { fromOsError, QemuSetupError, SetupError } from "../core/errors.ts";
import type { RunPlan, SidePlan } from "../plan/plan.ts";
import {
  type PluginMessage,
  QUIT_COMMAND,
  type RegInfo,
  regsCommand,
  type Role,
} from "../core/protocol.ts";
import { chooseRegisters, type RegChoice } from "../plan/registers.ts";
import { DEFAULTS } from "../core/defaults.ts";
import { shellQuote } from "../core/shell_quote.ts";
import { join } from "../../deps/path.ts";
import { makeTmpdirOwned, type OwnedTempDir, tmpdir } from "../core/owned_temp_dir.ts";
import { buildPlugin } from "../qemu/plugin_build.ts";
import {
  hearProcess,
  helloPath,
  nextGeneration,
  type ProcessTrees,
  processTrees,
} from "./process_tree.ts";

/** A plugin's "hello". */
export type Hello = Extract<PluginMessage, { t: "hello" }>;

/** One side: its QEMU and what its plugin said at start-up. */
export interface PairSide {
  readonly plan: SidePlan;
  /** The full command line, program first. */
  readonly argv: readonly string[];
  readonly child: OwnedChild;
  /** Its control connection, once the plugin said hello. */
  conn?: number;
  hello?: Hello;
  /** The registers its QEMU describes (regs=on). */
  regs?: RegInfo[];
  /** The exit status as soon as it is known (its last reports may be in flight). */
  exitStatus?: ChildStatus;
  /** When exitStatus came (performance.now()). */
  exitedAt?: number;
  /**
   * Set once, after the exit, every connection the QEMU made has been
   * accepted and read from (see ControlServer.barrier()).
   */
  exitSeen?: true;
  /** Set when the QEMU has exited and everything its plugin sent was read. */
  exit?: ChildStatus;
  /** The control connection was read to its end. */
  closed: boolean;
  /**
   * The last program the guest's first process asked to execute (its file
   * when the plugin could read it, plugin API 4): one of the host's arch
   * runs natively, and the plugin is gone with the exec.
   */
  lastExec?: { readonly path: string | null };
  /**
   * Handlers its process installed for signals that come at a moment, not
   * at an instruction (pc null: the plugin could not read guest memory).
   */
  handlers?: { readonly sig: number; readonly pc: bigint | null }[];
  /** Guest threads (linux-user, threads=on): thread id by number (creation order). */
  threads?: Map<number, number>;
  /** The decisions of the guest threads' order it made itself (threads=on; first process). */
  schedule?: DecisionLog;
  /** Why its threads run free from some point on (threads=on): the comparison cannot follow. */
  unfollowed?: string;
  /** Children its process forked, as far as their hellos came. */
  forks?: number;
}

/** A message from one side. */
export interface SideMessage {
  readonly role: Role;
  readonly msg: ControlMessage;
  /**
   * A forked child's (with `processes`): its path in the tree, and the
   * side as that process is (its plugin's hello, its connection's end).
   */
  readonly proc?: { readonly path: string; readonly side: PairSide };
}

/** How to start a pair (or the sides `roles` names). */
export interface PairOptions<R extends Role = Role> {
  readonly plan: RunPlan;
  /** The sides to start (both by default). */
  readonly roles?: readonly R[];
  /**
   * Called with the run directory once it and the control socket exist,
   * before any QEMU starts: for sockets the harness listens on in a side's
   * place (their owner is the caller).
   */
  readonly prepare?: (runDir: string) => void | Promise<void>;
  /**
   * Picks the registers once every side listed its own (default: the ones
   * both sides share, less --mask-reg). A SetupError thrown here ends the run.
   */
  readonly chooseRegs?: (listed: Partial<Record<Role, readonly RegInfo[]>>) => RegChoice;
  /** A side's arguments (after plan's command), given the run directory. */
  readonly args: (side: SidePlan, runDir: string) => string[];
  /** Keep the run directory (logs, sockets) instead of removing it. */
  readonly keepTemp?: boolean | undefined;
  /** Called with a line of what happens (for --verbose). */
  readonly onEvent?: ((line: string) => void) | undefined;
  /** Prefix of those lines ("narrow " for narrowing's re-runs). */
  readonly label?: string;
  /** Where the reaper each QEMU runs under is built (the plugins' cache). */
  readonly cacheDir?: string | undefined;
  /**
   * The caller compares forked children (children=on): next() returns
   * their messages too, each with its `proc`. Otherwise they are only
   * listed (`processes`).
   */
  readonly processes?: boolean;
}

/** The longest path a Unix socket can have (sun_path, less its final NUL). */
const SOCKET_PATH_MAX = 107;

/**
 * A fresh private directory (mode 0700) for one run's sockets and logs, in
 * TMPDIR, locked as this process's while it lives so that, should the run
 * be killed outright, a later run sweeps it (harness/core/owned_temp_dir.ts;
 * this one sweeps those of dead runs first). A kept one (`keep`) is never
 * swept. A TMPDIR that cannot hold one is a SetupError naming it.
 */
export async function makeRunDir(opts: { keep?: boolean | undefined } = {}): Promise<OwnedTempDir> {
  const tmp = tmpdir();
  const hint = "set TMPDIR to a writable directory with a short path (or unset it for /tmp)";
  let dir: OwnedTempDir;
  try {
    dir = await makeTmpdirOwned("run", opts);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "it does not exist"
      : e instanceof Deno.errors.NotADirectory
      ? "it is not a directory"
      : (e as Error).message;
    throw new SetupError(`Cannot make the run directory in TMPDIR ${tmp}: ${why}`, hint);
  }
  const longest = join(dir.path, PEER_SOCKET);
  if (new TextEncoder().encode(longest).length > SOCKET_PATH_MAX) {
    await Deno.remove(dir.path, { recursive: true }).catch(() => {});
    await dir[Symbol.asyncDispose]();
    throw new SetupError(
      `TMPDIR ${tmp} is too long for the run's sockets (${longest.length} characters; ` +
        `a Unix socket path has at most ${SOCKET_PATH_MAX})`,
      hint,
    );
  }
  return dir;
}

/**
 * Wakes a supervision loop on an external event (a child exits, a timer
 * fires, an abort). A notify() that comes before the loop waits is kept.
 */
class Waker {
  #woken = false;
  #wake = () => {};

  readonly notify = (): void => {
    this.#woken = true;
    this.#wake();
  };

  /** Resolves at the next notify() (at once if one came since the last wait). */
  next(): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((r) => {
      this.#wake = () => {
        this.#woken = false;
        r();
      };
    });
  }
}

/** Both sides of one run (or those `roles` names), started; see the module comment. */
export class SidePair<R extends Role = Role> implements AsyncDisposable {
  readonly dir: string;
  readonly #runDir: OwnedTempDir;
  /** The sides, once started (open() returns only then). */
  sides!: Readonly<Record<R, PairSide>>;
  /** The registers the sides compare, once every side listed its own. */
  regChoice?: RegChoice;
  /** Each side's guest processes (linux-user): see process_tree.ts. */
  readonly processes: ProcessTrees = processTrees();
  readonly #ctl: ControlServer;
  readonly #waker = new Waker();
  readonly #roleOf = new Map<number, R>();
  /** The connections of forked guest processes (not "1"): their side and path. */
  readonly #processOf = new Map<
    number,
    { readonly role: R; readonly path: string; readonly side: PairSide }
  >();
  readonly #opts: PairOptions<R>;
  readonly #roles: readonly R[];
  /** The reaper each QEMU runs under (plugin-src/reaper.c), once built. */
  #reaper: string | undefined;
  #disposed = false;
  /** Children started so far: a failure to start side B still stops side A. */
  readonly #started: PairSide[] = [];

  private constructor(dir: OwnedTempDir, ctl: ControlServer, opts: PairOptions<R>) {
    this.#runDir = dir;
    this.dir = dir.path;
    this.#ctl = ctl;
    this.#opts = opts;
    this.#roles = opts.roles ?? (["a", "b"] as R[]);
  }

  /** Makes the run directory and control socket, places the guests and starts the QEMUs. */
  static async open<R extends Role = Role>(opts: PairOptions<R>): Promise<SidePair<R>> {
    // Every QEMU runs under the reaper: a guest's forks and the programs
    // they run end with their side (harness/core/owned_child.ts).
    const reaper = await buildPlugin({
      source: "reaper",
      api: 0,
      qemuPath: opts.plan.a.qemu.path,
      cacheDir: opts.cacheDir,
    });
    const runDir = await makeRunDir({ keep: opts.keepTemp });
    const dir = runDir.path;
    let ctl: ControlServer;
    try {
      ctl = new ControlServer(join(dir, CTL_SOCKET));
    } catch (e) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await runDir[Symbol.asyncDispose]();
      throw fromOsError("Cannot listen on the run's control socket", e);
    }
    const pair = new SidePair<R>(runDir, ctl, opts);
    pair.#reaper = reaper.path;
    try {
      const plans = pair.#roles.map((r) => opts.plan[r]);
      if (opts.plan.mode === "user") {
        await placeGuests(dir, opts.plan, plans).catch((e) => {
          throw e instanceof SetupError
            ? e
            : fromOsError("Cannot place the guests in the run directory", e);
        });
      }
      await opts.prepare?.(dir);
      const sides: Partial<Record<R, PairSide>> = {};
      for (const p of plans) sides[p.role as R] = pair.#spawn(p);
      pair.sides = sides as Record<R, PairSide>;
      return pair;
    } catch (e) {
      await pair[Symbol.asyncDispose]();
      throw e;
    }
  }

  #spawn(p: SidePlan): PairSide {
    const { plan } = this.#opts;
    const argv = [p.command, ...this.#opts.args(p, this.dir)];
    this.#event(`side ${p.role}: ${argv.map(shellQuote).join(" ")}`);
    const [cmd, ...args] = argv;
    let child: OwnedChild;
    try {
      child = new OwnedChild(cmd!, args, {
        cwd: plan.cwd,
        env: plan.env,
        clearEnv: true,
        reaper: this.#reaper,
        // A guest's fork returns the same pid on both sides (docs/environment.md).
        pidNamespace: plan.mode === "user",
      });
    } catch (e) {
      throw fromOsError(`Cannot start side ${p.role}'s QEMU`, e, QemuSetupError);
    }
    const s: PairSide = { plan: p, argv, child, closed: false };
    this.#started.push(s);
    child.status.then(async (st) => {
      s.exitStatus = st;
      s.exitedAt = performance.now();
      this.#event(`side ${p.role}: exited (${st.signal ?? `code ${st.code}`})`);
      // Its hello may still wait to be accepted: only then is it known
      // whether its plugin started.
      if (!this.#ctl.saidHello(p.role)) await this.#ctl.barrier();
      s.exitSeen = true;
      this.#settleExit(s);
      this.notify();
    });
    return s;
  }

  #hearProcess(role: R, path: string, msg: ControlMessage): void {
    const line = hearProcess(this.processes[role], path, msg);
    if (line) this.#event(`side ${role}: ${line}`);
  }

  /** Wakes next() (an external event: a timer, an abort). */
  readonly notify = (): void => this.#waker.notify();

  #event(line: string): void {
    this.#opts.onEvent?.(`${this.#opts.label ?? ""}${line}`);
  }

  /**
   * The next message from either side, or undefined when notify() woke the
   * caller first. Start-up messages are handled here: "hello" ties a
   * connection to its side, and once both sides listed their registers
   * both get the agreed list.
   */
  async next(): Promise<SideMessage | undefined> {
    const next = await this.#ctl.next(this.#waker.next());
    if (!next) return undefined;
    const [id, msg] = next;
    if (msg.t === "sched") {
      // The first process's order (a forked child's threads decide anew).
      const side = this.#processOf.get(id) ? undefined : this.sides[this.#roleOf.get(id) as R];
      if (side) (side.schedule ??= new DecisionLog()).push(msg.pos, msg.n);
      return undefined;
    }
    if (msg.t === "handler" || msg.t === "thread" || msg.t === "unfollowed") {
      const side = this.#processOf.get(id)?.side ?? this.sides[this.#roleOf.get(id) as R];
      if (side && msg.t === "handler") {
        (side.handlers ??= []).push({ sig: msg.sig, pc: msg.pc === null ? null : BigInt(msg.pc) });
      } else if (side && msg.t === "thread") {
        (side.threads ??= new Map()).set(msg.n, msg.tid);
      } else if (side && msg.t === "unfollowed") {
        side.unfollowed ??= msg.why;
      }
      return undefined;
    }
    const child = this.#processOf.get(id);
    if (child) {
      this.#hearProcess(child.role, child.path, msg);
      if (msg.t === "closed") {
        // Its process is gone, or runs another program natively.
        child.side.closed = true;
        child.side.exit = child.side.exitStatus = { code: null, signal: null };
      }
      if (!this.#opts.processes) return undefined;
      return { role: child.role, msg, proc: { path: child.path, side: child.side } };
    }
    if (msg.t === "hello") {
      const role = msg.role as R;
      const s = this.sides[role];
      if (!s) return undefined;
      const path = helloPath(msg);
      this.#hearProcess(role, path, msg);
      if (/\.\d+$/.test(path)) {
        // A forked child: its parent may now get a child's SIGCHLD.
        const parent = path.slice(0, path.lastIndexOf("."));
        const of = parent === "1"
          ? s
          : [...this.#processOf.values()].find((p) => p.role === role && p.path === parent)?.side;
        if (of) of.forks = (of.forks ?? 0) + 1;
      }
      if (path !== "1") {
        // The guest's first process executed a program that runs under
        // QEMU again, not natively: its end at the exec is no longer the end.
        if (path === nextGeneration("1")) delete s.lastExec;
        // A forked child: a side of its own, its QEMU in its parent's tree.
        const side: PairSide = {
          plan: s.plan,
          argv: s.argv,
          child: s.child,
          conn: id,
          hello: msg,
          closed: false,
        };
        this.#processOf.set(id, { role, path, side });
        if (!this.#opts.processes) return undefined;
        return { role, msg, proc: { path, side } };
      }
      this.#roleOf.set(id, role);
      s.conn = id;
      s.hello = msg;
      this.#event(
        `side ${msg.role}: plugin loaded (${msg.target}, API ${msg.api}, pid ${msg.pid})`,
      );
      return { role, msg };
    }
    const role = this.#roleOf.get(id);
    if (!role) return undefined;
    const s = this.sides[role];
    if (msg.t === "closed") s.closed = true;
    if (msg.t === "exec" || msg.t === "closed") this.#hearProcess(role, "1", msg);
    // A word after an exec report but the end the exec made: that exec
    // failed, the guest went on.
    if (msg.t === "exec") s.lastExec = { path: msg.path };
    else if (msg.t !== "closed" && msg.t !== "end") delete s.lastExec;
    if (msg.t === "exec") return undefined;
    if (msg.t === "regs") {
      // Each plugin waits for the answer before its guest starts.
      s.regs = msg.regs;
      const listed: Partial<Record<Role, readonly RegInfo[]>> = {};
      for (const r of this.#roles) {
        const regs = this.sides[r].regs;
        if (regs) listed[r] = regs;
      }
      if (this.#roles.every((r) => listed[r])) {
        const choice = this.#opts.chooseRegs?.(listed) ??
          chooseRegisters(listed.a!, listed.b!, this.#opts.plan.maskRegs);
        this.regChoice = choice;
        for (const r of this.#roles) await this.send(r, regsCommand(choice[r]));
        this.#event(`registers compared: ${choice.names.join(" ") || "none"}`);
      }
    }
    this.#settleExit(s);
    return { role, msg };
  }

  /**
   * A side counts as exited once its QEMU is gone and everything its plugin
   * sent was read: a plugin's last reports, even its hello, can still be in
   * the socket when the process exit is seen.
   */
  #settleExit(s: PairSide): void {
    if (!s.exitStatus || !s.exitSeen) return;
    const helloRead = s.conn !== undefined;
    if (helloRead ? s.closed : !this.#ctl.saidHello(s.plan.role)) s.exit = s.exitStatus;
  }

  /** Sends a command line to a forked child's plugin (nothing once it is gone). */
  async sendProcess(side: PairSide, line: string): Promise<void> {
    if (side.conn !== undefined) await this.#ctl.send(side.conn, line);
  }

  /** Sends a command line to one side's plugin (nothing once it is gone). */
  async send(role: R, line: string): Promise<void> {
    const conn = this.sides[role]?.conn;
    if (conn !== undefined) await this.#ctl.send(conn, line);
  }

  /**
   * Stops the QEMUs: "quit" lets a parked plugin end its QEMU at once;
   * for one that has not ended after `graceMs`, SIGTERM, then SIGKILL.
   */
  async stop(graceMs: number = DEFAULTS.stopGraceMs): Promise<Record<R, ChildStatus>> {
    for (const r of this.#roles) await this.send(r, QUIT_COMMAND);
    // A QEMU that has its "quit" ends at once: give it the chance before
    // SIGTERM, which QEMU answers by running its exit path (and the
    // plugin's, which would wait for its peer) instead.
    const sides = this.#roles.map((r) => this.sides[r]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(sides.map((s) => s.child.status)),
      new Promise((r) => (timer = setTimeout(r, graceMs))),
    ]);
    clearTimeout(timer);
    const statuses = await Promise.all(sides.map((s) => s.child.stop(DEFAULTS.cleanupGraceMs)));
    return Object.fromEntries(this.#roles.map((r, i) => [r, statuses[i]!])) as Record<
      R,
      ChildStatus
    >;
  }

  /** Stops both QEMUs, closes the socket and removes the directory (unless kept). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await Promise.all(this.#started.map((s) => s.child.stop(DEFAULTS.cleanupGraceMs)));
    await this.#ctl[Symbol.asyncDispose]();
    await this.#runDir[Symbol.asyncDispose]();
  }
}

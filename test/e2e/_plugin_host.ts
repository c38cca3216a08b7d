// Drives the lockstep plugin inside a fake QEMU (testdata/fake_qemu.c)
// through its two sockets, as the orchestrator and the peer plugin would:
// the plugin fuzz test's machinery.
import { buildPlugin, PLUGIN_UNITS } from "../../harness/qemu/plugin_build.ts";
import { planRun } from "../../harness/plan/plan.ts";
import { sideArgv } from "../../harness/plan/command_line.ts";
import { SidePair } from "../../harness/run/side_pair.ts";
import { resyncCommand } from "../../harness/core/protocol.ts";
import { readLines } from "../../harness/core/lines.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FAKE_QEMU = new URL("testdata/fake_qemu.c", import.meta.url).pathname;

/** Environment for the sanitizers: a report is a failure, leaks are not (QEMU's plugins keep what they translate). */
export const SANITIZER_ENV: Record<string, string> = {
  ASAN_OPTIONS: "detect_leaks=0:abort_on_error=0:exitcode=86:allocator_may_return_null=1",
  UBSAN_OPTIONS: "print_stacktrace=1:halt_on_error=1:exitcode=87",
};

/** What the sanitizers print when they find something. */
export const SANITIZER_REPORT =
  /ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|UndefinedBehaviorSanitizer|AddressSanitizer:DEADLYSIGNAL/;

/**
 * Builds the fake QEMU with the plugin's units for plugin API `api`, under
 * AddressSanitizer and UBSan, into `dir`; its path.
 */
export async function buildFakeQemu(dir: string, api: number): Promise<string> {
  const glib = await new Deno.Command("pkg-config", {
    args: ["--cflags", "--libs", "glib-2.0"],
    stdout: "piped",
  }).output();
  const exe = `${dir}/fake_qemu-v${api}`;
  const out = await new Deno.Command(Deno.env.get("CC") ?? "cc", {
    args: [
      "-fsanitize=address,undefined",
      "-fno-sanitize-recover=undefined",
      "-fno-omit-frame-pointer",
      "-g",
      "-O1",
      "-Wall",
      "-Werror=implicit-function-declaration",
      `-DQEMU_PLUGIN_VERSION=${api}`,
      `-I${ROOT}plugin-src`,
      "-o",
      exe,
      FAKE_QEMU,
      ...PLUGIN_UNITS.lockstep.map((u) => `${ROOT}plugin-src/${u}`),
      ...new TextDecoder().decode(glib.stdout).trim().split(/\s+/),
      "-lpthread",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`Building the fake QEMU failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  return exe;
}

/** An exit: its code, or the signal that ended it (0: none). */
export interface Exit {
  readonly code: number;
  readonly signal: number;
}

/** A case's process in the fork server. */
interface Launched {
  readonly pid: number;
  readonly exit: Promise<Exit>;
}

/**
 * The fake QEMU as a fork server (`fake_qemu --serve`): the sanitizers
 * start once, and each case is a child of it, with its stderr in a file.
 */
export class FakeQemu implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #started: ((pid: number) => void)[] = [];
  readonly #exits = new Map<number, (e: Exit) => void>();
  readonly #early = new Map<number, Exit>();
  #writing: Promise<void> = Promise.resolve();
  readonly #reading: Promise<void>;

  constructor(exe: string) {
    this.#child = new Deno.Command(exe, {
      args: ["--serve"],
      env: SANITIZER_ENV,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.#reading = this.#read();
  }

  async #read(): Promise<void> {
    const lines = this.#child.stdout.pipeThrough(new TextDecoderStream());
    let buf = "";
    for await (const chunk of lines) {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const [what, pid, code, signal] = buf.slice(0, nl).split(" ");
        buf = buf.slice(nl + 1);
        if (what === "started") this.#started.shift()?.(Number(pid));
        else {
          const e = { code: Number(code), signal: Number(signal) };
          const done = this.#exits.get(Number(pid));
          if (done) done(e);
          else this.#early.set(Number(pid), e);
        }
      }
    }
  }

  /** Starts a case: fake_qemu's `args`, its stderr to `errFile`. */
  launch(args: readonly string[], errFile: string): Promise<Launched> {
    if (args.some((a) => /[\t\n]/.test(a))) throw new TypeError("a tab or newline in an argument");
    const started = new Promise<number>((r) => this.#started.push(r));
    const text = new TextEncoder().encode([errFile, ...args].join("\t") + "\n");
    this.#writing = this.#writing.then(() => this.#stdin.write(text));
    return started.then((pid) => ({
      pid,
      exit: new Promise<Exit>((r) => {
        const early = this.#early.get(pid);
        if (early) {
          this.#early.delete(pid);
          r(early);
        } else this.#exits.set(pid, r);
      }),
    }));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#writing.catch(() => {});
    await this.#stdin.close().catch(() => {});
    await this.#child.status;
    await this.#reading;
  }
}

/**
 * One step of a case: bytes to either socket, the plugin's own peer
 * messages sent back (`reflect` of them; or all, until it has sent `feed`),
 * a pause, a wait for a control message of a kind (up to 5 s), or a
 * `resync` made from the plugin's last dump (waiting up to 0.3 s for one
 * under way), in or out of range as the number picks (see resyncFor()).
 */
export type Action =
  | { readonly ctl: readonly number[] }
  | { readonly peer: readonly number[] }
  | { readonly reflect: number }
  | { readonly feed: number }
  | { readonly wait: number }
  | { readonly until: string }
  | { readonly resync: number };

/** A fuzz case: how the fake QEMU and its plugin start, what they are sent, and how the run ends. */
export interface Case {
  readonly api: number;
  readonly role: "a" | "b";
  /** Plugin arguments besides role, ctl, peer and listen. */
  readonly args: readonly string[];
  /** fake_qemu's own options (--seed, --blocks, --status, --refuse, --regs…). */
  readonly host: readonly string[];
  readonly script: readonly Action[];
  /** "quit" sends the command; "eof" closes the control socket; "none" waits. */
  readonly finish: "quit" | "eof" | "none";
}

/** What a case left. */
export interface CaseResult {
  /** The exit, or "hang" when it did not end within the bound. */
  readonly exit: Exit | "hang";
  readonly stderr: string;
  /** The plugin's control messages, parsed (unparsable lines as { t: "?" }). */
  readonly messages: { t: string; [k: string]: unknown }[];
  /** The plugin's messages to its peer, 24 bytes each. */
  readonly peerOut: Uint8Array[];
  /** Milliseconds from the finish (quit, EOF) to the exit. */
  readonly endMs: number;
  /** The resync lines sent in answer to a dump. */
  readonly resyncs: number;
}

/**
 * A resync for a dump (`good`, `insns`: positions in the plugin's own
 * count): mostly one the plugin can follow (an origin between the last
 * agreeing position and where it stopped, a new epoch), else one just out
 * of range, as `pick` says.
 */
export function resyncFor(
  pick: number,
  d: { good: number; insns: number },
  epoch: number,
): string {
  const span = Math.max(0, d.insns - d.good);
  const origin = [
    d.good + (pick >>> 3) % (span + 1),
    d.insns,
    d.insns + 1,
    0,
    Math.max(0, d.good - 2 ** 24),
  ][Math.min(pick % 8, 4)]!;
  const limit = [0, 0, origin + 1 + (pick >>> 4) % 5000, origin][(pick >>> 2) % 4]!;
  const e = (pick >>> 6) % 7 === 0 ? epoch - 1 : epoch;
  return `resync ${e} ${origin} ${limit} ${(pick >>> 5) % 10000}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function writeAll(conn: Deno.Conn | undefined, bytes: Uint8Array): Promise<boolean> {
  if (!conn) return false;
  try {
    let off = 0;
    while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs one case in `dir` (its files are named after `id`) in the fork
 * server `fake`. The process gets `boundMs` to end after the finish; then
 * it is killed and the case is a hang.
 */
export async function runCase(
  fake: FakeQemu,
  dir: string,
  id: string,
  c: Case,
  boundMs = 10_000,
): Promise<CaseResult> {
  const ctlPath = `${dir}/${id}.ctl`;
  const peerPath = `${dir}/${id}.peer`;
  const errPath = `${dir}/${id}.err`;
  const ctlListener = Deno.listen({ transport: "unix", path: ctlPath });
  const peerListener = c.role === "b" ? Deno.listen({ transport: "unix", path: peerPath }) : null;
  const child = await fake.launch([
    ...c.host,
    "--",
    `role=${c.role}`,
    `ctl=${ctlPath}`,
    `peer=${peerPath}`,
    `listen=${c.role === "a" ? "on" : "off"}`,
    ...c.args,
  ], errPath);
  let exited = false;
  const exit = child.exit.then((e) => {
    exited = true;
    return e;
  });
  const kill = () => {
    try {
      Deno.kill(child.pid, "SIGKILL");
    } catch {
      // ended meanwhile
    }
  };
  const messages: { t: string; [k: string]: unknown }[] = [];
  const peerOut: Uint8Array[] = [];
  let ctl: Deno.Conn | undefined;
  let peer: Deno.Conn | undefined;
  const readers: Promise<void>[] = [];
  let endMs = 0;
  let resyncs = 0;
  let result: Exit | "hang" = "hang";
  try {
    // A plugin that connected and ended at once is still in the backlog.
    const ended = exit.then(() => sleep(300)).then(() => undefined);
    const accepted = await withTimeout(Promise.race([ctlListener.accept(), ended]), boundMs);
    ctl = accepted === "timeout" ? undefined : accepted;
    if (ctl) readers.push(readJsonLines(ctl, messages));
    const narrow = c.args.some((a) => a.startsWith("narrow="));
    if (ctl && !narrow) {
      if (peerListener) {
        const p = await withTimeout(Promise.race([peerListener.accept(), ended]), boundMs);
        peer = p === "timeout" ? undefined : p;
      } else {
        for (let i = 0; i < 2000 && !exited && !peer; i++) {
          try {
            peer = await Deno.connect({ transport: "unix", path: peerPath });
          } catch {
            await sleep(2);
          }
        }
      }
      if (peer) readers.push(readMessages(peer, peerOut));
    }
    let reflected = 0;
    for (const a of c.script) {
      if (exited) break;
      if ("ctl" in a) await writeAll(ctl, new Uint8Array(a.ctl));
      else if ("peer" in a) await writeAll(peer, new Uint8Array(a.peer));
      else if ("wait" in a) await sleep(a.wait);
      else if ("until" in a) {
        for (let i = 0; i < 500 && !exited && !messages.some((m) => m.t === a.until); i++) {
          await sleep(10);
        }
      } else if ("resync" in a) {
        const count = (t: string) => messages.filter((m) => m.t === t).length;
        // A dump under way is waited for; none begun, only briefly.
        for (let i = 0; i < 30 && !exited && count("dumped") <= resyncs; i++) {
          if (i >= 3 && count("diverged") <= resyncs) break;
          await sleep(10);
        }
        const dumps = () => count("dumped");
        const d = messages.findLast((m) => m.t === "diverged") as
          | { good: number; insns: number }
          | undefined;
        if (d && dumps() > resyncs) {
          resyncs++;
          await writeAll(ctl, new TextEncoder().encode(resyncFor(a.resync, d, resyncs) + "\n"));
        }
      } else if ("feed" in a) {
        for (let i = 0; i < 500 && !exited && peerOut.length < a.feed; i++) {
          while (reflected < peerOut.length) await writeAll(peer, peerOut[reflected++]!);
          await sleep(10);
        }
      } else {
        // The plugin's own messages so far, back to it: checkpoints that agree.
        const own = peerOut.slice(reflected, reflected + a.reflect);
        reflected += own.length;
        for (const m of own) await writeAll(peer, m);
      }
    }
    const finished = performance.now();
    // A newline first: it ends whatever line the script left unfinished.
    if (c.finish === "quit") await writeAll(ctl, new TextEncoder().encode("\nquit\n"));
    else if (c.finish === "eof") {
      try {
        ctl?.closeWrite();
      } catch {
        // already gone
      }
    }
    const e = await withTimeout(exit, boundMs);
    endMs = performance.now() - finished;
    if (e === "timeout") kill();
    else result = e;
  } finally {
    if (!exited) kill();
    await exit;
    // What the plugin wrote before it ended is read to its end first: a
    // close under the readers would lose it (seen in CI, under load).
    await withTimeout(Promise.all(readers), 2000);
    for (const x of [ctl, peer, ctlListener, peerListener]) {
      try {
        x?.close();
      } catch {
        // already closed
      }
    }
    await Promise.all(readers);
  }
  const stderr = await Deno.readTextFile(errPath).catch(() => "");
  for (const p of [ctlPath, peerPath, errPath]) await Deno.remove(p).catch(() => {});
  return { exit: result, stderr, messages, peerOut, endMs, resyncs };
}

async function readJsonLines(conn: Deno.Conn, into: { t: string }[]): Promise<void> {
  try {
    for await (const line of readLines(conn)) {
      try {
        into.push(JSON.parse(line));
      } catch {
        into.push({ t: "?", line } as { t: string });
      }
    }
  } catch {
    // closed under the read
  }
}

async function readMessages(conn: Deno.Conn, into: Uint8Array[]): Promise<void> {
  let buf = new Uint8Array(0);
  const chunk = new Uint8Array(1 << 16);
  try {
    for (;;) {
      const n = await conn.read(chunk);
      if (n === null) break;
      const all = new Uint8Array(buf.length + n);
      all.set(buf);
      all.set(chunk.subarray(0, n), buf.length);
      let off = 0;
      for (; off + 24 <= all.length; off += 24) into.push(all.slice(off, off + 24));
      buf = all.slice(off);
    }
  } catch {
    // closed under the read
  }
}

/** A peer message: type, epoch, a, b in host (little-endian) order. */
export function peerMessage(type: number, epoch: number, a: bigint, b: bigint): number[] {
  const m = new DataView(new ArrayBuffer(24));
  m.setUint32(0, type, true);
  m.setUint32(4, epoch, true);
  m.setBigUint64(8, BigInt.asUintN(64, a), true);
  m.setBigUint64(16, BigInt.asUintN(64, b), true);
  return [...new Uint8Array(m.buffer)];
}

/** A control line as bytes (a newline added). */
export function line(text: string): number[] {
  return [...new TextEncoder().encode(text + "\n")];
}

/** What a real run's plugins and harness said to each other: the fuzz test's seeds. */
export interface Traffic {
  /** A side's register list as its QEMU described it: name, feature, size. */
  readonly regs: readonly (readonly [string, string, number])[];
  /** The lines the harness sent (register answers, quit) and resyncs made from the dumps. */
  readonly commands: readonly string[];
  /** Messages between the two plugins, both ways, 24 bytes each. */
  readonly peer: readonly (readonly number[])[];
  /** The QEMU that made it. */
  readonly qemu: string;
}

/**
 * Runs `image` against `imageB` on two real QEMUs (`qemu`), with side B's
 * peer connection through a tap and the harness's commands noted, until
 * both plugins dumped or ended; returns what went over the sockets.
 */
export async function recordTraffic(
  qemu: string | undefined,
  image: string,
  imageB: string,
): Promise<Traffic> {
  const plan = await planRun({ arch: "x86_64", image, imageB, qemu, interval: 1024 });
  const plugin = await buildPlugin({
    source: "lockstep",
    api: plan.a.qemu.pluginApi,
    qemuPath: plan.a.qemu.path,
  });
  const peer: number[][] = [];
  const commands: string[] = [];
  const taps: Promise<void>[] = [];
  let tapListener: Deno.Listener | undefined;
  const tap = (dir: string) => {
    const listener = Deno.listen({ transport: "unix", path: `${dir}/tap.sock` });
    tapListener = listener;
    taps.push((async () => {
      const b = await listener.accept();
      let a: Deno.Conn | undefined;
      for (let i = 0; i < 3000 && !a; i++) {
        try {
          a = await Deno.connect({ transport: "unix", path: `${dir}/peer.sock` });
        } catch {
          await sleep(5);
        }
      }
      if (!a) return;
      // Forward every byte at once; note each whole message.
      const pump = async (from: Deno.Conn, to: Deno.Conn) => {
        const chunk = new Uint8Array(1 << 16);
        let buf: number[] = [];
        try {
          for (;;) {
            const n = await from.read(chunk);
            if (n === null) break;
            await writeAll(to, chunk.slice(0, n));
            buf = buf.concat([...chunk.subarray(0, n)]);
            for (; buf.length >= 24; buf = buf.slice(24)) peer.push(buf.slice(0, 24));
          }
        } catch {
          // closed under the read
        }
        try {
          to.closeWrite();
        } catch {
          // gone
        }
      };
      await Promise.all([pump(a, b), pump(b, a)]);
    })());
  };
  let regs: (readonly [string, string, number])[] = [];
  const dumps: { good: number; bad: number; insns: number }[] = [];
  {
    await using pair = await SidePair.open({
      plan,
      args: (side, dir) => {
        const argv = sideArgv({ plan, side, runDir: dir, plugin, pass: { kind: "lockstep" } });
        if (side.role === "a") return argv;
        tap(dir);
        return argv.map((x) => x.replace(`${dir}/peer.sock`, `${dir}/tap.sock`));
      },
    });
    const send = pair.send.bind(pair);
    pair.send = (role, text) => {
      commands.push(text);
      return send(role, text);
    };
    const seen = { a: new Set<string>(), b: new Set<string>() };
    const deadline = Date.now() + 60_000;
    // One next() at a time: one left behind by the race with the clock
    // would take a message (a "diverged" seen lost under load in CI).
    let pending: ReturnType<typeof pair.next> | undefined;
    while (Date.now() < deadline) {
      const ended = (["a", "b"] as const).every((r) =>
        seen[r].has("dumped") || seen[r].has("end") || seen[r].has("closed")
      );
      if (ended) break;
      pending ??= pair.next();
      const got = await Promise.race([pending, sleep(1000).then(() => "tick" as const)]);
      if (got === "tick") continue;
      pending = undefined;
      const next = got;
      if (!next) continue;
      seen[next.role].add(next.msg.t);
      if (next.msg.t === "regs") {
        regs = next.msg.regs.map((r) => [r.name, r.feature, r.size] as const);
      }
      if (next.msg.t === "diverged") dumps.push(next.msg);
    }
    await pair.stop();
  }
  tapListener?.close();
  await Promise.race([Promise.all(taps), sleep(2000)]);
  // The resyncs the session would send after an excursion there.
  for (const [i, d] of dumps.entries()) {
    commands.push(resyncCommand({ epoch: i + 1, origin: d.bad, limit: 0, regsNext: d.insns }));
    commands.push(resyncCommand({ epoch: 1, origin: d.good, limit: d.insns + 1, regsNext: 0 }));
  }
  return { regs, commands, peer, qemu: plan.a.qemu.path };
}

// The plugin under AddressSanitizer and UBSan, inside a fake QEMU
// (testdata/fake_qemu.c), driven through its control and peer sockets:
// first the faults that once broke it, then thousands of random messages
// and mutations of what a real run sends. No sanitizer report, no hang,
// and the plugin ends its QEMU on "quit" and on the end of the control
// channel. LOCKSTEP_FUZZ_CASES (default 400) and LOCKSTEP_FUZZ_SEED set
// the amount and the seed: a soak is LOCKSTEP_FUZZ_CASES=100000.
import { QEMU_10_2_DIR } from "../../cli/setup_qemus.ts";
import {
  type Action,
  buildFakeQemu,
  type Case,
  type CaseResult,
  FakeQemu,
  line,
  peerMessage,
  recordTraffic,
  runCase,
  SANITIZER_REPORT,
  type Traffic,
} from "./_plugin_host.ts";
import { GUESTS, tempDir } from "./_cli.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

const CASES = Number(Deno.env.get("LOCKSTEP_FUZZ_CASES") ?? 400);
const SEED = Number(Deno.env.get("LOCKSTEP_FUZZ_SEED") ?? Date.now() % 1_000_000);
/** A directory to save failing cases to (JSON, for replay_fuzz_case). */
const SAVE = Deno.env.get("LOCKSTEP_FUZZ_SAVE");
/** Cases at once: each mostly waits on sockets and process ends. */
const WORKERS = Number(Deno.env.get("LOCKSTEP_FUZZ_WORKERS") ?? 4);
/** Exit codes: "quit" (EXIT_QUIT), the control channel's end (EXIT_ORCHESTRATOR_LOST), fake_qemu's own. */
const QUIT = 0;
const ORCHESTRATOR_LOST = 3;
const HOST_REFUSED = 1;

/** A small seeded generator (mulberry32): the same seed, the same cases. */
class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  u64(): bigint {
    return (BigInt(this.int(2 ** 32)) << 32n) | BigInt(this.int(2 ** 32));
  }
}

const EDGE_NUMBERS = [
  "0",
  "1",
  "2",
  "4095",
  "4096",
  "65",
  "4294967295",
  "4294967296",
  "9223372036854775807",
  "18446744073709551615",
  "18446744073709551616",
  "99999999999999999999999",
  "-1",
  "+1",
  "0x10",
  "1e3",
  "",
  " ",
  "07",
];
const EDGE_U64 = [0n, 1n, 2n, 3n, 64n, 4096n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 63n, 2n ** 64n - 1n];
const EDGE_U32 = [0, 1, 2, 3, 4, 5, 7, 0x7fffffff, 0xffffffff];

/** A mutation of a command line the harness sent. */
function mutateLine(rng: Rng, text: string): string {
  const words = text.split(" ");
  const at = rng.int(words.length);
  switch (rng.int(10)) {
    case 0:
      words[at] = rng.pick(EDGE_NUMBERS);
      break;
    case 1:
      words.splice(at, 1);
      break;
    case 2:
      words.splice(at, 0, words[at] ?? "0");
      break;
    case 3:
      // Far more indices than any register list.
      return [
        words[0],
        ...Array(rng.pick([70, 500, 4000, 8000])).fill(rng.pick(words.slice(1)) ?? "0"),
      ]
        .join(" ");
    case 4:
      words[0] = rng.pick(["REGS", "resync", "regs", "quit", "quitx", "", "resync\t", "\u0000"]);
      break;
    case 5:
      words.splice(at, 0, String.fromCharCode(rng.int(32)));
      break;
    case 6:
      return text + "\r";
    case 7:
      return words.slice(0, at).join(" ");
    case 8:
      for (let i = 1; i < words.length; i++) {
        if (rng.chance(0.3) && /^\d+$/.test(words[i]!)) {
          words[i] = String(BigInt(words[i]!) + BigInt(rng.int(3) - 1));
        }
      }
      break;
    default:
      words[at] = String(rng.u64());
  }
  return words.join(" ");
}

/** A mutation of a message between the plugins. */
function mutateMessage(rng: Rng, msg: readonly number[]): number[] {
  const m = new DataView(new Uint8Array(msg).buffer);
  switch (rng.int(7)) {
    case 0:
      m.setUint32(0, rng.pick(EDGE_U32), true);
      break;
    case 1:
      m.setUint32(4, rng.pick(EDGE_U32), true);
      break;
    case 2:
      m.setBigUint64(8, rng.pick(EDGE_U64), true);
      break;
    case 3:
      m.setBigUint64(16, rng.chance(0.5) ? rng.pick(EDGE_U64) : rng.u64(), true);
      break;
    case 4: {
      const bit = rng.int(24 * 8);
      m.setUint8(bit >> 3, m.getUint8(bit >> 3) ^ (1 << (bit & 7)));
      break;
    }
    case 5:
      // Cut short: the rest may never come.
      return [...new Uint8Array(m.buffer)].slice(0, 1 + rng.int(23));
    default:
      m.setBigUint64(8, m.getBigUint64(8, true) + BigInt(rng.int(2000) - 1000), true);
  }
  return [...new Uint8Array(m.buffer)];
}

function randomBytes(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.int(256));
}

/** One step of a script, from the recorded traffic or from nothing. */
function action(rng: Rng, traffic: Traffic): Action[] {
  const bytes = (s: string) => [...new TextEncoder().encode(s)];
  switch (rng.int(14)) {
    case 0:
    case 1: {
      const text = rng.pick(traffic.commands);
      return [{ ctl: line(rng.chance(0.7) ? mutateLine(rng, text) : text) }];
    }
    case 2:
    case 3: {
      const msg = rng.pick(traffic.peer);
      return [{ peer: rng.chance(0.7) ? mutateMessage(rng, msg) : [...msg] }];
    }
    case 4:
      return [{ reflect: 1 + rng.int(200) }];
    case 5:
      return [{ wait: rng.int(6) }];
    case 6: {
      // A line in pieces, or a message across writes.
      const whole = rng.chance(0.5)
        ? line(rng.pick(traffic.commands))
        : [...rng.pick(traffic.peer)];
      const cut = rng.int(whole.length);
      const key = whole.length === 24 && whole[whole.length - 1] !== 10 ? "peer" : "ctl";
      const first = whole.slice(0, cut);
      const rest = whole.slice(cut);
      return key === "peer"
        ? [{ peer: first }, { wait: rng.int(3) }, { peer: rest }]
        : [{ ctl: first }, { wait: rng.int(3) }, { ctl: rest }];
    }
    case 7:
      return [{ ctl: randomBytes(rng, rng.int(200)).concat(rng.chance(0.7) ? [10] : []) }];
    case 8:
      return [{ peer: randomBytes(rng, 1 + rng.int(60)) }];
    case 9: {
      // Checkpoints of the right shape, counts going up from somewhere.
      const from = rng.chance(0.5) ? 1n : rng.pick(EDGE_U64);
      const epoch = rng.chance(0.8) ? 0 : rng.pick(EDGE_U32);
      return Array.from({ length: 1 + rng.int(50) }, (_, i) => ({
        peer: peerMessage(1, epoch, from + BigInt(i), rng.u64()),
      }));
    }
    case 10: {
      // The longest lines: at, just past and far past what the plugin reads.
      const n = rng.pick([16382, 16383, 16384, 20000, 70000]);
      const head = rng.pick(["regs ", "resync ", "quit ", ""]);
      return [{ ctl: bytes(head + "1 ".repeat(n).slice(0, n - head.length) + "\n") }];
    }
    case 12:
      // Disagree, then answer the dump as the harness would (or nearly).
      return [
        { peer: peerMessage(4, 0, BigInt(rng.int(3000)), BigInt(rng.int(3000))) },
        { resync: rng.int(2 ** 30) },
      ];
    case 13:
      return [{ reflect: 1 + rng.int(50) }, { resync: rng.int(2 ** 30) }];
    default: {
      const t = rng.pick([2, 3, 4]);
      return [{
        peer: peerMessage(t, rng.pick(EDGE_U32.slice(0, 3)), rng.pick(EDGE_U64), rng.u64()),
      }];
    }
  }
}

/** A random case: the plugin's arguments, the fake guest, the script and its end. */
function makeCase(rng: Rng, traffic: Traffic, apis: readonly number[], regsFile: string): Case {
  const api = rng.pick(apis);
  const interval = rng.pick([1, 3, 16, 64, 256, 4096]);
  const args = [
    `interval=${interval}`,
    `window=${interval * rng.pick([0, 1, 2, 4, 16, 100])}`,
    `history=${rng.pick([0, 1, 8, 50])}`,
  ];
  // The fast pass (fast.c from API 3, exec.c's callback before) neither
  // compares memory nor narrows nor runs on.
  const fast = rng.chance(0.3);
  if (fast) args.push("fast=on");
  if (!fast && rng.chance(0.3)) args.push(`reconverge=${rng.pick([1, 100, 5000])}`);
  if (rng.chance(0.2)) args.push(`maxinsns=${1 + rng.int(5000)}`);
  if (!fast && rng.chance(0.5)) {
    args.push("mem=on", `memvalues=${rng.chance(0.5) ? "on" : "off"}`);
  }
  if (rng.chance(0.4)) args.push("sys=on");
  if (api >= 2 && rng.chance(0.5)) args.push("regs=on", `regsevery=${rng.pick([1, 7, 4096])}`);
  if (!fast && api >= 2 && rng.chance(0.08)) {
    const from = rng.int(3000);
    args.push(`narrow=${from}:${from + rng.int(200)}`);
  }
  const host = [
    "--seed",
    String(rng.int(2 ** 31)),
    "--blocks",
    String(rng.pick([0, 1, 5, 50, 400, 3000])),
    "--status",
    String(rng.pick([42, 77, 100])),
  ];
  if (rng.chance(0.05)) host.push("--refuse");
  if (rng.chance(0.2)) host.push("--system");
  if (traffic.regs.length) host.push("--regs", regsFile);
  const script: Action[] = [];
  const steps = 1 + rng.int(30);
  for (let i = 0; i < steps; i++) script.push(...action(rng, traffic));
  return {
    api,
    role: rng.chance(0.5) ? "a" : "b",
    args,
    host,
    script,
    finish: rng.chance(0.55) ? "quit" : "eof",
  };
}

/** fake_qemu's own exit status in a case (as QEMU's own at the guest's end). */
function ownStatus(c: Case): number {
  return Number(c.host[c.host.indexOf("--status") + 1] ?? 0);
}

/** Whether a case's script sends a line that is a quit. */
function sendsQuit(c: Case): boolean {
  // A resync the host sends (when a dump came) ends the line the script
  // left unfinished: a "quit" after one may then be a line of its own.
  const newline = "\n".charCodeAt(0);
  const bytes = c.script.flatMap((a) => "ctl" in a ? a.ctl : "resync" in a ? [newline] : []);
  return new TextDecoder().decode(new Uint8Array(bytes)).split("\n").some((l) =>
    l.split(" ")[0] === "quit"
  );
}

/**
 * The exit statuses a case may end with: the finish's (or a quit its
 * script sent), or QEMU's own at the guest's end; a plugin that refused
 * its arguments, fake_qemu's refusal.
 */
function allowed(c: Case, r: CaseResult): number[] {
  const codes = [ownStatus(c)];
  if (c.finish === "quit" || sendsQuit(c)) codes.push(QUIT);
  if (c.finish === "eof") codes.push(ORCHESTRATOR_LOST);
  if (!r.messages.some((m) => m.t === "hello")) codes.push(HOST_REFUSED);
  return codes;
}

/** What went wrong in a case, or undefined. */
function fault(c: Case, r: CaseResult): string | undefined {
  if (SANITIZER_REPORT.test(r.stderr)) return `sanitizer report:\n${r.stderr.slice(0, 3000)}`;
  if (r.exit === "hang") return `no exit within the bound after ${c.finish}`;
  if (r.exit.signal) return `killed by signal ${r.exit.signal}:\n${r.stderr.slice(0, 1000)}`;
  if (!allowed(c, r).includes(r.exit.code)) {
    return `exit code ${r.exit.code}, not ${allowed(c, r).join(" or ")}:\n${
      r.stderr.slice(0, 1000)
    }`;
  }
  return undefined;
}

Deno.test("the plugin under AddressSanitizer survives hostile control lines and peer messages", async (t) => {
  await using dir = await tempDir();
  const apis = [5, 1];
  const exes = await Promise.all(apis.map((api) => buildFakeQemu(dir.path, api)));
  await using v5 = new FakeQemu(exes[0]!);
  await using v1 = new FakeQemu(exes[1]!);
  const fakes: Record<number, FakeQemu> = { 5: v5, 1: v1 };
  const q10 = `${QEMU_10_2_DIR}qemu-x86_64`;
  const traffic = await recordTraffic(
    await Deno.stat(q10).then(() => q10, () => undefined),
    `${GUESTS}x86_64-hello`,
    `${GUESTS}x86_64-hello-variant`,
  );
  const regsFile = `${dir.path}/regs.tsv`;
  await Deno.writeTextFile(regsFile, traffic.regs.map((r) => r.join("\t")).join("\n"));
  const run = (c: Case, id: string, boundMs?: number) =>
    runCase(fakes[c.api]!, dir.path, id, c, boundMs);
  const clean = (r: CaseResult) => ok(!SANITIZER_REPORT.test(r.stderr), r.stderr.slice(0, 3000));
  const regsOn = traffic.regs.length > 0;
  const withV5 = (args: string[], host: string[] = []) => ({
    api: 5,
    role: "b" as const,
    args: ["interval=64", "window=256", ...args],
    host: ["--status", "42", ...(regsOn ? ["--regs", regsFile] : []), ...host],
  });
  const errors = (r: CaseResult) =>
    r.messages.filter((m) => m.t === "error").map((m) => String(m.msg));

  await t.step("a real run gave seeds: register answers, quit, resyncs and peer messages", () => {
    ok(traffic.commands.some((c) => c === "quit"));
    ok(traffic.commands.some((c) => c.startsWith("resync ")));
    ok(traffic.peer.length > 2, `${traffic.peer.length} peer messages`);
    if (regsOn) ok(traffic.commands.some((c) => c.startsWith("regs ")));
  });

  await t.step({
    name: "a regs answer longer than the register list is refused, nothing written past it",
    ignore: !regsOn,
    fn: async () => {
      const r = await run({
        ...withV5(["regs=on"], ["--blocks", "50"]),
        script: [
          { until: "regs" },
          { ctl: line("regs " + Array(8000).fill(0).join(" ")) },
          { until: "error" },
        ],
        finish: "quit",
      }, "regs");
      clean(r);
      deepEqual(r.exit, { code: QUIT, signal: 0 });
      match(errors(r).join("\n"), /regs names 8000 registers, but this vCPU has \d+/);
    },
  });

  await t.step(
    "a resync before what the block ring holds is refused, nothing read past it",
    async () => {
      // Agreeing checkpoints (the plugin's own, sent back) until its ring of
      // 512 blocks has wrapped, then a stop: it dumps and waits for a resync.
      const r = await run({
        ...withV5([], ["--blocks", "5000"]),
        script: [
          { feed: 400 },
          { peer: peerMessage(4, 0, 0n, 1n) },
          { until: "dumped" },
          { ctl: line("resync 1 0 0 0") },
          { until: "error" },
        ],
        finish: "quit",
      }, "resync");
      clean(r);
      ok(r.messages.some((m) => m.t === "dumped"), "no dump");
      match(errors(r).join("\n"), /resync refused: origin 0 is before the oldest block kept/);
      deepEqual(r.exit, { code: QUIT, signal: 0 });
    },
  );

  await t.step(
    "a peer message cut short blocks neither quit nor the control channel's end",
    async () => {
      for (const finish of ["quit", "eof"] as const) {
        const r = await run(
          {
            ...withV5([], ["--blocks", "3000"]),
            script: [{ peer: peerMessage(1, 0, 1n, 2n).slice(0, 10) }, { wait: 50 }],
            finish,
          },
          `cut-${finish}`,
          3000,
        );
        clean(r);
        deepEqual(r.exit, { code: finish === "quit" ? QUIT : ORCHESTRATOR_LOST, signal: 0 });
      }
    },
  );

  await t.step("an unknown command line is reported as an error and ignored", async () => {
    const r = await run({
      ...withV5([], ["--blocks", "3000"]),
      script: [{ ctl: line("bogus 1 2") }, { wait: 100 }, { ctl: line("regs 1") }, { wait: 50 }],
      finish: "quit",
    }, "unknown");
    clean(r);
    deepEqual(errors(r), [
      "unknown command from the orchestrator: bogus",
      "a regs command came when no register list was asked for",
    ]);
    // Still running until the quit: its own exit code, not the guest's.
    deepEqual(r.exit, { code: QUIT, signal: 0 });
  });

  await t.step("quit while QEMU exits: QEMU ends with its own status", async () => {
    const r = await run({
      ...withV5(["window=100000"], ["--blocks", "10"]),
      script: [{ until: "end" }],
      finish: "quit",
    }, "exit");
    clean(r);
    ok(r.messages.some((m) => m.t === "end"), "the guest did not end");
    deepEqual(r.exit, { code: 42, signal: 0 });
  });

  await t.step(
    "a side that ran no instruction reports its end and lets QEMU exit at once",
    async () => {
      const r = await run(
        {
          ...withV5([], ["--refuse", "--status", "255"]),
          script: [],
          finish: "none",
        },
        "refuse",
        3000,
      );
      clean(r);
      deepEqual(r.messages.map((m) => m.t), ["hello", "end"]);
      deepEqual(r.exit, { code: 255, signal: 0 });
      // It told its peer too: its stream ended at 0.
      deepEqual([...(r.peerOut[0] ?? [])], peerMessage(2, 0, 0n, 0n));
    },
  );

  await t.step(
    `${CASES} random and mutated cases (seed ${SEED}): no sanitizer report, no hang`,
    async () => {
      const rng = new Rng(SEED);
      const cases = Array.from({ length: CASES }, () => makeCase(rng, traffic, apis, regsFile));
      const faults: string[] = [];
      const stats = {
        sent: 0,
        quit: 0,
        eof: 0,
        ownStatus: 0,
        errors: 0,
        dumps: 0,
        resyncs: 0,
        refused: 0,
        slowestMs: 0,
      };
      const started = performance.now();
      let next = 0;
      await Promise.all(Array.from({ length: WORKERS }, async (_, w) => {
        while (next < cases.length && faults.length < 5) {
          const i = next++;
          const c = cases[i]!;
          const r = await run(c, `f${w}`);
          const why = fault(c, r);
          if (why) {
            faults.push(`case ${i} (seed ${SEED}): ${why}\n${JSON.stringify(c).slice(0, 2000)}`);
            if (SAVE) await Deno.writeTextFile(`${SAVE}/case-${SEED}-${i}.json`, JSON.stringify(c));
          }
          stats.sent += c.script.length;
          stats.errors += r.messages.filter((m) => m.t === "error").length;
          stats.dumps += r.messages.filter((m) => m.t === "dumped").length;
          stats.resyncs += r.resyncs;
          stats.refused += r.messages.filter((m) => /^resync refused/.test(String(m.msg))).length;
          stats.slowestMs = Math.max(stats.slowestMs, r.endMs);
          if (r.exit !== "hang") {
            if (r.exit.code === ownStatus(c)) stats.ownStatus++;
            else if (r.exit.code === QUIT) stats.quit++;
            else if (r.exit.code === ORCHESTRATOR_LOST) stats.eof++;
          }
        }
      }));
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `plugin fuzz: ${CASES} cases, ${stats.sent} actions in ${seconds.toFixed(1)} s; ` +
          `ended by quit ${stats.quit}, by EOF ${stats.eof}, with QEMU's own status ${stats.ownStatus}; ` +
          `${stats.errors} commands refused, ${stats.dumps} dumps, ${stats.resyncs} resyncs answering ` +
          `them (${stats.refused} refused as out of range); slowest end ${
            Math.round(stats.slowestMs)
          } ms`,
      );
      equal(faults.length, 0, faults.join("\n\n"));
      // Every way of ending was seen.
      ok(stats.quit > 0 && stats.eof > 0 && stats.ownStatus > 0, JSON.stringify(stats));
    },
  );
  // Nothing left: every case removed its sockets.
  const left = [];
  for await (const e of Deno.readDir(dir.path)) left.push(e.name);
  deepEqual(left.filter((n) => !/^fake_qemu-v\d$|^regs\.tsv$/.test(n)), []);
});

// Environment differences: which first differing events are the host's
// answer (a system call's result or what it wrote, a read of the host's
// counter) rather than TCG's, and the sentence the verdict says then.
import {
  counterDifference,
  counterReadBefore,
  describeEnvironment,
  deviceDifference,
  deviceReadBefore,
  environmentDetail,
  environmentDifference,
  signalDifference,
} from "../../harness/verdict/environment.ts";
import { type DumpBlock, type DumpEvent, EventKind } from "../../harness/core/protocol.ts";
import { syscallNumber } from "../../harness/core/syscalls.ts";
import { decodeDetail } from "../../harness/trace/codec.ts";
import { openTrace, readChunk, traceBytes } from "../../harness/trace/reader.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

const TESTDATA = new URL("./testdata/", import.meta.url).pathname;

const GETRANDOM = syscallNumber("x86_64", "getrandom")!;
const READ = syscallNumber("x86_64", "read")!;

const ev = (kind: number, a: number | bigint, v: bigint, size = 0, pos = 100): DumpEvent => ({
  pos,
  kind,
  a: BigInt(a),
  size,
  v,
});
const sysret = (number: number, ret: bigint) => ev(EventKind.SYSRET, number, ret);
const sysout = (number: number, offset: number, bytes: bigint) =>
  ev(EventKind.SYSOUT, number, bytes, offset);

Deno.test("a system call's answer that differs is the environment's, with what each side got", async (t) => {
  await t.step("a result, in signed decimal, of a call the shim answers", () => {
    const d = environmentDifference(
      sysret(GETRANDOM, 16n),
      sysret(GETRANDOM, 0xffff_ffff_ffff_fff5n),
      "x86_64",
    );
    ok(d);
    const { hint, ...rest } = d;
    deepEqual(rest, { call: "getrandom", number: 318, what: "result", a: "16", b: "-11" });
    match(hint, /lockstep answers getrandom with fixed values on both sides/);
    match(hint, /one side's QEMU ran without it/);
  });

  await t.step("a result of a call the host answers (a real trace's write)", async () => {
    const hello = await openTrace(
      traceBytes(await Deno.readFile(`${TESTDATA}hello-7.2.trace`)),
      "hello-7.2.trace",
    );
    const raw = await readChunk(hello, hello.chunks[0]!);
    const ret = [...decodeDetail(raw.start, raw.detailBytes, "t")].find((d) => d.kind === "sysret");
    ok(ret?.kind === "sysret");
    const x = { pos: ret.pos, kind: EventKind.SYSRET, a: ret.number, size: 0, v: ret.ret };
    const d = environmentDifference(x, { ...x, v: ret.ret - 1n }, "x86_64");
    equal(d?.call, "write");
    equal(d?.a, "11");
    equal(d?.b, "10");
    match(d!.hint, /the host answered differently.*QEMU's emulation of write; not TCG's doing/);
  });

  await t.step("bytes written, in hex, at their offset", () => {
    const d = environmentDifference(
      sysout(GETRANDOM, 8, 0x1122334455667788n),
      sysout(GETRANDOM, 8, 0xabn),
      "x86_64",
    );
    ok(d);
    const { hint: _, ...rest } = d;
    deepEqual(rest, {
      call: "getrandom",
      number: 318,
      what: "output",
      offset: 8,
      a: "0x1122334455667788",
      b: "0xab",
    });
  });

  await t.step("a call with no name is named by its number", () => {
    const d = environmentDifference(sysret(9999, 1n), sysret(9999, 2n), "x86_64");
    equal(d?.call, "syscall 9999");
    equal(d?.number, 9999);
    match(d!.hint, /emulation of syscall 9999/);
  });

  await t.step("names are the architecture's own", () => {
    // 278 is getrandom in asm-generic's table (aarch64), 0 read in x86_64's.
    equal(environmentDifference(sysret(278, 1n), sysret(278, 2n), "aarch64")?.call, "getrandom");
    equal(environmentDifference(sysret(0, 1n), sysret(0, 2n), "x86_64")?.call, "read");
  });

  await t.step("one side has none: its value is null", () => {
    const only = sysret(READ, 5n);
    const sides = (d: ReturnType<typeof environmentDifference>) => [d?.a, d?.b];
    deepEqual(sides(environmentDifference(only, undefined, "x86_64")), ["5", null]);
    deepEqual(sides(environmentDifference(undefined, only, "x86_64")), [null, "5"]);
  });

  await t.step("bytes written on one side where the other returned: none written there", () => {
    const d = environmentDifference(sysout(READ, 8, 0x41n), sysret(READ, 8n), "x86_64");
    equal(d?.what, "output");
    equal(d?.a, "0x41");
    equal(d?.b, null);
  });
});

Deno.test("a difference that is not a system call's answer to the same call is not the environment's", async (t) => {
  const x86 = (x: DumpEvent | undefined, y: DumpEvent | undefined) =>
    environmentDifference(x, y, "x86_64");
  await t.step("nothing on either side", () => equal(x86(undefined, undefined), undefined));
  await t.step("another call's answer (the numbers differ)", () => {
    equal(x86(sysret(READ, 1n), sysret(GETRANDOM, 1n)), undefined);
    equal(x86(sysout(READ, 0, 1n), sysout(GETRANDOM, 0, 2n)), undefined);
  });
  await t.step("the call itself (its arguments differ)", () => {
    equal(x86(ev(EventKind.SYSCALL, READ, 1n), ev(EventKind.SYSCALL, READ, 2n)), undefined);
    equal(x86(ev(EventKind.SYSCALL, READ, 1n), undefined), undefined);
  });
  await t.step("an answer against a call, a memory access or a register snapshot", () => {
    for (const kind of [EventKind.SYSCALL, EventKind.LOAD, EventKind.STORE, EventKind.REGS]) {
      equal(x86(sysret(READ, 1n), ev(kind, READ, 1n)), undefined, `kind ${kind}`);
      equal(x86(ev(kind, READ, 1n), sysret(READ, 1n)), undefined, `kind ${kind}`);
    }
  });
  await t.step("memory and registers alone", () => {
    equal(x86(ev(EventKind.LOAD, 0x1000, 1n, 8), ev(EventKind.LOAD, 0x1000, 2n, 8)), undefined);
    equal(x86(ev(EventKind.REGS, 0x1000, 1n), ev(EventKind.REGS, 0x1000, 2n)), undefined);
  });
});

Deno.test("the last read of the host's counter at or before a position is found in the blocks", async (t) => {
  // 0x1000: nop; rdtsc; rdtscp. 0x2000 (from 10): rdtsc.
  const blocks: DumpBlock[] = [
    { i: 0, pc: 0x1000n, sizes: [1, 2, 3], bytes: "90" + "0f31" + "0f01f9" },
    { i: 10, pc: 0x2000n, sizes: [2], bytes: "0f31" },
  ];
  await t.step("x86 rdtsc and rdtscp, with their index and address", () => {
    equal(counterReadBefore(blocks, 0, "x86_64"), undefined);
    deepEqual(counterReadBefore(blocks, 1, "x86_64"), { insn: 1, pc: 0x1001n, name: "rdtsc" });
    deepEqual(counterReadBefore(blocks, 9, "x86_64"), { insn: 2, pc: 0x1003n, name: "rdtscp" });
    deepEqual(counterReadBefore(blocks, 10, "x86_64"), { insn: 10, pc: 0x2000n, name: "rdtsc" });
    deepEqual(counterReadBefore(blocks, 1e9, "x86_64"), { insn: 10, pc: 0x2000n, name: "rdtsc" });
  });

  await t.step("only whole instructions: the bytes across two do not count", () => {
    // Two instructions whose bytes join to 0f 31 across their boundary; one that starts so.
    const split: DumpBlock[] = [{ i: 0, pc: 0x1000n, sizes: [2, 2], bytes: "570f" + "31c0" }];
    equal(counterReadBefore(split, 5, "x86_64"), undefined);
    const longer: DumpBlock[] = [{ i: 0, pc: 0x1000n, sizes: [3], bytes: "0f31c0" }];
    equal(counterReadBefore(longer, 5, "x86_64"), undefined);
  });

  await t.step("aarch64 mrs of a counter register, into any register", () => {
    const a64: DumpBlock[] = [{
      i: 0,
      pc: 0x400000n,
      sizes: [4, 4, 4],
      // mrs x3, cntvct_el0; nop; mrs x30, cntpct_el0 (little-endian words)
      bytes: "43e03bd5" + "1f2003d5" + "3ee03bd5",
    }];
    deepEqual(counterReadBefore(a64, 1, "aarch64"), {
      insn: 0,
      pc: 0x400000n,
      name: "mrs cntvct_el0",
    });
    deepEqual(counterReadBefore(a64, 2, "aarch64"), {
      insn: 2,
      pc: 0x400008n,
      name: "mrs cntpct_el0",
    });
    // The same bytes are no read on x86_64, nor on an architecture without a rule.
    equal(counterReadBefore(a64, 2, "x86_64"), undefined);
    equal(counterReadBefore(blocks, 10, "riscv64"), undefined);
  });
});

Deno.test("a value that differs after a counter read is likely the counter's, said with care", async (t) => {
  const read = { insn: 40, pc: 0x401234n, name: "rdtsc" };
  await t.step("a load's, a store's or the registers' value, at the same address and size", () => {
    for (const kind of [EventKind.LOAD, EventKind.STORE, EventKind.REGS]) {
      const d = counterDifference(ev(kind, 0x7ff0, 1n, 8), ev(kind, 0x7ff0, 0x2an, 8), read);
      ok(d, `kind ${kind}`);
      const { hint, ...rest } = d;
      deepEqual(rest, { call: "rdtsc", what: "counter", insn: 40, a: "0x1", b: "0x2a" });
      match(hint, /rdtsc at instruction 40, 0x401234/);
      match(hint, /Most likely not TCG's doing/);
    }
  });
  await t.step("not when the access itself differs, or one side has none", () => {
    const x = ev(EventKind.LOAD, 0x7ff0, 1n, 8);
    equal(counterDifference(x, { ...x, a: 0x7ff8n, v: 2n }, read), undefined);
    equal(counterDifference(x, { ...x, size: 4, v: 2n }, read), undefined);
    equal(counterDifference(x, { ...x, kind: EventKind.STORE, v: 2n }, read), undefined);
    equal(counterDifference(x, undefined, read), undefined);
    equal(counterDifference(undefined, x, read), undefined);
  });
  await t.step("a system call's arguments (a value the guest computed)", () => {
    const d = counterDifference(
      ev(EventKind.SYSCALL, READ, 1n),
      ev(EventKind.SYSCALL, READ, 2n),
      read,
    );
    deepEqual(d && { ...d, hint: "" }, {
      call: "rdtsc",
      what: "counter",
      insn: 40,
      a: "0x1",
      b: "0x2",
      hint: "",
    });
    // Another call is no such difference.
    equal(
      counterDifference(ev(EventKind.SYSCALL, READ, 1n), ev(EventKind.SYSCALL, 1, 2n), read),
      undefined,
    );
  });
  await t.step("not a system call's result (the shim's, or the host's answer)", () => {
    equal(counterDifference(sysret(READ, 1n), sysret(READ, 2n), read), undefined);
  });
});

Deno.test("the verdict's sentence says the call, both sides' values and where", async (t) => {
  await t.step("a result", () => {
    const d = environmentDifference(sysret(GETRANDOM, 16n), sysret(GETRANDOM, 8n), "x86_64")!;
    equal(
      describeEnvironment(d, 2349),
      "The environment differs at instruction 2349: getrandom (318) returned 16 on side a, 8 on side b",
    );
  });
  await t.step("what was written, where one side wrote nothing", () => {
    const d = environmentDifference(sysout(GETRANDOM, 16, 0xffn), undefined, "x86_64")!;
    equal(
      describeEnvironment(d, 7),
      "The environment differs at instruction 7: getrandom (318) wrote 0xff on side a, " +
        "nothing on side b (at byte 16 of what it wrote)",
    );
  });
  await t.step("a value after a counter read", () => {
    const read = { insn: 40, pc: 0x401234n, name: "rdtsc" };
    const d = counterDifference(
      ev(EventKind.STORE, 0x7ff0, 1n, 8),
      ev(EventKind.STORE, 0x7ff0, 2n, 8),
      read,
    )!;
    equal(
      describeEnvironment(d, 45),
      "The environment differs at instruction 45: a value differs (0x1 on side a, 0x2 on " +
        "side b) after rdtsc read the host's counter at instruction 40",
    );
  });
});

Deno.test("a signal's handler on one side: named where known, said as possible where not", () => {
  const H = 0x4001b0n;
  const known = { handlers: [{ sig: 17, pc: H }], forks: 1 };
  // One side at the handler: the signal's, the handler named.
  const at = signalDifference([known, known], [0x400281n, H], "x86_64")!;
  equal(at.what, "signal");
  equal(at.call, "SIGCHLD");
  equal(at.handler, "0x4001b0");
  equal(
    environmentDetail(at),
    "SIGCHLD's handler (0x4001b0) runs there on one side only (side a " +
      "at 0x400281, side b at 0x4001b0)",
  );
  // The next instruction is the handler on one side (QEMU 7.2's signal frame's stores first).
  const next = signalDifference([known, known], [0x400295n, 0x400295n], "x86_64", [0x400281n, H])!;
  match(
    environmentDetail(next),
    /^SIGCHLD's handler \(0x4001b0\) runs right after it on one side only/,
  );
  // Neither side at it: TCG's, as far as signals go.
  equal(signalDifference([known, known], [0x400281n, 0x400285n], "x86_64"), undefined);
  // Where unknown (API < 4): SIGCHLD counts once the process forked.
  const unknown = { handlers: [{ sig: 17, pc: null }] };
  equal(signalDifference([unknown, unknown], [0x400295n, 0x400295n], "x86_64"), undefined);
  const maybe = signalDifference(
    [{ ...unknown, forks: 1 }, unknown],
    [0x400295n, 0x400295n],
    "x86_64",
  )!;
  equal(maybe.handler, undefined);
  match(environmentDetail(maybe), /handles SIGCHLD, whose handler may run there on one side only$/);
  // A SIGINT handler waits for a kill nobody sends in a run: nothing said.
  equal(
    signalDifference([{ handlers: [{ sig: 2, pc: null }], forks: 1 }, {}], [1n, 2n], "x86_64"),
    undefined,
  );
  // Another signal of the moment counts without a fork; sparc numbers its own.
  equal(
    signalDifference([{ handlers: [{ sig: 14, pc: null }] }, {}], [1n, 2n], "x86_64")?.call,
    "SIGALRM",
  );
  equal(
    signalDifference([{ handlers: [{ sig: 20, pc: null }], forks: 1 }, {}], [1n, 2n], "sparc")
      ?.call,
    "SIGCHLD",
  );
  // No handler at all: nothing to say.
  equal(signalDifference([{}, {}], [1n, 2n], "x86_64"), undefined);
});

Deno.test("several vCPUs: a value after an x86 port read is the device's, only where vCPUs are named", () => {
  // 0x1000: nop; in eax,dx; 66 in ax,dx (prefixed); in al,0x61. Then mov al,[eax] (no read).
  const blk = (cpu?: number): DumpBlock[] => [{
    i: 0,
    pc: 0x1000n,
    sizes: [1, 1, 2, 2, 2],
    bytes: "90" + "ed" + "66ed" + "e461" + "8a00",
    ...(cpu === undefined ? {} : { cpu }),
  }];
  equal(deviceReadBefore(blk(0), 0, "x86_64"), undefined);
  deepEqual(deviceReadBefore(blk(0), 1, "x86_64"), { insn: 1, pc: 0x1001n, name: "in" });
  deepEqual(deviceReadBefore(blk(0), 2, "x86_64"), { insn: 2, pc: 0x1002n, name: "in" });
  deepEqual(deviceReadBefore(blk(1), 9, "i386"), { insn: 3, pc: 0x1004n, name: "in" });
  // One vCPU (no vCPU named): device reads repeat under icount, nothing is excused.
  equal(deviceReadBefore(blk(), 9, "x86_64"), undefined);
  equal(deviceReadBefore(blk(0), 9, "aarch64"), undefined);
  const store = (v: bigint): DumpEvent => ({
    pos: 5,
    kind: EventKind.STORE,
    a: 0xe8c74n,
    size: 4,
    v,
  });
  const d = deviceDifference(store(0x13a65n), store(0x13a64n), {
    insn: 3,
    pc: 0x1004n,
    name: "in",
  });
  equal(d?.what, "device");
  deepEqual([d?.a, d?.b, d?.insn], ["0x13a65", "0x13a64", 3]);
  match(describeEnvironment(d!, 5), /after the guest read a device port at instruction 3/);
  // A store to another address is no such value.
  equal(
    deviceDifference(store(1n), { ...store(1n), a: 0x10n }, { insn: 3, pc: 0x1004n, name: "in" }),
    undefined,
  );
});

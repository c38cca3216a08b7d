// Planning a run against a golden trace: what must be as it was recorded
// (refused as a TraceError naming it, so --bisect stops), what the live
// QEMU must be able to read (its own fault, so --bisect skips), and the
// plan's side A taken from the trace. Real traces from testdata/; the
// recorded image is a stand-in file whose sha256 the trace is given, and
// side B's QEMU a script that prints a version: no QEMU runs.
import { planAgainst, traceRegisters } from "../../harness/golden/against_plan.ts";
import type { LockstepOptions } from "../../harness/plan/plan.ts";
import { SetupError } from "../../harness/core/errors.ts";
import { DEFAULTS } from "../../harness/core/defaults.ts";
import { TraceError, type TraceHeader } from "../../harness/trace/format.ts";
import { openTrace, type Trace, traceBytes } from "../../harness/trace/reader.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";
import { join } from "../../deps/path.ts";

const TESTDATA = new URL("./testdata/", import.meta.url).pathname;

/** A QEMU path that is never reached: a refusal must come before side B is probed. */
const NO_QEMU = "/nonexistent/qemu-x86_64";

interface Fixture {
  /** A stand-in for the recorded guest (not an ELF: planRun takes it for system mode). */
  readonly image: string;
  /** The testdata trace `name`, recorded (it says) with `image`; `over` changes its header. */
  trace(name: string, over?: Partial<TraceHeader>): Promise<Trace>;
  /** A fake QEMU that answers `--version` with `version`. */
  qemu(version: string): Promise<string>;
}

async function withFixture(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "against_plan_test-" });
  try {
    const image = join(dir, "guest");
    const bytes = new TextEncoder().encode("a stand-in for the recorded guest\n");
    await Deno.writeFile(image, bytes);
    const sha256 = [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))]
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    await fn({
      image,
      async trace(name, over = {}) {
        const t = await openTrace(traceBytes(await Deno.readFile(`${TESTDATA}${name}`)), name);
        const header = { ...t.header, image: { ...t.header.image, sha256 }, ...over };
        return { ...t, header };
      },
      async qemu(version) {
        const path = join(dir, `qemu-${version}`);
        await Deno.writeTextFile(path, `#!/bin/sh\necho "qemu-x86_64 version ${version}"\n`);
        await Deno.chmod(path, 0o755);
        return path;
      },
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The error `p` rejects with (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<SetupError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  ok(e instanceof SetupError, `expected a SetupError, got ${e}`);
  return e;
}

/** `p` is refused as the trace's mismatch: a TraceError with `message` and `hint`. */
async function refused(p: Promise<unknown>, message: RegExp, hint: RegExp): Promise<void> {
  const e = await rejection(p);
  ok(e instanceof TraceError, `expected a TraceError, got ${e.name}: ${e.message}`);
  match(e.message, /^Cannot compare with trace /);
  match(e.message, message);
  match(e.hint, hint);
}

Deno.test("a run that does not fit the recording is refused as the trace's, naming what differs", async (t) => {
  await withFixture(async (f) => {
    const hello = await f.trace("hello-7.2.trace");
    const user: LockstepOptions = { arch: "x86_64", image: f.image, mode: "user", qemu: NO_QEMU };

    await t.step("side a's QEMU or arguments: side a is the trace", async () => {
      const why = /side a is the trace \(QEMU 7\.2\.22\): --qemu-a and --extra-a do not apply/;
      const hint = /--qemu \(or --qemu-b\).*--extra-b/;
      await refused(planAgainst({ ...user, qemuA: "/usr/bin/qemu-x86_64" }, hello), why, hint);
      await refused(planAgainst({ ...user, extraA: ["-cpu", "max"] }, hello), why, hint);
    });

    await t.step("--no-fast or a transient window: both need a live side a", async () => {
      const why = /--no-fast and --transient-window need a live side a/;
      await refused(planAgainst({ ...user, fast: false }, hello), why, /drop them/);
      await refused(planAgainst({ ...user, transientWindow: 1000 }, hello), why, /drop them/);
    });

    await t.step("another architecture", async () => {
      await refused(
        planAgainst({ ...user, arch: "aarch64" }, hello),
        /it was recorded for x86_64, this run is aarch64/,
        /^run it as x86_64$/,
      );
    });

    await t.step("another image, by its contents whatever its name", async () => {
      const other = join(f.image, "..", "x86_64-hello");
      await Deno.writeTextFile(other, "another guest\n");
      await refused(
        planAgainst({ ...user, image: other }, hello),
        /image .*x86_64-hello is not the one it was recorded with \(sha256 [0-9a-f]{16}…; the trace's x86_64-hello has [0-9a-f]{16}…\)/,
        /give the recorded image as <IMAGE>; a modified guest goes in --image-b/,
      );
    });

    await t.step("--bios where it was recorded without, and the reverse", async () => {
      await refused(
        planAgainst({ ...user, bios: true }, hello),
        /it was recorded without --bios/,
        /^drop --bios$/,
      );
      const sparc = await f.trace("sparc-bios-7.2.trace");
      await refused(
        planAgainst({ arch: "sparc", image: f.image, qemu: NO_QEMU }, sparc),
        /it was recorded with --bios/,
        /^add --bios$/,
      );
    });

    await t.step("other QEMU arguments, quoted as given", async () => {
      await refused(
        planAgainst({ ...user, extra: ["-cpu", "max,+avx"] }, hello),
        /recorded with the QEMU arguments none, this run has "-cpu" "max,\+avx"/,
        /pass the same --extra; arguments for the live QEMU alone go in --extra-b/,
      );
    });

    await t.step("other guest arguments, in another order too", async () => {
      const withArgs = await f.trace("hello-7.2.trace", {
        options: { ...hello.header.options, guestArgs: ["-v", "1"] },
      });
      await refused(
        planAgainst(user, withArgs),
        /the guest was recorded with the arguments "-v" "1", this run gives none/,
        /give the same guest arguments after --/,
      );
      await refused(
        planAgainst({ ...user, guestArgs: ["1", "-v"] }, withArgs),
        /this run gives "1" "-v"/,
        /after --/,
      );
    });

    await t.step("--mask-reg other than the snapshots leave out", async () => {
      await refused(
        planAgainst({ ...user, maskRegs: ["eflags"] }, hello),
        /its register snapshots leave out none; --mask-reg cannot change that/,
        /drop --mask-reg, or record again with it/,
      );
    });

    await t.step("--compare asking for what the trace does not hold, or less", async () => {
      for (const compare of [["pc"], ["pc", "regs", "syscalls"], ["mem"]]) {
        await refused(
          planAgainst({ ...user, compare }, hello),
          /it holds pc, syscalls; --compare cannot change that/,
          /drop --compare, or record again with it/,
        );
      }
    });

    await t.step("--max-insns where the trace holds no hash", async () => {
      const often = await f.trace("hello-7.2.trace", { interval: 100_000 });
      const hint = /^use a multiple of 100000 up to 315802, or no --max-insns$/;
      for (const maxInsns of [250_000, 400_000, 315_803]) {
        await refused(
          planAgainst({ ...user, maxInsns }, often),
          new RegExp(
            `hashes at multiples of 100000 instructions up to 315802, not at --max-insns ${maxInsns}`,
          ),
          hint,
        );
      }
    });

    await t.step("a mode other than recorded (the image alone says system)", async () => {
      const { mode: _, ...detected } = user;
      await refused(
        planAgainst({ ...detected, qemu: await f.qemu("7.2.22") }, hello),
        /it was recorded in user mode, this run is in system mode/,
        /^add --user$/,
      );
    });
  });
});

Deno.test("what the trace does not constrain, or the run gives as recorded, is accepted", async (t) => {
  await withFixture(async (f) => {
    const hello = await f.trace("hello-7.2.trace");
    const user: LockstepOptions = {
      arch: "x86_64",
      image: f.image,
      mode: "user",
      qemu: await f.qemu("7.2.22"),
    };

    await t.step(
      "--compare all, what it holds in any order, or without pc (always compared)",
      async () => {
        for (
          const compare of [["all"], ["syscalls", "pc"], ["syscalls"], ["pc", "syscalls", "pc"]]
        ) {
          const plan = await planAgainst({ ...user, compare }, hello);
          deepEqual(plan.compare, ["pc", "syscalls"], compare.join());
        }
      },
    );

    await t.step("no --mask-reg, and the recorded one", async () => {
      await planAgainst({ ...user, maskRegs: [] }, hello);
      const masked = await f.trace("hello-7.2.trace", {
        options: { ...hello.header.options, maskRegs: ["eflags"] },
      });
      await planAgainst({ ...user, maskRegs: ["eflags"] }, masked);
    });

    await t.step("--max-insns at a checkpoint up to its end, or at its end", async () => {
      const often = await f.trace("hello-7.2.trace", { interval: 100_000 });
      equal((await planAgainst(user, often)).maxInsns, undefined);
      equal((await planAgainst({ ...user, maxInsns: 200_000 }, often)).maxInsns, 200_000);
      equal((await planAgainst({ ...user, maxInsns: 315_802 }, often)).maxInsns, 315_802);
    });

    await t.step("a trace recorded with --max-insns stops the live run there too", async () => {
      const limited = await f.trace("hello-7.2.trace", {
        options: { ...hello.header.options, maxInsns: 200_000 },
      });
      equal((await planAgainst(user, limited)).maxInsns, 200_000);
      equal((await planAgainst({ ...user, maxInsns: 200_000 }, limited)).maxInsns, 200_000);
    });

    await t.step("the recorded guest arguments", async () => {
      const withArgs = await f.trace("hello-7.2.trace", {
        options: { ...hello.header.options, guestArgs: ["-v", "1"] },
      });
      const plan = await planAgainst({ ...user, guestArgs: ["-v", "1"] }, withArgs);
      deepEqual(plan.guestArgs, ["-v", "1"]);
    });
  });
});

Deno.test("the plan's side a is the trace, and it compares what the trace holds", async (t) => {
  await withFixture(async (f) => {
    const hello = await f.trace("hello-7.2.trace");
    const user: LockstepOptions = {
      arch: "x86_64",
      image: f.image,
      mode: "user",
      qemu: await f.qemu("7.2.22"),
    };
    const plan = await planAgainst(user, hello);

    await t.step("side a's QEMU is the recording's, not probed; side b's is the live one", () => {
      deepEqual(plan.a.qemu, hello.header.qemu);
      equal(plan.b.qemu.path, user.qemu);
      equal(plan.b.qemu.version, "7.2.22");
    });

    await t.step("the guest sees the name it was recorded with, whatever the image's", () => {
      equal(plan.guestName, "x86_64-hello");
      deepEqual(plan.b.tail.slice(-2), ["-0", "x86_64-hello"]);
    });

    await t.step("the fast pass, at the trace's interval; the layout is the same", () => {
      deepEqual(plan.fast, {
        enabled: true,
        why: null,
        interval: hello.header.interval,
        window: DEFAULTS.fastWindow,
      });
      equal(plan.sameLayout, true);
      deepEqual(plan.compare, ["pc", "syscalls"]);
    });

    await t.step("memory is never compared, registers only when the trace holds them", async () => {
      deepEqual(plan.notCompared.map((n) => n.what), ["mem", "regs"]);
      match(plan.notCompared[0]!.why, /a trace holds no memory accesses/);
      equal(
        plan.notCompared[1]!.why,
        "the trace holds no registers (QEMU 7.2.22, plugin API 1)",
      );
      const value = await f.trace("value-10.2.trace");
      const live = { ...user, qemu: await f.qemu("10.2.2") };
      const withRegs = await planAgainst(live, value);
      deepEqual(withRegs.compare, ["pc", "regs", "syscalls"]);
      deepEqual(withRegs.notCompared.map((n) => n.what), ["mem"]);
      // Recorded on a QEMU that can read registers: the arch may have had none described.
      const none = await f.trace("value-10.2.trace", { compared: ["pc", "syscalls"] });
      equal(
        (await planAgainst(live, none)).notCompared[1]?.why,
        "the trace holds no registers (QEMU 10.2.2, plugin API 5, or none of x86_64 described)",
      );
    });

    await t.step("linux-user on another QEMU version than recorded: a warning", async () => {
      deepEqual(plan.warnings, []);
      const other = await planAgainst({ ...user, qemu: await f.qemu("10.2.2") }, hello);
      equal(other.warnings.length, 1);
      match(
        other.warnings[0]!,
        /recorded on QEMU 7\.2\.22, side b is 10\.2\.2: in linux-user two versions may place/,
      );
    });
  });
});

Deno.test("a live QEMU too old for what the trace holds is its own fault, not the trace's", async (t) => {
  await withFixture(async (f) => {
    const value = await f.trace("value-10.2.trace");
    const run = async (version: string) =>
      planAgainst(
        { arch: "x86_64", image: f.image, mode: "user", qemu: await f.qemu(version) },
        value,
      );
    const notTheTrace = (e: SetupError) =>
      ok(!(e instanceof TraceError), `a TraceError stops --bisect: ${e.message}`);

    await t.step("register snapshots need plugin API 2", async () => {
      const e = await rejection(run("8.2.0"));
      notTheTrace(e);
      match(e.message, /register snapshots, which side b's QEMU 8\.2\.0 \(plugin API 1\)/);
      match(e.hint, /QEMU of 9\.0 or later/);
    });

    await t.step("what system calls wrote needs plugin API 4", async () => {
      const e = await rejection(run("9.1.0"));
      notTheTrace(e);
      match(e.message, /what system calls wrote, which side b's QEMU 9\.1\.0 \(plugin API 3\)/);
      match(e.hint, /QEMU of 9\.2 or later/);
    });

    await t.step("API 4 reads both", async () => {
      equal((await run("9.2.0")).b.qemu.pluginApi, 4);
    });
  });
});

Deno.test("the trace's registers are found by name in side b's list", async (t) => {
  const value = await openTrace(
    traceBytes(await Deno.readFile(`${TESTDATA}value-10.2.trace`)),
    "value-10.2.trace",
  );
  const names = value.header.registers;
  const described = (list: readonly string[]) => list.map((name) => ({ name, size: 8 }));

  await t.step(
    "as indices into side b's list, in the trace's order, the same for both sides",
    () => {
      // Side b describes them in another order, and more besides.
      const live = ["pkru", ...[...names].reverse(), "fs_base_shadow"];
      const choice = traceRegisters(value)({ b: described(live) });
      deepEqual(choice.names, names);
      deepEqual(choice.b, names.map((n) => live.indexOf(n)));
      deepEqual(choice.a, choice.b);
      deepEqual(choice.skipped, []);
    },
  );

  await t.step("side a's list is not the one read", () => {
    const choice = traceRegisters(value)({ a: [], b: described(names) });
    deepEqual(choice.b, names.map((_, i) => i));
  });

  await t.step("ones side b does not describe are named, in a SetupError", () => {
    const live = names.filter((n) => n !== "k_gs_base" && n !== "orig_rax");
    let e: unknown;
    try {
      traceRegisters(value)({ b: described(live) });
    } catch (x) {
      e = x;
    }
    ok(e instanceof SetupError && !(e instanceof TraceError), String(e));
    match(
      e.message,
      /side b's QEMU does not describe the registers k_gs_base, orig_rax, which its snapshots hold/,
    );
    match(e.hint, /--mask-reg/);
  });

  await t.step("a trace without registers needs none", async () => {
    const hello = await openTrace(
      traceBytes(await Deno.readFile(`${TESTDATA}hello-7.2.trace`)),
      "hello-7.2.trace",
    );
    deepEqual(traceRegisters(hello)({}), { names: [], a: [], b: [], skipped: [] });
  });
});

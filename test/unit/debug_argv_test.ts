// The command lines of the re-runs under gdb: the plan's QEMU arguments
// with the locate plugin and a gdbstub (harness/plan/command_line.ts), a
// verdict's command lines taken apart again (harness/debug/
// plan_from_verdict.ts), and the gdb command line that attaches
// (harness/debug/gdb_command.ts).
import { gdbStubArgs, sideArgv } from "../../harness/plan/command_line.ts";
import { parseSideArgv } from "../../harness/debug/plan_from_verdict.ts";
import { gdbArgs } from "../../harness/debug/gdb_command.ts";
import { PRESETS } from "../../harness/core/arch_presets.ts";
import { fakePlan } from "./_plan.ts";
import { deepEqual, ok, throws } from "../../deps/assert.ts";

const plugin = { path: "/cache/lockstep.so", shim: "/cache/env_shim.so" };

Deno.test("a linux-user re-run under gdb: the plan's arguments, the locate plugin, -g", () => {
  const plan = fakePlan({ mode: "user", guestArgs: ["x"] });
  const argv = sideArgv({
    plan,
    side: plan.a,
    runDir: "/run",
    plugin,
    pass: { kind: "locate", pc: 0x4001c5n },
    gdbStub: "/run/gdb-a.sock",
  });
  const spec = argv[argv.indexOf("-plugin") + 1]!;
  deepEqual(spec.split(",").slice(1), ["role=a", "ctl=/run/ctl.sock", "locatepc=0x4001c5"]);
  const g = argv.indexOf("-g");
  deepEqual(argv.slice(g, g + 2), ["-g", "/run/gdb-a.sock"]);
  // QEMU's options come before the guest program.
  ok(g < argv.indexOf("/proc/self/fd/3/hello"));
  // The locate pass: a position to stop at, no stub.
  const locate = sideArgv({
    plan,
    side: plan.b,
    runDir: "/run",
    plugin,
    pass: { kind: "locate", pc: 0x10n, at: 4242 },
  });
  ok(locate.some((x) => x.endsWith(",locatepc=0x10,locate=4242")));
  ok(!locate.includes("-g"));
  // A run whose plugins wrote the counters: both re-runs write them too.
  for (const at of [undefined, 7]) {
    const counted = sideArgv({
      plan: { ...plan, counters: true },
      side: plan.a,
      runDir: "/run",
      plugin,
      pass: { kind: "locate", pc: 0x10n, ...(at ? { at } : {}) },
    });
    ok(counted[counted.indexOf("-plugin") + 1]!.split(",").includes("counters=on"));
  }
});

Deno.test("QEMU's log at the divergence: -d with what the side logs already, -dfilter, last", () => {
  const qemuLog = { items: "op,out_asm", from: 0x40024bn, to: 0x40031cn };
  const user = fakePlan({ mode: "user" });
  const argv = sideArgv({
    plan: user,
    side: { ...user.a, tail: ["-d", "page"] },
    runDir: "/run",
    plugin,
    pass: { kind: "locate", pc: 0x40029cn, at: 3362 },
    qemuLog,
  });
  const guest = argv.indexOf("/proc/self/fd/3/hello");
  // QEMU takes the last -d: this one, before the guest program.
  deepEqual(argv.slice(guest - 4, guest), [
    "-d",
    "plugin,nochain,page,op,out_asm",
    "-dfilter",
    "0x40024b..0x40031c",
  ]);
  const system = fakePlan({ mode: "system" });
  const sys = sideArgv({
    plan: system,
    side: system.b,
    runDir: "/run",
    plugin,
    pass: { kind: "locate", pc: 0x40029cn, at: 3362 },
    qemuLog,
  });
  deepEqual(sys.slice(-4), ["-d", "plugin,nochain,op,out_asm", "-dfilter", "0x40024b..0x40031c"]);
});

Deno.test("a system-mode re-run waits for its debugger before the first instruction", () => {
  deepEqual(gdbStubArgs("system", "/run/gdb-b.sock"), [
    "-gdb",
    "unix:/run/gdb-b.sock,server=on,wait=off",
    "-S",
  ]);
});

Deno.test("a verdict's command lines come apart into what the user and the plan gave", async (t) => {
  await t.step("linux-user: the extras, the guest's name and arguments", () => {
    const plan = fakePlan({ mode: "user", guestArgs: ["one", "two"] });
    const side = { ...plan.a, tail: ["-E", "A=1", "-0", "hello"] };
    const argv = [
      plan.a.command,
      ...sideArgv({
        plan: { ...plan, fixedDevices: true },
        side,
        runDir: "/r",
        plugin,
        pass: { kind: "lockstep" },
      }),
    ];
    deepEqual(parseSideArgv("a", "user", argv), {
      qemu: "/opt/qemu-a/bin/qemu-x86_64",
      head: ["-seed", "1", "-d", "plugin,nochain"],
      extra: ["-E", "A=1"],
      guestName: "hello",
      guestArgs: ["one", "two"],
    });
  });
  await t.step("system: the extras and the image option", () => {
    const plan = fakePlan({ mode: "system" });
    const side = { ...plan.b, tail: ["-smp", "1", "-bios", "/guests/b/kernel"] };
    const argv = [
      side.command,
      ...sideArgv({ plan, side, runDir: "/r", plugin, pass: { kind: "fast" } }),
    ];
    deepEqual(parseSideArgv("b", "system", argv), {
      qemu: "/opt/qemu-b/bin/qemu-system-x86_64",
      head: ["-M", "pc", "-d", "plugin,nochain"],
      extra: ["-smp", "1"],
      imageOption: "-bios",
      guestArgs: [],
    });
  });
  await t.step("a command line qemu-lockstep did not spawn is refused", () => {
    throws(
      () => parseSideArgv("a", "system", ["qemu-system-x86_64", "-kernel", "k"]),
      { name: "SetupError", message: /Side a's command line .* no -plugin/ },
    );
  });
});

Deno.test("the gdb command line: the image's symbols, or the architecture and byte order", () => {
  deepEqual(gdbArgs({ preset: PRESETS.x86_64!, image: "/g/hello", elf: true, port: 4321 }), [
    "-q",
    "/g/hello",
    "-ex",
    "set sysroot /",
    "-ex",
    "target remote 127.0.0.1:4321",
  ]);
  deepEqual(gdbArgs({ preset: PRESETS.sparc!, image: "/g/bios.bin", elf: false, port: 9 }), [
    "-q",
    "-ex",
    "set architecture sparc",
    "-ex",
    "set endian big",
    "-ex",
    "set sysroot /",
    "-ex",
    "target remote 127.0.0.1:9",
  ]);
});

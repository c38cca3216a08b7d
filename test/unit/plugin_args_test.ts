// From a plan to each side's command line and plugin arguments.
import { sideArgv } from "../../harness/plan/command_line.ts";
import { lockstepPluginArgs, PLUGIN_ARGS } from "../../harness/plan/plugin_args.ts";
import { fakePlan } from "./_plan.ts";
import { deepEqual, equal, ok } from "../../deps/assert.ts";

const keys = (args: readonly string[]) => args.map((a) => a.slice(0, a.indexOf("=")));
const known = new Set<string>(Object.values(PLUGIN_ARGS));

Deno.test("plugin arguments follow what is compared and what both QEMUs can do", async (t) => {
  await t.step("addresses only: roles, sockets, defaults passed explicitly", () => {
    const plan = fakePlan();
    const a = lockstepPluginArgs(plan, plan.a, "/run");
    const b = lockstepPluginArgs(plan, plan.b, "/run");
    deepEqual(a, [
      "role=a",
      "peer=/run/peer.sock",
      "ctl=/run/ctl.sock",
      "listen=on",
      "history=8",
      "interval=131072",
      "window=1048576",
    ]);
    equal(b[0], "role=b");
    equal(b[3], "listen=off");
  });
  await t.step("memory values only when both sides have plugin API 4", () => {
    for (const [apis, values] of [[[4, 4], true], [[1, 4], false], [[4, 2], false]] as const) {
      const plan = fakePlan({ compare: ["pc", "mem"], apis: [apis[0], apis[1]] });
      const args = lockstepPluginArgs(plan, plan.a, "/run");
      ok(args.includes("mem=on"));
      equal(args.includes("memvalues=on"), values, `${apis}`);
    }
  });
  await t.step("registers, syscalls, a limit and a transient window", () => {
    const plan = fakePlan({
      compare: ["pc", "regs", "syscalls"],
      maxInsns: 5000,
      transientWindow: 100,
      regsEvery: 64,
      apis: [5, 5],
    });
    const args = lockstepPluginArgs(plan, plan.a, "/run");
    for (const want of ["sys=on", "regs=on", "regsevery=64", "maxinsns=5000"]) {
      ok(args.includes(want), want);
    }
    // The sides run on past a disagreement far enough to see the streams meet.
    ok(args.some((a) => /^reconverge=\d+$/.test(a) && Number(a.slice(11)) > 100));
  });
  await t.step("what system calls wrote is read only when both sides can (memvalues)", () => {
    for (const [apis, values] of [[[5, 5], true], [[1, 5], false]] as const) {
      const plan = fakePlan({ compare: ["pc", "syscalls"], apis: [apis[0], apis[1]] });
      equal(lockstepPluginArgs(plan, plan.b, "/run").includes("memvalues=on"), values, `${apis}`);
    }
  });
  await t.step("counter values written in every pass, narrowing's too, when the plan says", () => {
    const plan = fakePlan({ counters: true, apis: [5, 5] });
    for (
      const pass of [{ kind: "lockstep" }, { kind: "fast" }, { kind: "narrow", from: 1, to: 2 }]
    ) {
      const argv = sideArgv({
        plan,
        side: plan.a,
        runDir: "/run",
        plugin: { path: "/p.so" },
        pass: pass as { kind: "lockstep" },
      });
      ok(argv[argv.indexOf("-plugin") + 1]!.split(",").includes("counters=on"), pass.kind);
    }
    ok(!lockstepPluginArgs(fakePlan({ apis: [5, 5] }), plan.a, "/run").includes("counters=on"));
  });
  await t.step("two layouts: addresses off", () => {
    equal(lockstepPluginArgs(fakePlan(), fakePlan().a, "/run").includes("addrs=off"), false);
    const plan = fakePlan({ sameLayout: false, compare: ["pc", "mem", "syscalls"] });
    ok(lockstepPluginArgs(plan, plan.a, "/run").includes("addrs=off"));
  });
  await t.step("every key is one protocol.h knows", () => {
    const plan = fakePlan({
      compare: ["pc", "regs", "mem", "syscalls"],
      maxInsns: 1,
      transientWindow: 1,
      apis: [5, 5],
    });
    for (const k of keys(lockstepPluginArgs(plan, plan.a, "/run"))) ok(known.has(k), k);
  });
});

Deno.test("linux-user sides start their guest through the same path", () => {
  const plan = fakePlan({ guestArgs: ["1", "two"] });
  for (const side of [plan.a, plan.b]) {
    const argv = sideArgv({
      plan: plan,
      side: side,
      runDir: "/run",
      plugin: { path: "/cache/lockstep.so" },
      pass: { kind: "lockstep" },
    });
    equal(argv[0], "-c");
    equal(argv[3], `/run/${side.role}`);
    // The guest is side A's image name under fd 3, whichever side.
    deepEqual(argv.slice(-3), ["/proc/self/fd/3/hello", "1", "two"]);
    const plugin = argv[argv.indexOf("-plugin") + 1]!;
    ok(plugin.startsWith("/cache/lockstep.so,role="), plugin);
    equal(argv[argv.indexOf("-D") + 1], `/run/qemu-${side.role}.log`);
  }
});

Deno.test("linux-user sides preload the environment shim, narrowing's re-runs too", () => {
  const plan = fakePlan();
  for (
    const argv of [
      sideArgv({
        plan: plan,
        side: plan.b,
        runDir: "/run",
        plugin: { path: "/p.so", shim: "/cache/env_shim.so" },
        pass: { kind: "lockstep" },
      }),
      sideArgv({
        plan: plan,
        side: plan.b,
        runDir: "/run",
        plugin: { path: "/p.so", shim: "/cache/env_shim.so" },
        pass: { kind: "narrow", from: 1, to: 2 },
      }),
    ]
  ) {
    ok(argv[1]!.includes('LD_PRELOAD="$2"'), argv[1]);
    // No fixed devices: the shim is told of no root.
    deepEqual(argv.slice(3, 6), ["/run/b", "/cache/env_shim.so", ""]);
    equal(argv[6], plan.b.head[0]);
  }
});

Deno.test("fixed devices: QEMU's -L prefix is the run directory's root, after the user's arguments", () => {
  const plan = fakePlan({ fixedDevices: true });
  const side = { ...plan.a, tail: ["-L", "/usr/aarch64-linux-gnu", "-0", "hello"] };
  const argv = sideArgv({
    plan: plan,
    side,
    runDir: "/run",
    plugin: { path: "/p.so", shim: "/cache/env_shim.so" },
    pass: { kind: "lockstep" },
  });
  // QEMU takes the last -L: the root, which links to the user's prefix.
  const at = argv.lastIndexOf("-L");
  equal(argv[at + 1], "/run/root");
  ok(at > argv.indexOf("-0"));
  equal(argv[argv.length - 1], "/proc/self/fd/3/hello");
  // The shim hides the root itself and its dev/ from QEMU's lookups.
  equal(argv[5], "/run/root");
  equal(
    sideArgv({
      plan: fakePlan(),
      side: plan.a,
      runDir: "/run",
      plugin: { path: "/p.so" },
      pass: { kind: "lockstep" },
    }).includes("-L"),
    false,
  );
});

Deno.test("system mode: machine arguments, then the plugin, then the image", () => {
  const plan = fakePlan({ mode: "system" });
  const argv = sideArgv({
    plan: plan,
    side: plan.a,
    runDir: "/run",
    plugin: { path: "/p.so" },
    pass: { kind: "lockstep" },
  });
  const at = argv.indexOf("-plugin");
  deepEqual(argv.slice(0, at), plan.a.head);
  deepEqual(argv.slice(at + 4), plan.a.tail);
  const narrowed = sideArgv({
    plan: plan,
    side: plan.b,
    runDir: "/run",
    plugin: { path: "/p.so" },
    pass: { kind: "narrow", from: 10, to: 20 },
  });
  equal(narrowed[narrowed.indexOf("-plugin") + 1], "/p.so,role=b,ctl=/run/ctl.sock,narrow=10:20");
});

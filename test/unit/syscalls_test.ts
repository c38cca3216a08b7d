// System call names and argument counts, and the plugin's tables of both
// (argument counts, environment-reading calls).
import {
  ENVIRONMENT_CALLS,
  syscallArgs,
  syscallName,
  syscallNumber,
} from "../../harness/core/syscalls.ts";
import { deepEqual, equal, ok } from "../../deps/assert.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const TESTDATA = new URL("./testdata/", import.meta.url).pathname;

Deno.test("system calls are named by number per architecture", () => {
  equal(syscallName("x86_64", 39), "getpid");
  equal(syscallName("aarch64", 172), "getpid");
  equal(syscallName("riscv64", 278), "getrandom");
  equal(syscallName("x86_64", 100000), undefined);
  equal(syscallName("sparc", 20), undefined);
  equal(syscallNumber("x86_64", "clock_gettime"), 228);
});

Deno.test("plugin-src/env.c names its calls with the numbers harness/core/syscalls.ts has", async () => {
  const c = await Deno.readTextFile(new URL("../../plugin-src/env.c", import.meta.url));
  const tables: Record<string, string> = { x86_64_env: "x86_64", generic_env: "aarch64" };
  for (const [table, arch] of Object.entries(tables)) {
    const body = c.slice(c.indexOf(`EnvCall ${table}[]`), c.indexOf("};", c.indexOf(table)));
    const rows = [...body.matchAll(/\{ (\d+), "(\w+)"/g)];
    ok(rows.length >= 10, table);
    for (const [, num, name] of rows) {
      equal(syscallName(arch, Number(num)), name, `${table}: ${num}`);
      ok(ENVIRONMENT_CALLS.includes(name!) || ["read", "pread64"].includes(name!), name);
    }
  }
});

Deno.test("system calls take the arguments the Linux ABI gives them, per architecture", () => {
  equal(syscallArgs("x86_64", 102), 0); // getuid
  equal(syscallArgs("x86_64", 0), 3); // read
  equal(syscallArgs("x86_64", 9), 6); // mmap
  equal(syscallArgs("x86_64", 231), 1); // exit_group
  equal(syscallArgs("aarch64", 174), 0); // getuid
  equal(syscallArgs("riscv64", 222), 6); // mmap
  equal(syscallArgs("aarch64", 244), undefined); // arch_specific_syscall
  equal(syscallArgs("x86_64", 400), undefined); // no call
  equal(syscallArgs("sparc", 20), undefined); // no table: all six
  // Every call the names table has gets a count on the architectures with a table.
  for (const arch of ["x86_64", "aarch64"]) {
    for (let n = 0; n < 460; n++) {
      const name = syscallName(arch, n);
      if (!name || name === "arch_specific_syscall" || name === "syscalls") continue;
      ok(syscallArgs(arch, n) !== undefined, `${arch} ${name}`);
    }
  }
});

Deno.test("plugin-src/syscall_args.h counts every call's arguments as harness/core/syscalls.ts does", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lockstep-test-" });
  try {
    const exe = `${dir}/syscall_args`;
    const cc = await new Deno.Command(Deno.env.get("CC") ?? "cc", {
      args: ["-Wall", "-Werror", `-I${ROOT}plugin-src`, "-o", exe, `${TESTDATA}syscall_args.c`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    equal(cc.code, 0, new TextDecoder().decode(cc.stderr));
    const out = await new Deno.Command(exe, { stdout: "piped" }).output();
    const c: { targets: Record<string, string> } & Record<string, [number, string, number][]> = JSON
      .parse(new TextDecoder().decode(out.stdout));
    // The same targets: those harness/core/syscalls.ts has a table for.
    deepEqual(Object.keys(c.targets).sort(), ["aarch64", "riscv64", "x86_64"]);
    for (const [arch, list] of Object.entries(c.targets)) {
      const rows = c[list]!;
      const counted = new Set(rows.map(([n]) => n));
      for (const [n, name, args] of rows) {
        equal(syscallName(arch, n), name, `${arch} ${n}`);
        equal(syscallArgs(arch, n), args, `${arch} ${name}`);
      }
      // Nor does the TypeScript side count a call the C side leaves out.
      for (let n = 0; n < 1024; n++) {
        if (!counted.has(n)) equal(syscallArgs(arch, n), undefined, `${arch} ${n}`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

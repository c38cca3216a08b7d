// System call names, and the plugin's table of environment-reading calls.
import { ENVIRONMENT_CALLS, syscallName, syscallNumber } from "../../harness/core/syscalls.ts";
import { equal, ok } from "../../deps/assert.ts";

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

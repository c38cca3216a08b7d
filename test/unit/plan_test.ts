// What a run compares, from what was asked and what both QEMUs can do.
import { comparisons, sameLayout } from "../../harness/plan/comparisons.ts";
import { smpCpus } from "../../harness/plan/plan.ts";
import { deepEqual, equal, match, ok } from "../../deps/assert.ts";

Deno.test("two QEMU versions in linux-user place the guest differently: addresses and registers are left out", () => {
  equal(sameLayout("user", ["10.2.2", "10.2.2"]), true);
  equal(sameLayout("user", ["7.2.22", "10.2.2"]), false);
  equal(sameLayout("system", ["7.2.22", "10.2.2"]), true);
  const same = comparisons(["all"], "user", [5, 5], ["10.2.2", "10.2.2"]);
  deepEqual(same.compare, ["pc", "regs", "mem", "syscalls"]);
  deepEqual(same.notCompared, []);
  const cross = comparisons(["all"], "user", [5, 5], ["10.1.0", "10.2.2"]);
  deepEqual(cross.compare, ["pc", "mem", "syscalls"]);
  deepEqual(cross.notCompared.map((n) => n.what), ["regs", "addresses"]);
  match(cross.notCompared[1]!.why, /10\.1\.0 and side b's 10\.2\.2 place the guest's stack/);
  // Addresses only: nothing left out, nothing to say.
  const pc = comparisons(["pc"], "user", [1, 5], ["7.2.22", "10.2.2"]);
  deepEqual(pc.notCompared, []);
  ok(comparisons(["all"], "system", [5, 5], ["7.2.22", "10.2.2"]).compare.includes("regs"));
});

Deno.test("-smp: the vCPUs it asks for, however written; the last one counts", () => {
  equal(smpCpus([]), 1);
  equal(smpCpus(["-smp", "1"]), 1);
  equal(smpCpus(["-smp", "4"]), 4);
  equal(smpCpus(["-smp", "2,sockets=1"]), 2);
  equal(smpCpus(["-smp", "cpus=1,maxcpus=3"]), 3);
  equal(smpCpus(["-smp", "sockets=2,cores=2"]), 4);
  equal(smpCpus(["-smp", "4", "-m", "64", "-smp", "1"]), 1);
  equal(smpCpus(["-smp", "nonsense"]), 1);
});

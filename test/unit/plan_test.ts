// What a run compares, from what was asked and what both QEMUs can do.
import { comparisons, sameLayout } from "../../harness/plan/comparisons.ts";
import { smpCpus, vcpuIdFor } from "../../harness/plan/plan.ts";
import { PRESETS } from "../../harness/core/arch_presets.ts";
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

Deno.test("several vCPUs: how the plugin tells the running one, by QEMU version and target", () => {
  const x86 = PRESETS.x86_64!;
  const sparc = PRESETS.sparc!;
  // Before 10.0 QEMU passes the running vCPU's index.
  equal(vcpuIdFor(x86, "9.2.0"), "index");
  equal(vcpuIdFor(sparc, "7.2.22"), "index");
  // 10.0 gives the translating vCPU's, and no physical reads: none.
  equal(vcpuIdFor(x86, "10.0.3"), "none");
  // From 10.1 on x86: the local APIC's ID register.
  equal(vcpuIdFor(x86, "10.2.2"), "apic");
  equal(vcpuIdFor(PRESETS.i386!, "10.1.0"), "apic");
  equal(vcpuIdFor(sparc, "10.2.2"), "none");
});

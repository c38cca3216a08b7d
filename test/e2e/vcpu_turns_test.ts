// Several vCPUs as one stream (plugin-src/vcpus.c): which vCPU takes a
// turn is part of what the checkpoints hash, in every pass and in a
// recording, so two sides whose vCPUs take turns at other points part
// even where the instructions are the same. The fake QEMU
// (testdata/fake_qemu.c) runs one walk of blocks on two vCPUs in turns of
// K blocks: only K differs between runs.
import { buildFakeQemu, FakeQemu, runCase } from "./_plugin_host.ts";
import { tempDir } from "./_cli.ts";
import { deepEqual, equal, ok } from "../../deps/assert.ts";

/** Peer message type of a checkpoint (lockstep.h). */
const CKPT = 1;

Deno.test("which vCPU takes a turn is in the checkpoints: other turns part, the same turns agree, in both passes", async () => {
  await using dir = await tempDir();
  await using fake = new FakeQemu(await buildFakeQemu(dir.path, 5));
  let id = 0;
  /** Side a's checkpoint hashes, its own sent back to it as side b's. */
  const checkpoints = async (turn: number, pass: readonly string[]) => {
    const r = await runCase(fake, dir.path, `turns${id++}`, {
      api: 5,
      role: "a",
      args: ["interval=64", "window=256", "vcpus=2", "vcpuid=index", ...pass],
      host: ["--system", "--seed", "7", "--blocks", "4000", "--vcpus", "2", "--turn", `${turn}`],
      script: [{ feed: 100_000 }],
      finish: "quit",
    });
    ok(r.exit !== "hang", r.stderr);
    const out: bigint[] = [];
    for (const m of r.peerOut) {
      const v = new DataView(m.buffer, m.byteOffset, 24);
      if (v.getUint32(0, true) === CKPT) out.push(v.getBigUint64(16, true));
    }
    ok(out.length > 20, `${out.length} checkpoints: ${r.stderr}`);
    return out;
  };
  for (const pass of [["fast=on"], []]) {
    const five = await checkpoints(5, pass);
    deepEqual(await checkpoints(5, pass), five, `${pass}: the same turns`);
    const seven = await checkpoints(7, pass);
    equal(seven.length, five.length, `${pass}: the same instructions`);
    ok(seven.some((h, i) => h !== five[i]), `${pass}: turns of 5 and 7 blocks hash the same`);
  }
});

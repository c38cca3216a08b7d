// --bisect's exit codes for set-up errors (issue 22, item 6): 125 skips a
// commit, so it is only for what another build of QEMU could change; what
// is the same at every commit stops the bisection (128).
import { GUESTS, runCli, tempDir } from "./_cli.ts";
import { equal, match } from "../../deps/assert.ts";

const g = (name: string) => GUESTS + name;
const hello = ["x86_64", g("x86_64-hello")];

Deno.test("--bisect: 128 for what is the same at every commit, 125 for what the QEMU under test could change", async (t) => {
  await using dir = await tempDir();
  const open = `${dir.path}/open-cache`;
  await Deno.mkdir(open);
  await Deno.chmod(open, 0o777);
  const bogusHeader = `${dir.path}/qemu-plugin.h`;
  await Deno.writeTextFile(bogusHeader, "#error not this QEMU's header\n");
  const mute = `${dir.path}/qemu-mute`;
  await Deno.writeTextFile(mute, "#!/bin/sh\nexit 1\n");
  await Deno.chmod(mute, 0o755);
  const cases: [string, string[], number, RegExp][] = [
    ["a missing image", ["x86_64", `${dir.path}/no-such-image`], 128, /Image not found/],
    ["an unknown architecture", ["vax", g("x86_64-hello")], 128, /Unknown architecture: vax/],
    ["an image of another architecture", ["sparc", g("x86_64-hello")], 128, /ELF, not sparc/],
    [
      "an unwritable --report",
      ["--report", `${dir.path}/no/such/dir/r.json`, ...hello],
      128,
      /Cannot write --report/,
    ],
    [
      "a refused --cache-dir",
      ["--cache-dir", open, ...hello],
      128,
      /Refusing the plugin cache directory/,
    ],
    [
      "a plugin header that is not there",
      ["--plugin-header", `${dir.path}/nowhere.h`, ...hello],
      128,
      /Plugin header not found/,
    ],
    [
      "a plugin header that does not build the plugin",
      ["--plugin-header", bogusHeader, ...hello],
      125,
      /Building the plugin failed/,
    ],
    [
      "a QEMU that says no version",
      ["--qemu", mute, ...hello],
      125,
      /did not print a QEMU version/,
    ],
    [
      "a QEMU that is not there",
      ["--qemu", `${dir.path}/qemu-x86_64`, ...hello],
      125,
      /QEMU binary not found/,
    ],
  ];
  for (const [name, args, code, re] of cases) {
    await t.step(`${name}: ${code}`, async () => {
      const r = await runCli(["--bisect", ...args]);
      equal(r.code, code, r.stderr);
      match(r.stderr, re);
    });
  }
});

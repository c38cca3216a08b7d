import { isLinuxUserImage, parseElf } from "../../harness/guest/elf.ts";
import { pluginApiFor } from "../../harness/qemu/binary.ts";
import { equal, match, ok, throws } from "../../deps/assert.ts";

const build = new URL("../guests/build/", import.meta.url);
const read = (name: string) => Deno.readFileSync(new URL(name, build));

Deno.test("mode detection from the image", async (t) => {
  await t.step("a static x86_64 program without multiboot is linux-user", () => {
    const elf = parseElf(read("x86_64-hello"));
    ok(elf);
    equal(elf.machine, 62);
    equal(isLinuxUserImage(elf), true);
  });
  await t.step("bare-metal sparc, aarch64 and riscv64 ELFs are system mode", () => {
    for (
      const [name, machine] of [["sparc-hello.elf", 2], ["aarch64-hello.elf", 183], [
        "riscv64-hello.elf",
        243,
      ]] as const
    ) {
      const elf = parseElf(read(name));
      ok(elf, name);
      equal(elf.machine, machine);
      equal(isLinuxUserImage(elf), false, name);
    }
  });
  await t.step("a raw binary is not an ELF and runs in system mode", () => {
    equal(parseElf(read("sparc-bios.bin")), undefined);
    equal(isLinuxUserImage(undefined), false);
  });
  await t.step("a dynamic host program is linux-user", () => {
    equal(isLinuxUserImage(parseElf(Deno.readFileSync("/bin/true"))), true);
  });
});

Deno.test("plugin API version follows the QEMU release", () => {
  equal(pluginApiFor("5.0.0"), 1);
  equal(pluginApiFor("7.2.22"), 1);
  equal(pluginApiFor("8.2.2"), 1);
  equal(pluginApiFor("9.0.0"), 2);
  equal(pluginApiFor("9.1.3"), 3);
  equal(pluginApiFor("9.2.0"), 4);
  equal(pluginApiFor("10.0.13"), 4);
  equal(pluginApiFor("10.1.0"), 5);
  equal(pluginApiFor("10.2.2"), 5);
  throws(() => pluginApiFor("4.2.1"), RangeError);
  throws(() => pluginApiFor("banana"), SyntaxError);
});

Deno.test("a damaged ELF's offsets past 2^53 are named exactly, never as Infinity", async () => {
  const image = await Deno.readFile(new URL("../guests/build/x86_64-hello", import.meta.url));
  const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset);
  const farHeaders = image.slice();
  view(farHeaders).setBigUint64(32, 0xffff_ffff_ffff_ff00n, true);
  equal(
    parseElf(farHeaders)?.problem,
    "its program headers (at byte 18446744073709551360) reach past the end of the file " +
      `(${image.length} bytes)`,
  );
  const farSegment = image.slice();
  const phoff = Number(view(image).getBigUint64(32, true));
  view(farSegment).setBigUint64(phoff + 8, 0x20_0000_0000_0001n, true);
  view(farSegment).setBigUint64(phoff + 32, 0x10n, true);
  match(
    parseElf(farSegment)?.problem ?? "",
    /^segment 0 \(bytes 9007199254740993 to 9007199254741009\) reaches past the end/,
  );
});

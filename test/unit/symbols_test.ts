// Naming addresses from nm's output.
import { parseNm, symbolizer } from "../../harness/guest/symbols.ts";
import { equal } from "../../deps/assert.ts";

Deno.test("nm output names addresses as function+offset", () => {
  const syms = parseNm(
    [
      "0000000000401000 0000000000000010 T _start",
      "0000000000401010 T no_size",
      "0000000000401020 0000000000000008 t mix_step",
      "0000000000402000 0000000000000004 D data_is_not_code",
      "0000000000401030 W weak_one",
      "",
      "garbage",
    ].join("\n"),
  );
  const s = symbolizer(syms);
  equal(s.name(0x401000n), "_start");
  equal(s.name(0x40100fn), "_start+0xf");
  // A symbol without a size reaches to the next one.
  equal(s.name(0x40101fn), "no_size+0xf");
  equal(s.name(0x401024n), "mix_step+0x4");
  // Past the end of a sized symbol, in a gap, or data: no name.
  equal(s.name(0x401028n), null);
  equal(s.name(0x402000n), null);
  equal(s.name(0x400000n), null);
  equal(s.name(0x401030n), "weak_one");
  equal(symbolizer([]).name(0x1n), null);
});

// --html in a real browser: Debian's headless Chromium loads the page of a
// real run, and its DOM holds what a TCG developer needs. Screenshots stay
// in test/artifacts/html/ (gitignored) for a person to look at.
import { QEMU_10_0_DIR } from "../../cli/setup_qemus.ts";
import { chromium } from "./_browser.ts";
import { GUESTS, ROOT, runCli, tempDir } from "./_cli.ts";
import { equal, match, ok } from "../../deps/assert.ts";

const g = (name: string) => GUESTS + name;
const ARTIFACTS = `${ROOT}test/artifacts/html/`;

/** Runs the CLI with --html, loads the page in Chromium; its DOM, and a screenshot kept. */
async function pageOf(name: string, args: string[]): Promise<string> {
  await using dir = await tempDir();
  const page = `${dir.path}/${name}.html`;
  const r = await runCli(["--html", page, ...args]);
  equal(r.code, 1, r.stderr);
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  await Deno.copyFile(page, `${ARTIFACTS}${name}.html`);
  const url = `file://${page}`;
  await chromium(url, [`--screenshot=${ARTIFACTS}${name}.png`, "--window-size=1280,2200"]);
  const png = await Deno.readFile(`${ARTIFACTS}${name}.png`);
  equal([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join(""), "PNG");
  return await chromium(url, ["--dump-dom"]);
}

/** The text of the element with `id` in a dumped DOM (tags removed). */
function textOf(dom: string, tag: string, id: string): string {
  const m = new RegExp(`<${tag}[^>]* id="${id}"[^>]*>([\\s\\S]*?)</${tag}>`).exec(dom);
  ok(m, `no <${tag} id="${id}"> in the page`);
  return m[1]!.replace(/<[^>]+>/g, " ").replace(/&lt;/g, "<").replace(/&gt;/g, ">")
    .replace(/\s+/g, " ").trim();
}

Deno.test("the demo's page in Chromium: both instructions, disassembled, side by side", async () => {
  const dom = await pageOf("demo", [
    "x86_64",
    g("x86_64-hello"),
    "--image-b",
    g("x86_64-hello-variant"),
  ]);
  match(textOf(dom, "tr", "at-a"), /0x40029c <mix_step\+0x11> e8 4e ff ff ff call 0x4001ef/);
  match(textOf(dom, "tr", "at-b"), /0x40029b <mix_step\+0x10> 75 11 jne 0x4002ae/);
  match(textOf(dom, "tr", "divergent-row"), /3,362 0x40029c .* call 0x4001ef 0x40029b 75 11 jne/);
  match(textOf(dom, "header", "headline"), /^DIVERGED Diverged at instruction 3362/);
  match(textOf(dom, "ul", "notes"), /not compared: regs/);
  ok(/<polyline id="timeline-a"/.test(dom) && /<polyline id="timeline-b"/.test(dom));
});

Deno.test("a narrowed divergence's page in Chromium: the differing register and the instruction", async () => {
  const dom = await pageOf("narrowed", [
    "--qemu",
    `${QEMU_10_0_DIR}qemu-system-aarch64`,
    "aarch64",
    g("aarch64-value.elf"),
    "--image-b",
    g("aarch64-value-variant.elf"),
  ]);
  // A load of guest_main's differs: the same instruction on both sides.
  const pcA = /^side a (0x[0-9a-f]+) <guest_main\+/.exec(textOf(dom, "tr", "at-a"))?.[1];
  const pcB = /^side b (0x[0-9a-f]+) <guest_main\+/.exec(textOf(dom, "tr", "at-b"))?.[1];
  ok(pcA, textOf(dom, "tr", "at-a"));
  equal(pcA, pcB);
  // The narrowed instruction, QEMU's disassembly, and x1 highlighted as differing.
  const narrow = textOf(dom, "section", "narrow");
  match(narrow, /registers first differ after instruction #2,344/);
  match(narrow, /mov w1, #0x79b1/);
  match(narrow, /mov w1, #0xca6b/);
  match(
    dom,
    /<td class="mono">x1<\/td><td class="val d">0x79b1<\/td><td class="val d">0xca6b<\/td>/,
  );
  // The first differing memory access, its differing cells highlighted.
  match(dom, /<table class="events" id="events">[\s\S]*class="val d"/);
});

// The HTML page of a verdict, as text: self-contained and escaped. The
// browser's view of it is tested in test/e2e/html_test.ts.
import { escapeHtml, renderHtml } from "../../cli/html.ts";
import { base, crashed, demo, memDiverged } from "./_verdicts.ts";
import { equal, match, ok } from "../../deps/assert.ts";

Deno.test("the page loads nothing from elsewhere: no script, link, src, url() or @import", () => {
  for (const v of [base, crashed, demo, memDiverged]) {
    const page = renderHtml(v);
    for (const bad of [/<script/i, /<link/i, /\bsrc=/i, /\bhref=/i, /url\(/i, /@import/i]) {
      ok(!bad.test(page), `${bad} in the page of ${v.status}`);
    }
    // The only address in it names SVG's namespace; nothing is fetched from it.
    const urls = page.match(/https?:\/\/[^"' )]+/g) ?? [];
    ok(urls.every((u) => u === "http://www.w3.org/2000/svg"), urls.join(" "));
    match(page, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'/);
  }
});

Deno.test("what the guest or QEMU wrote is escaped", () => {
  const page = renderHtml({
    ...crashed,
    message: 'QEMU said <script>alert("x")</script> & left',
    sides: { ...crashed.sides, b: { ...crashed.sides.b, stderrTail: "<img src=x onerror=1>" } },
  });
  ok(!page.includes("<script>alert"));
  ok(!page.includes("<img"));
  match(page, /QEMU said &lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; left/);
  equal(escapeHtml(`<a href='x'>&</a>`), "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;");
});

Deno.test("the page holds the divergence, both streams, the registers, narrowing and the run", () => {
  const page = renderHtml(memDiverged);
  match(page, /<tr id="at-a">.*0x40080a10.*<\/tr>/);
  // The differing memory values are highlighted, the equal addresses are not.
  const at = page.indexOf('<table class="events"');
  const events = page.slice(at, page.indexOf("</table>", at));
  match(events, /<td class="val d">0x79b1<\/td>/);
  match(events, /<td class="val d">0xca6b<\/td>/);
  match(events, /<td class="val">0x40081000<\/td>/);
  match(page, /id="narrow-regs".*<td class="mono">x1<\/td><td class="val d">0x79b1<\/td>/);
  match(page, /first differ after instruction <b>#2,344<\/b>/);
  const demoPage = renderHtml(demo);
  match(
    demoPage,
    /<tr class="divergent" id="divergent-row">.*0x40029c.*call 0x4001ef.*0x40029b.*jne 0x4002ae/,
  );
  match(demoPage, /<polyline id="timeline-a"/);
  match(demoPage, /diverged at #3,362, found at 0.14 s/);
  match(demoPage, /objdump -d -z -w --no-show-raw-insn -m i386:x86-64 -M intel/);
});

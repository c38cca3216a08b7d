// JUnit XML for suite results.
import { renderJunit, xmlEscape } from "../../cli/junit.ts";
import type { CaseResult } from "../../mod.ts";
import { equal, match, ok } from "../../deps/assert.ts";

Deno.test("XML escaping keeps text and attributes well-formed", () => {
  equal(xmlEscape(`a<b>&"c"`), "a&lt;b&gt;&amp;&quot;c&quot;");
  // Characters XML 1.0 forbids are dropped, tabs and newlines kept.
  equal(xmlEscape("x\x00\x01\x1b[31my\t\n\r\ufffe"), "x[31my\t\n\r");
});

Deno.test("JUnit counts failures and errors apart", () => {
  const results: CaseResult[] = [
    { name: "ok <1>", expect: "match", passed: true, seconds: 1, verdict: null, error: null },
    {
      name: "bad image",
      expect: "match",
      passed: false,
      seconds: 0.5,
      verdict: null,
      error: "Image not found: x (check the path)",
    },
  ];
  const xml = renderJunit("suite & co", results);
  match(
    xml,
    /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="suite &amp; co" tests="2" failures="0" errors="1" time="1.500">/,
  );
  match(xml, /<testcase name="ok &lt;1&gt;" classname="qemu-lockstep.qemu-lockstep" time="1.000">/);
  match(xml, /<error message="set-up error: Image not found: x \(check the path\)">/);
  ok(xml.endsWith("</testsuites>\n"));
});

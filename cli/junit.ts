/**
 * JUnit XML for a suite run, in the dialect GitHub Actions, GitLab and
 * Jenkins read: one <testcase> per case, the divergence summary as the
 * failure message, both sides' guest output as <system-out>.
 */
import type { CaseResult } from "../mod.ts";

/** Escapes text for XML content and attributes; drops characters XML 1.0 forbids. */
export function xmlEscape(text: string): string {
  return text
    // deno-lint-ignore no-control-regex
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, "")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

function describe(r: CaseResult): string {
  if (r.error) return `set-up error: ${r.error}`;
  const v = r.verdict!;
  return `expected ${r.expect}, got ${v.status}: ${v.message}`;
}

/** The whole report for `results` under the suite name `name`. */
export function renderJunit(name: string, results: readonly CaseResult[]): string {
  const failures = results.filter((r) => !r.passed && !r.error).length;
  const errors = results.filter((r) => r.error).length;
  const time = results.reduce((t, r) => t + r.seconds, 0);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${
      xmlEscape(name)
    }" tests="${results.length}" failures="${failures}" errors="${errors}" time="${
      time.toFixed(3)
    }">`,
    `  <testsuite name="${
      xmlEscape(name)
    }" tests="${results.length}" failures="${failures}" errors="${errors}" time="${
      time.toFixed(3)
    }">`,
  ];
  for (const r of results) {
    const arch = r.verdict?.sides.a.qemu.split("/").pop() ?? "qemu-lockstep";
    lines.push(
      `    <testcase name="${xmlEscape(r.name)}" classname="qemu-lockstep.${
        xmlEscape(arch)
      }" time="${r.seconds.toFixed(3)}">`,
    );
    if (r.error) {
      lines.push(`      <error message="${xmlEscape(describe(r))}">${xmlEscape(r.error)}</error>`);
    } else if (!r.passed) {
      const d = r.verdict!.divergence;
      const detail = d
        ? `first differing instruction #${d.insn}: side a ${
          d.a ? `0x${d.a.pc.toString(16)}` : "(ended)"
        }, side b ${d.b ? `0x${d.b.pc.toString(16)}` : "(ended)"}`
        : r.verdict!.message;
      lines.push(
        `      <failure message="${xmlEscape(describe(r))}">${xmlEscape(detail)}</failure>`,
      );
    }
    if (r.verdict) {
      const out =
        `side a output:\n${r.verdict.sides.a.output}\nside b output:\n${r.verdict.sides.b.output}`;
      lines.push(`      <system-out>${xmlEscape(out)}</system-out>`);
    }
    lines.push("    </testcase>");
  }
  lines.push("  </testsuite>", "</testsuites>");
  return lines.join("\n") + "\n";
}

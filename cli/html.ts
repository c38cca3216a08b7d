/**
 * The verdict as one self-contained HTML page (--html): no script, and no
 * style, font or image from elsewhere. It shows what explains the verdict,
 * the divergence, the narrowing result, both streams side by side around
 * the divergence with what differs highlighted, a timeline of the run, and
 * the run's facts.
 */
import type {
  DivergenceLogs,
  EventView,
  NarrowReport,
  RegDiff,
  SideResult,
  Timeline,
  Verdict,
} from "../mod.ts";
import { alignHistory, type Cell, type Row } from "./_history.ts";

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Text made safe for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch]!);
}

const e = escapeHtml;
const hex = (n: bigint) => `0x${n.toString(16)}`;
const num = (n: number) => n.toLocaleString("en-US");
const spaced = (bytes: string) => bytes.replace(/(..)(?!$)/g, "$1 ");

function short(n: number): string {
  if (n >= 1e9) return `${+(n / 1e9).toFixed(1)} G`;
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)} M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)} k`;
  return `${Math.round(n)}`;
}

const STYLE = `
:root { --a: #1d4ed8; --b: #c2410c; --diff: #fef3c7; --div: #fee2e2; --line: #d4d4d8;
  --muted: #52525b; --mono: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, "DejaVu Sans", "Liberation Sans", sans-serif; color: #18181b;
  margin: 0 auto; padding: 24px 32px 48px; max-width: 1440px; background: #fff; }
h1 { font-size: 20px; margin: 0; font-weight: 600; }
h2 { font-size: 16px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
header { display: flex; gap: 14px; align-items: baseline; flex-wrap: wrap; }
.badge { font-weight: 700; letter-spacing: .04em; padding: 3px 10px; border-radius: 4px; color: #fff; }
.match .badge { background: #15803d; } .diverged .badge { background: #b91c1c; }
.inconclusive .badge { background: #a16207; } .error .badge { background: #7f1d1d; }
.notes { margin: 14px 0 0; padding: 10px 14px; background: #fffbeb; border-left: 4px solid #d97706;
  list-style: none; }
.notes li { margin: 2px 0; } .notes b { font-weight: 600; }
code, .mono, td.pc, td.bytes, td.dis, td.idx, td.val { font-family: var(--mono); font-size: 13.5px; }
table { border-collapse: collapse; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: 13px; }
td, th { padding: 2px 10px 2px 0; vertical-align: top; }
.side-a { color: var(--a); } .side-b { color: var(--b); }
td.d, .regs td.val.d { background: var(--diff); outline: 1px solid #f59e0b; }
.scroll { overflow-x: auto; }
.streams { min-width: 100%; }
.streams td { white-space: pre; padding-right: 16px; }
.streams td.sep, .streams th.sep { border-left: 2px solid var(--line); padding-left: 10px; }
.streams tr.differs td { background: var(--diff); }
.streams tr.divergent td { background: var(--div); font-weight: 700; }
.streams tr.func td { color: var(--muted); font-family: var(--mono); font-size: 12.5px; padding-top: 6px; }
.streams td.mark { color: #b91c1c; font-weight: 700; text-align: center; }
.streams tr.after td { color: var(--muted); }
td.idx { text-align: right; padding-right: 14px; color: var(--muted); }
.at td { padding-right: 18px; } .at th { padding-right: 18px; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 18px; margin: 0; }
.facts dt { color: var(--muted); } .facts dd { margin: 0; }
pre { font-family: var(--mono); font-size: 12.5px; background: #f4f4f5; padding: 8px 10px;
  white-space: pre-wrap; word-break: break-all; margin: 4px 0 10px; }
.timeline text { font: 12px system-ui, "DejaVu Sans", sans-serif; fill: var(--muted); }
.muted { color: var(--muted); }
`;

/** A differing-or-not table cell. */
const td = (cls: string, text: string, differs = false) =>
  `<td class="${cls}${differs ? " d" : ""}">${e(text)}</td>`;

function notesBlock(v: Verdict): string {
  const items = [
    ...v.warnings.map((w) => `<li><b>warning:</b> ${e(w)}</li>`),
    ...v.notCompared.map((n) => `<li><b>not compared:</b> ${e(n.what)}: ${e(n.why)}</li>`),
    ...(v.disassembler?.note ? [`<li><b>note:</b> ${e(v.disassembler.note)}</li>`] : []),
  ];
  return items.length ? `<ul class="notes" id="notes">${items.join("")}</ul>` : "";
}

function regTable(regs: readonly RegDiff[], id: string): string {
  return `<table class="regs" id="${id}"><tr><th>register</th><th class="side-a">side a</th>` +
    `<th class="side-b">side b</th></tr>${
      regs.map((r) =>
        `<tr><td class="mono">${e(r.name)}</td>${td("val", r.a, true)}${td("val", r.b, true)}</tr>`
      ).join("")
    }</table>`;
}

function eventRow(role: "a" | "b", x: EventView | null, other: EventView | null): string {
  if (!x) return `<tr><th class="side-${role}">side ${role}</th><td colspan="4">none</td></tr>`;
  const f = (k: keyof EventView) => {
    const v = x[k];
    const text = v === undefined ? "" : typeof v === "bigint" ? hex(v) : String(v);
    return td("val", text, other?.[k] !== v);
  };
  return `<tr><th class="side-${role}">side ${role}</th>${
    td("mono", x.kind, other?.kind !== x.kind)
  }${
    x.kind === "load" || x.kind === "store"
      ? f("address") + f("size") + f("value")
      : x.kind === "regs"
      ? f("blockPc") + f("hash") + "<td></td>"
      : x.kind === "syscall"
      ? f("number") + f("argsHash") + "<td></td>"
      : x.kind === "syscall-result"
      ? f("number") + f("result") + "<td></td>"
      : f("number") + f("value") + f("offset")
  }</tr>`;
}

function eventsTable(ev: { a: EventView | null; b: EventView | null }): string {
  const k = ev.a?.kind ?? ev.b?.kind;
  const heads = k === "load" || k === "store"
    ? ["address", "size", "value"]
    : k === "regs"
    ? ["block", "hash", ""]
    : k === "syscall"
    ? ["number", "arguments hash", ""]
    : k === "syscall-result"
    ? ["number", "result", ""]
    : ["number", "value written", "at byte"];
  return `<table class="events" id="events"><tr><th></th><th>event</th>${
    heads.map((h) => `<th>${h}</th>`).join("")
  }</tr>${eventRow("a", ev.a, ev.b)}${eventRow("b", ev.b, ev.a)}</table>`;
}

function divergenceSection(v: Verdict): string {
  const d = v.divergence!;
  const what = {
    pc: "The instruction addresses differ",
    mem: "A memory access of that instruction differs",
    syscall: "A system call of that instruction differs",
    regs: "The registers before that instruction differ",
    interleaving:
      "Another vCPU runs that instruction on each side: they took turns at another point",
    environment: ({
      counter: "A value computed from the host's time-stamp counter differs: not TCG",
      device: "A value read from a device differs, with several vCPUs: most likely not TCG",
      auxv: "The two QEMUs give the guest different worlds (its auxiliary vector): not TCG",
      cpu: "The two QEMUs give the guest different worlds (its CPU): not TCG",
    } as Record<string, string>)[d.environment?.what ?? ""] ??
      "The host answered that instruction's system call differently: not TCG",
  }[d.kind] ?? d.kind;
  // Several vCPUs: a column names the one that ran it, and its own count.
  const vcpus = d.a?.vcpu !== undefined || d.b?.vcpu !== undefined;
  const vcpuCell = (x: typeof d.a, o: typeof d.a) =>
    vcpus
      ? td(
        "mono",
        x?.vcpu === undefined
          ? ""
          : `${x.vcpu}${x.vcpuInsn === undefined ? "" : ` (#${num(x.vcpuInsn)})`}`,
        o?.vcpu !== x?.vcpu,
      )
      : "";
  const row = (role: "a" | "b") => {
    const x = d[role];
    const o = d[role === "a" ? "b" : "a"];
    if (!x) {
      return `<tr id="at-${role}"><th class="side-${role}">side ${role}</th>` +
        `<td colspan="${vcpus ? 6 : 5}">(stream ended)</td></tr>`;
    }
    return `<tr id="at-${role}"><th class="side-${role}">side ${role}</th>${
      td("pc", hex(x.pc), o?.pc !== x.pc)
    }${td("mono", x.symbol ? `<${x.symbol}>` : "")}${
      td("bytes", spaced(x.bytes), o?.bytes !== x.bytes)
    }${td("dis", x.disas ?? "", (o?.disas ?? "") !== (x.disas ?? ""))}${td("pc", hex(x.blockPc))}${
      vcpuCell(x, o)
    }</tr>`;
  };
  return `<section id="divergence"><h2>First differing instruction: #${num(d.insn)}${
    d.insnB !== undefined && d.insnB !== d.insn ? ` (side b's #${num(d.insnB)})` : ""
  }</h2><p>${e(what)}.</p><table class="at"><tr><th></th><th>address</th><th>symbol</th>` +
    `<th>bytes</th><th>disassembly</th><th>block</th>${vcpus ? "<th>vCPU</th>" : ""}</tr>${
      row("a")
    }${row("b")}</table>${
      d.events ? `<h3>First differing event</h3>${eventsTable(d.events)}` : ""
    }${
      d.regs && d.regs.length
        ? `<h3>Registers that differ before it</h3>${regTable(d.regs, "regs")}`
        : ""
    }</section>`;
}

function narrowSection(n: NarrowReport): string {
  if (n.status !== "done") {
    return `<section id="narrow"><h2>Narrowing</h2><p>Narrowing ${e(n.status)}: ${
      e(n.why ?? "")
    }</p>${n.regs?.length ? regTable(n.regs, "narrow-regs") : ""}</section>`;
  }
  const agree = (n.regs ?? []).length === 0;
  const vcpus = n.a?.vcpu !== undefined || n.b?.vcpu !== undefined;
  const step = (role: "a" | "b") => {
    const s = n[role];
    const o = n[role === "a" ? "b" : "a"];
    return s
      ? `<tr><th class="side-${role}">side ${role}</th>${td("pc", hex(s.pc), o?.pc !== s.pc)}${
        td("mono", s.symbol ? `<${s.symbol}>` : "")
      }${td("bytes", spaced(s.bytes), o?.bytes !== s.bytes)}${
        td("dis", s.disas || "(no disassembly)", o?.disas !== s.disas)
      }${
        vcpus ? td("mono", s.vcpu === undefined ? "?" : `${s.vcpu}`, o?.vcpu !== s.vcpu) : ""
      }</tr>`
      : "";
  };
  return `<section id="narrow"><h2>Narrowing</h2><p>${
    agree
      ? `The registers agree before instruction <b>#${num(n.insn!)}</b>; what it did differs.`
      : `The registers first differ after instruction <b>#${num(n.insn!)}</b>.`
  }</p><table class="at"><tr><th></th><th>address</th><th>symbol</th><th>bytes</th>` +
    `<th>disassembly</th>${vcpus ? "<th>vCPU</th>" : ""}</tr>${step("a")}${step("b")}</table>${
      agree ? "" : `<h3>Registers right after it</h3>${regTable(n.regs!, "narrow-regs")}`
    }<p class="muted">Stepped instructions ${num(n.from!)}–${num(n.to!)}; the re-runs took ${
      n.seconds!.toFixed(2)
    } s.</p></section>`;
}

function cells(x: Cell | undefined, o: Cell | undefined, sep: boolean): string {
  const s = sep ? " sep" : "";
  if (!x) return `<td class="pc${s}"></td><td class="bytes"></td><td class="dis"></td>`;
  return `${td(`pc${s}`, hex(x.pc), o !== undefined && o.pc !== x.pc)}${
    td("bytes", spaced(x.bytes), o !== undefined && o.bytes !== x.bytes)
  }${td("dis", x.disas ?? "", o !== undefined && (o.disas ?? "") !== (x.disas ?? ""))}`;
}

function streamsSection(v: Verdict): string {
  const rows = alignHistory(v.divergence!);
  if (rows.length === 0) return "";
  const label = (x: Cell | undefined, first: boolean) =>
    x && (x.enters || first) ? `<${x.symbol ?? "outside the image's symbols"}>` : "";
  const body = rows.map((r: Row, i) => {
    const la = label(r.a, i === 0);
    const lb = label(r.b, i === 0);
    const func = la || lb
      ? `<tr class="func"><td></td><td></td><td colspan="3">${e(la)}</td>` +
        `<td colspan="3" class="sep">${e(lb)}</td></tr>`
      : "";
    const cls = r.offset === 0 ? "divergent" : r.differs ? "differs" : r.offset > 0 ? "after" : "";
    const mark = r.offset === 0 ? "⇒" : r.differs ? "!" : "";
    const index = r.a ? num(r.a.index) : r.b ? `b ${num(r.b.index)}` : "";
    return `${func}<tr class="${cls}"${r.offset === 0 ? ' id="divergent-row"' : ""}>` +
      `<td class="mark">${mark}</td><td class="idx">${index}</td>${cells(r.a, r.b, false)}${
        cells(r.b, r.a, true)
      }</tr>`;
  }).join("");
  return `<section id="streams"><h2>The two streams, aligned on the divergence</h2>` +
    `<p class="muted">⇒ the divergence; highlighted rows differ between the sides, highlighted ` +
    `cells say in what.</p><div class="scroll"><table class="streams"><tr><th></th>` +
    `<th class="idx">#</th><th colspan="3" class="side-a">side a</th>` +
    `<th colspan="3" class="sep side-b">side b</th></tr>${body}</table></div></section>`;
}

/** The run's timeline as an SVG chart: instructions over time per side, and the divergence. */
function timelineSvg(v: Verdict, t: Timeline): string {
  const W = 760, H = 250, L = 70, R = 110, T = 28, B = 40;
  const all = [...t.a, ...t.b];
  const maxT = Math.max(v.wallSeconds, ...all.map(([s]) => s), 0.001);
  const maxN = Math.max(1, ...all.map(([, n]) => n), v.divergence?.insn ?? 0);
  const x = (s: number) => +(L + (s / maxT) * (W - L - R)).toFixed(1);
  const y = (n: number) => +(H - B - (n / maxN) * (H - T - B)).toFixed(1);
  const line = (pts: readonly (readonly [number, number])[], color: string, id: string) =>
    `<polyline id="${id}" fill="none" stroke="${color}" stroke-width="2" ` +
    `stroke-linejoin="round" points="${pts.map(([s, n]) => `${x(s)},${y(n)}`).join(" ")}"/>`;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) =>
    `<line x1="${L}" x2="${W - R}" y1="${y(f * maxN)}" y2="${y(f * maxN)}" stroke="#e4e4e7"/>` +
    `<text x="${L - 6}" y="${y(f * maxN) + 4}" text-anchor="end">${short(f * maxN)}</text>` +
    `<text x="${x(f * maxT)}" y="${H - B + 16}" text-anchor="middle">${
      (f * maxT).toFixed(2)
    } s</text>`
  ).join("");
  const legend = (["a", "b"] as const).map((role, i) =>
    `<line x1="${W - R + 14}" x2="${W - R + 36}" y1="${T + 8 + 18 * i}" y2="${T + 8 + 18 * i}" ` +
    `stroke="var(--${role})" stroke-width="2"/><text x="${W - R + 42}" y="${T + 12 + 18 * i}">` +
    `side ${role}</text>`
  ).join("");
  const d = v.divergence;
  let mark = "";
  if (d && t.disagreedAt !== null) {
    const cx = x(t.disagreedAt);
    const cy = y(d.insn);
    const right = cx < L + (W - L - R) / 2;
    mark = `<line x1="${cx}" x2="${cx}" y1="${T}" y2="${H - B}" stroke="#b91c1c" ` +
      `stroke-dasharray="4 3"/><circle cx="${cx}" cy="${cy}" r="5" fill="#b91c1c"/>` +
      `<text x="${right ? cx + 9 : cx - 9}" y="${Math.max(T + 10, cy - 8)}" text-anchor="${
        right ? "start" : "end"
      }" style="fill:#b91c1c">diverged at #${num(d.insn)}, found at ${
        t.disagreedAt.toFixed(2)
      } s</text>`;
  }
  return `<svg class="timeline" id="timeline-chart" role="img" width="${W}" height="${H}" ` +
    `viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg"><title>Instructions retired ` +
    `over time, per side</title>${ticks}<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" ` +
    `stroke="#a1a1aa"/><line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" ` +
    `stroke="#a1a1aa"/><text x="${L}" y="${H - 6}">seconds since both QEMUs started</text>` +
    `<text x="4" y="14">instructions</text>${legend}${line(t.a, "var(--a)", "timeline-a")}${
      line(t.b, "var(--b)", "timeline-b")
    }${mark}</svg>`;
}

function timelineSection(v: Verdict): string {
  const t = v.timeline;
  if (!t) return "";
  const found = t.disagreedAt !== null
    ? ` A side found the disagreement ${t.disagreedAt.toFixed(2)} s after the start` +
      ` (at a checkpoint: the divergent instruction ran a little before).`
    : "";
  return `<section id="timeline"><h2>Timeline</h2><p class="muted">Instructions each side ` +
    `retired (<span class="side-a">side a</span>, <span class="side-b">side b</span>) over the ` +
    `run's ${v.wallSeconds.toFixed(2)} s, as the plugins reported them.${found}</p>${
      timelineSvg(v, t)
    }</section>`;
}

function sideFacts(role: "a" | "b", s: SideResult): string {
  const exit = s.signal ? `killed by ${s.signal}` : `exit ${s.exitCode ?? "unknown"}`;
  return `<h3 class="side-${role}">Side ${role}</h3><dl class="facts" id="facts-${role}">` +
    `<dt>QEMU</dt><dd><code>${e(s.qemu)}</code> ${e(s.version)} (plugin API ${s.pluginApi}), ${
      e(s.mode)
    } mode, ${e(exit)}</dd><dt>image</dt><dd><code>${e(s.image)}</code></dd>` +
    `<dt>last report</dt><dd>${num(s.insns)} instructions in ${
      num(s.blocks)
    } blocks retired; peak RSS ${num(s.peakRssKb)} kB</dd></dl><pre class="argv">${
      e(s.argv.join(" "))
    }</pre>${
      s.output ? `<details><summary>guest output</summary><pre>${e(s.output)}</pre></details>` : ""
    }${
      s.stderrTail
        ? `<details><summary>QEMU's stderr (last lines)</summary><pre>${
          e(s.stderrTail)
        }</pre></details>`
        : ""
    }`;
}

function factsSection(v: Verdict): string {
  const agreed = v.status === "match"
    ? `all ${num(v.insns)} instructions agree`
    : v.status === "diverged"
    ? `the first ${num(v.insns)} instructions agree`
    : `no verdict after ${num(v.insns)} instructions`;
  const rows: [string, string][] = [
    ["compared", `${v.compared.join(", ")}: ${agreed}`],
    ["stopped by", `${v.stoppedBy ?? "nothing (no run)"} after ${v.wallSeconds.toFixed(2)} s`],
    ...(v.registers.length ? [["registers", v.registers.join(" ")] as [string, string]] : []),
    ...v.registersSkipped.map((r) => ["left out", `${r.name}: ${r.why}`] as [string, string]),
    ...(v.transients.length
      ? [["transient excursions", `${v.transients.length} gone past`] as [string, string]]
      : []),
    ...(v.disassembler
      ? [["disassembly", v.disassembler.command ?? "none"] as [string, string]]
      : []),
    ...(v.tempDir ? [["kept", v.tempDir] as [string, string]] : []),
  ];
  return `<section id="facts"><h2>The run</h2><dl class="facts">${
    rows.map(([k, val]) => `<dt>${e(k)}</dt><dd>${e(val)}</dd>`).join("")
  }</dl>${sideFacts("a", v.sides.a)}${sideFacts("b", v.sides.b)}</section>`;
}

/** QEMU's logs at the divergence (--log-at-divergence), side by side, each folded. */
function logsSection(logs: DivergenceLogs): string {
  const side = (role: "a" | "b") => {
    const l = logs[role];
    return `<details class="side-${role}" id="log-${role}" open><summary>side ${role}: before ` +
      `#${num(l.insn)} at ${hex(l.pc)}; blocks ${hex(l.from)}–${hex(l.to)}${
        l.truncated ? " (cut)" : ""
      }</summary><pre>${e(l.text)}</pre></details>`;
  };
  return `<section id="logs"><h2>QEMU's log at the divergence (-d ${e(logs.items)})</h2>` +
    `<div style="display:grid;grid-template-columns:1fr 1fr;gap:1em;overflow-x:auto">${side("a")}${
      side("b")
    }</div></section>`;
}

/** The verdict as one self-contained HTML page. */
export function renderHtml(v: Verdict): string {
  const word = v.status.toUpperCase();
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>qemu-lockstep: ${e(word)}: ${e(v.message)}</title>
<style>${STYLE}</style></head>
<body>
<header class="${v.status}" id="headline"><span class="badge">${e(word)}</span><h1>${
    e(v.message)
  }</h1></header>
${notesBlock(v)}
${v.divergence ? divergenceSection(v) : ""}
${v.divergence?.narrow ? narrowSection(v.divergence.narrow) : ""}
${v.divergence ? streamsSection(v) : ""}
${v.divergenceLogs ? logsSection(v.divergenceLogs) : ""}
${timelineSection(v)}
${factsSection(v)}
</body></html>
`;
}

/**
 * Rendering a Verdict: human text for stderr, one JSON document for stdout,
 * and the live progress line. The text puts what explains the verdict
 * first (warnings, what was not compared), then the divergence, then both
 * histories side by side (or one after the other where two columns do not
 * fit), then the run's numbers.
 */
import type {
  DivergenceLogs,
  EventView,
  NarrowReport,
  Progress,
  RegDiff,
  TraceWindow,
  Verdict,
} from "../mod.ts";
import { DEFAULTS } from "../mod.ts";
import { type Paint, palette } from "../deps/fmt.ts";
import { alignHistory, type Cell, type Row } from "./_history.ts";
import { printable } from "./_output.ts";
import { sideBySide as twoColumns } from "./gdb.ts";

/** The verdict as one JSON document (addresses as "0x…" strings). */
export function renderJson(verdict: Verdict): string {
  return JSON.stringify(
    verdict,
    (_key, value) => typeof value === "bigint" ? `0x${value.toString(16)}` : value,
    2,
  );
}

/** How the text verdict is laid out. */
export interface TextOptions {
  /** ANSI colours. */
  readonly color?: boolean;
  /** List the transient excursions. */
  readonly verbose?: boolean;
  /**
   * The terminal's width in columns: the histories go side by side when
   * they fit in it. Undefined (not a terminal): one after the other.
   */
  readonly width?: number | undefined;
  /** Rows of history to show (DEFAULTS.historyLines). */
  readonly lines?: number | undefined;
}

const hex = (n: bigint) => `0x${n.toString(16)}`;

function spacedBytes(bytes: string): string {
  return bytes.replace(/(..)(?!$)/g, "$1 ");
}

function number(n: number): string {
  return n.toLocaleString("en-US");
}

function rate(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return `${Math.round(n)}`;
}

/** Rows of cells as text columns, each padded to its widest cell (the last one not). */
function columns(rows: readonly (readonly string[])[], gap = "  "): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  return rows.map((r) =>
    r.map((cell, i) => i === r.length - 1 ? cell : cell.padEnd(widths[i]!)).join(gap).trimEnd()
  );
}

function eventText(e: EventView | null): string {
  if (!e) return "(no such event)";
  const call = `system call ${e.name ? `${e.name} (${e.number})` : e.number}`;
  switch (e.kind) {
    case "load":
    case "store":
      return `${e.kind} of ${e.size} byte(s) at ${hex(e.address!)}` +
        (e.value !== undefined ? `, value ${hex(e.value)}` : "");
    case "syscall":
      return `${call} (arguments hash ${hex(e.argsHash!)})`;
    case "syscall-result":
      return `${call} returned ${e.result}`;
    case "syscall-output":
      return `${call} wrote ${hex(e.value!)} at byte ${e.offset}`;
    case "regs":
      return `registers at the start of block ${hex(e.blockPc!)} (hash ${hex(e.hash!)})`;
  }
}

/** Registers that differ, as a small table. */
function regTable(regs: readonly RegDiff[], indent: string): string[] {
  return columns([["register", "side a", "side b"], ...regs.map((r) => [r.name, r.a, r.b])])
    .map((l) => indent + l);
}

function narrowLines(n: NarrowReport): string[] {
  if (n.status !== "done") {
    return [`  narrowing ${n.status}: ${n.why}`];
  }
  const out: string[] = [];
  const agree = (n.regs ?? []).length === 0;
  out.push(
    agree
      ? `  narrowed: the registers agree before instruction #${
        number(n.insn!)
      }; what it did differs`
      : `  narrowed: the registers first differ after instruction #${number(n.insn!)}`,
  );
  out.push(
    ...columns((["a", "b"] as const).flatMap((role) => {
      const st = n[role];
      return st
        ? [[
          `    side ${role}: ${hex(st.pc)} <${st.symbol ?? "?"}>`,
          spacedBytes(st.bytes),
          st.disas || "(no disassembly)",
          ...(st.vcpu === undefined ? [] : [`vCPU ${st.vcpu}`]),
        ]]
        : [];
    })),
  );
  if (!agree) out.push(...regTable(n.regs!, "    "));
  out.push(
    `    (stepped instructions ${number(n.from!)}–${number(n.to!)}; re-runs took ${
      n.seconds!.toFixed(2)
    } s)`,
  );
  return out;
}

/** The last steps of a window shown in text (--json has them all). */
const WINDOW_STEPS = 12;

/** A window a trace names instead of an instruction, with side b's last steps in it. */
function windowLines(w: TraceWindow): string[] {
  const out = [
    `  the difference lies in instructions #${number(w.from)}–#${number(w.to - 1)} (${
      number(w.size)
    } instructions): ${w.why}`,
  ];
  const steps = w.steps ?? [];
  if (steps.length === 0) return out;
  out.push(
    `  side b's last ${
      Math.min(WINDOW_STEPS, steps.length)
    } of them, and the registers each found changed:`,
  );
  out.push(
    ...columns(
      steps.slice(-WINDOW_STEPS).map((s) => [
        `    ${number(s.pos)}`,
        hex(s.pc),
        s.disas || spacedBytes(s.bytes),
        s.regs.map((r) => `${r.name}=${r.value}`).join(" "),
      ]),
    ),
  );
  return out;
}

function excursionLines(xs: Verdict["transients"]): string[] {
  const from = (x: Verdict["transients"][number]["a"]) =>
    x ? `from ${hex(x.pc)} <${x.symbol ?? "?"}>${x.disas ? ` ${x.disas}` : ""}` : "(stream ended)";
  return xs.map((x) =>
    `    #${number(x.insn)}${
      x.insnB !== x.insn ? ` (b #${number(x.insnB)})` : ""
    }: side a ran ${x.lengthA} ${from(x.a)}; side b ran ${x.lengthB} ${
      from(x.b)
    }; then they met again`
  );
}

/** What explains the verdict: the short block under the headline. */
function notes(v: Verdict): string[] {
  return [
    ...v.warnings.map((w) => `warning: ${w}`),
    ...v.notCompared.map((n) => `not compared: ${n.what}: ${n.why}`),
    ...(v.disassembler?.note ? [`note: ${v.disassembler.note}`] : []),
  ];
}

function divergenceLines(v: Verdict, c: ReturnType<typeof palette>): string[] {
  const d = v.divergence!;
  const out: string[] = [];
  out.push(
    `  first differing instruction: #${number(d.insn)}` +
      (d.insnB !== undefined && d.insnB !== d.insn ? ` (side b's #${number(d.insnB)})` : ""),
  );
  const anyDisas = !!(d.a?.disas || d.b?.disas);
  out.push(
    ...columns((["a", "b"] as const).map((role) => {
      const at = d[role];
      return at
        ? [
          `  side ${role}: ${hex(at.pc)} <${at.symbol ?? "outside the image's symbols"}>`,
          spacedBytes(at.bytes),
          ...(anyDisas ? [at.disas ?? ""] : []),
          `(block ${hex(at.blockPc)})`,
          ...(at.vcpu === undefined ? [] : [
            `vCPU ${at.vcpu}${
              at.vcpuInsn === undefined ? "" : `, its instruction #${number(at.vcpuInsn)}`
            }`,
          ]),
        ]
        : [`  side ${role}: (stream ended)`];
    })),
  );
  if (d.events) {
    out.push(
      `  first differing ${
        {
          pc: "",
          mem: "memory access",
          syscall: "system call",
          regs: "register state",
          interleaving: "event",
          environment: ["counter", "device", "auxv", "cpu"].includes(d.environment?.what ?? "")
            ? "value"
            : "answer from the host",
        }[d.kind]
      } ${d.kind === "regs" ? "before" : "of"} that instruction:`,
    );
    out.push(`    side a: ${eventText(d.events.a)}`);
    out.push(`    side b: ${eventText(d.events.b)}`);
  }
  if (d.environment) out.push(c.yellow(`  not TCG: ${d.environment.hint}`));
  if (d.regs && d.regs.length) {
    out.push("  registers that differ there:", ...regTable(d.regs, "    "));
  }
  if (d.window) out.push("", ...windowLines(d.window));
  if (d.narrow) out.push("", ...narrowLines(d.narrow));
  if (d.a && d.b && !d.a.symbol && !d.b.symbol && v.warnings.length) {
    out.push(c.yellow("  note: both sides are outside the image's symbols, and the warning above"));
    out.push(c.yellow("        names a difference between the sides that is not TCG's doing"));
  }
  return out;
}

/** A history row's marker: the divergence, a row that differs, or none. */
const marker = (r: Row) => r.offset === 0 ? "=>" : r.differs ? " !" : "  ";

/** One side's instruction in the two-column layout: address and disassembly (else bytes). */
const shortCell = (x: Cell | undefined) =>
  x ? `${hex(x.pc)}  ${x.disas ?? spacedBytes(x.bytes)}` : "";

const label = (x: Cell | undefined, first: boolean) =>
  x && (x.enters || first) ? `<${x.symbol ?? "outside the image's symbols"}>` : "";

/** The rows to show: at most `lines`, ending two past the divergence at the most. */
function shownRows(v: Verdict, lines: number): Row[] {
  const rows = alignHistory(v.divergence!, undefined, 2);
  return rows.slice(Math.max(0, rows.length - lines));
}

/**
 * Both histories in two columns, aligned on the divergence; undefined when
 * they need more than `width` columns.
 */
function sideBySide(rows: readonly Row[], width: number, paint: (r: Row, s: string) => string) {
  const table: string[][] = [["", "", "side a", "│", "side b"]];
  const kinds: (Row | undefined)[] = [undefined];
  rows.forEach((r, i) => {
    const la = label(r.a, i === 0);
    const lb = label(r.b, i === 0);
    if (la || lb) {
      table.push(["", "", la, "│", lb]);
      kinds.push(undefined);
    }
    table.push([
      marker(r),
      r.a ? number(r.a.index) : r.b ? `b ${number(r.b.index)}` : "",
      shortCell(r.a),
      "│",
      shortCell(r.b),
    ]);
    kinds.push(r);
  });
  const lines = columns(table).map((l) => `  ${l}`);
  if (Math.max(...lines.map((l) => l.length)) > width) return undefined;
  return lines.map((l, i) => {
    const r = kinds[i];
    return r ? paint(r, l) : l;
  });
}

/** Both histories one after the other, each with bytes and disassembly. */
function plain(rows: readonly Row[], paint: (r: Row, s: string) => string): string[] {
  const out: string[] = [];
  for (const role of ["a", "b"] as const) {
    const mine = rows.filter((r) => r[role]);
    const lines = columns(mine.map((r) => {
      const x = r[role]!;
      return [marker(r), number(x.index), hex(x.pc), spacedBytes(x.bytes), x.disas ?? ""];
    }));
    // Function labels start under the addresses.
    const indent = " ".repeat(
      2 + 2 + 2 + Math.max(...mine.map((r) => number(r[role]!.index).length)) + 2,
    );
    out.push("", `  side ${role}:`);
    mine.forEach((r, i) => {
      const l = label(r[role], i === 0);
      if (l) out.push(indent + l);
      out.push(paint(r, `  ${lines[i]}`));
    });
  }
  return out;
}

function historyLines(v: Verdict, o: TextOptions, c: ReturnType<typeof palette>): string[] {
  const rows = shownRows(v, o.lines ?? DEFAULTS.historyLines);
  if (rows.length === 0) return [];
  const paint = (r: Row, s: string) => (r.offset === 0 ? c.red : r.differs ? c.yellow : id)(s);
  const head = `  the last ${rows.filter((r) => r.offset <= 0).length} instructions up to ` +
    `the divergence (=> the divergence, ! where the sides differ):`;
  const two = o.width !== undefined ? sideBySide(rows, o.width, paint) : undefined;
  return ["", head, ...(two ?? plain(rows, paint).slice(1))];
}

const id: Paint = (s) => s;

/** What the run compared and ran: counts that say what they count. */
function factLines(v: Verdict): string[] {
  const what = `compared ${v.compared.join(", ")}: `;
  const agreed = v.status === "match"
    ? `all ${number(v.insns)} instructions agree`
    : v.status === "diverged"
    ? `the first ${number(v.insns)} instructions agree`
    : `no verdict after ${number(v.insns)} instructions`;
  // Under a second, start-up dominates: a rate would say nothing about QEMU.
  const speed = v.wallSeconds >= 1 ? ` (${rate(v.insnsPerSecond)} insns/s a side)` : "";
  const stop = v.stoppedBy ? `; stopped by ${v.stoppedBy}` : ";";
  const out = [`  ${what}${agreed}${stop} after ${v.wallSeconds.toFixed(2)} s${speed}`];
  if (v.trace) {
    out.push(
      `  side a is the trace ${v.trace.path}, recorded ${v.trace.created} on ${v.trace.host}`,
    );
  }
  for (const role of ["a", "b"] as const) {
    const s = v.sides[role];
    const exit = s.signal ? `killed by ${s.signal}` : `exit ${s.exitCode ?? "unknown"}`;
    out.push(
      `  side ${role}: QEMU ${s.version} (plugin API ${s.pluginApi}), ${s.mode} mode, ${exit}; ` +
        `${number(s.insns)} instructions in ${number(s.blocks)} blocks at its last report`,
    );
  }
  return out;
}

/** The verdict as text for a person (see TextOptions). */
export function renderText(verdict: Verdict, opts: TextOptions = {}): string {
  const c = palette(opts.color ?? false);
  const out: string[] = [];
  const head = {
    match: c.green(c.bold("MATCH")),
    diverged: c.red(c.bold("DIVERGED")),
    inconclusive: c.yellow(c.bold("INCONCLUSIVE")),
    error: c.red(c.bold("ERROR")),
  }[verdict.status];
  out.push(`${head}  ${verdict.message}`);
  out.push(...notes(verdict).map((l) => c.yellow(`  ${l}`)));
  if (verdict.divergence) {
    out.push("", ...divergenceLines(verdict, c), ...historyLines(verdict, opts, c));
  }
  out.push("", ...factLines(verdict).map((l) => c.dim(l)));
  if (verdict.status === "error" || verdict.status === "inconclusive") {
    for (const role of ["a", "b"] as const) {
      const tail = verdict.sides[role].stderrTail.trim();
      if (tail) out.push("", `  side ${role} stderr:`, ...tail.split("\n").map((l) => `    ${l}`));
    }
  }
  const xs = verdict.transients;
  if (xs.length) {
    out.push(
      c.dim(
        `  ${xs.length} transient excursion(s): the streams parted and met again within the window` +
          (opts.verbose ? ":" : " (--verbose lists them)"),
      ),
    );
    if (opts.verbose) out.push(...excursionLines(xs).map((l) => c.dim(l)));
  }
  const f = verdict.fastPass;
  if (f.result === "apart") {
    out.push(
      c.dim(
        `  fast pass: ${f.why} (${f.seconds.toFixed(2)} s); ${
          verdict.trace
            ? "the live side re-ran, recording, against the trace"
            : "the detail pass re-ran both sides"
        }`,
      ),
    );
  } else if (f.result === "not-run" && f.why) {
    out.push(c.dim(`  fast pass not run: ${f.why}`));
  }
  if (verdict.registers.length) {
    out.push(c.dim(`  registers compared: ${verdict.registers.join(" ")}`));
  }
  if (verdict.tempDir) out.push(c.dim(`  kept: ${verdict.tempDir}`));
  if (verdict.divergenceLogs) out.push("", ...logLines(verdict.divergenceLogs, opts.width));
  return out.join("\n") + "\n";
}

/** QEMU's logs at the divergence (--log-at-divergence), side by side. */
function logLines(logs: DivergenceLogs, width: number | undefined): string[] {
  const head = (role: "a" | "b") => {
    const l = logs[role];
    return `side ${role}: before #${number(l.insn)} at ${hex(l.pc)}, blocks ${hex(l.from)}..${
      hex(l.to)
    }${l.truncated ? " (cut)" : ""}`;
  };
  const text = (role: "a" | "b") =>
    logs[role].text.replace(/\n$/, "").split("\n").map((l) =>
      printable(l.replaceAll("\t", "    "))
    );
  return [
    `  QEMU's log at the divergence (-d ${logs.items}):`,
    ...twoColumns([head("a"), ...text("a")], [head("b"), ...text("b")], width ?? 160)
      .replace(/\n$/, "").split("\n"),
  ];
}

/** One progress line (no newline), for a terminal. */
export function renderProgress(p: Progress): string {
  return `  comparing… ${rate(p.insns)} insns  ${rate(p.insnsPerSecond)} insns/s  ${
    p.elapsedSeconds.toFixed(1)
  } s`;
}

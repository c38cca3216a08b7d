/**
 * Rendering a Verdict: human text for stderr, one JSON document for stdout,
 * and the live progress line.
 */
import type { EventView, NamedBlock, NarrowReport, Progress, RegDiff, Verdict } from "../mod.ts";
import { palette } from "../deps/fmt.ts";

/** The verdict as one JSON document (addresses as "0x…" strings). */
export function renderJson(verdict: Verdict): string {
  return JSON.stringify(
    verdict,
    (_key, value) => typeof value === "bigint" ? `0x${value.toString(16)}` : value,
    2,
  );
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

function blocks(title: string, views: readonly NamedBlock[], mark: bigint | undefined): string[] {
  const lines = [title];
  for (const b of views) {
    const name = b.symbol ? ` <${b.symbol}>` : "";
    lines.push(
      `  block ${hex(b.pc)}${name}  at insn ${number(b.index)}  (${b.insns.length} insns)`,
    );
    for (const insn of b.insns) {
      const here = mark !== undefined && insn.pc === mark && b === views[views.length - 1];
      lines.push(`    ${here ? "=>" : "  "} ${hex(insn.pc)}  ${spacedBytes(insn.bytes)}`);
    }
  }
  return lines;
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

function regLines(regs: readonly RegDiff[]): string[] {
  const w = Math.max(...regs.map((r) => r.name.length));
  return regs.map((r) => `    ${r.name.padEnd(w)}  a ${r.a}  b ${r.b}`);
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
  for (const role of ["a", "b"] as const) {
    const st = n[role];
    if (!st) continue;
    out.push(
      `    side ${role}: ${hex(st.pc)} <${st.symbol ?? "?"}>  ${spacedBytes(st.bytes)}  ${
        st.disas || "(no disassembly)"
      }`,
    );
  }
  if (!agree) out.push("  differing right after it:", ...regLines(n.regs!));
  out.push(
    `  (stepped instructions ${number(n.from!)}–${number(n.to!)}; re-runs took ${
      n.seconds!.toFixed(2)
    } s)`,
  );
  return out;
}

function excursionLines(xs: Verdict["transients"]): string[] {
  const at = (x: Verdict["transients"][number]["a"]) =>
    x ? `${hex(x.pc)} <${x.symbol ?? "?"}>` : "(stream ended)";
  return xs.map((x) =>
    `    #${number(x.insn)}${x.insnB !== x.insn ? ` (b #${number(x.insnB)})` : ""}: a ${
      at(x.a)
    } ran ${x.lengthA}, b ${at(x.b)} ran ${x.lengthB} instructions, then they met again`
  );
}

/**
 * The verdict as text for a person; `color` turns on ANSI colours,
 * `verbose` lists the transient excursions.
 */
export function renderText(verdict: Verdict, color: boolean, verbose = false): string {
  const c = palette(color);
  const out: string[] = [];
  const head = {
    match: c.green(c.bold("MATCH")),
    diverged: c.red(c.bold("DIVERGED")),
    inconclusive: c.yellow(c.bold("INCONCLUSIVE")),
    error: c.red(c.bold("ERROR")),
  }[verdict.status];
  out.push(`${head}  ${verdict.message}`);
  const d = verdict.divergence;
  if (d) {
    out.push("");
    out.push(`  first differing instruction: #${number(d.insn)}`);
    for (const role of ["a", "b"] as const) {
      const at = d[role];
      out.push(
        `  side ${role}: ${
          at
            ? `${hex(at.pc)} <${at.symbol ?? "outside the image's symbols"}>  ${
              spacedBytes(at.bytes)
            }  (block ${hex(at.blockPc)})`
            : "(stream ended)"
        }`,
      );
    }
    if (d.events) {
      out.push(
        `  first differing ${
          {
            pc: "",
            mem: "memory access",
            syscall: "system call",
            regs: "register state",
            environment: d.environment?.what === "counter" ? "value" : "answer from the host",
          }[d.kind]
        } ${d.kind === "regs" ? "before" : "of"} that instruction:`,
      );
      out.push(`    side a: ${eventText(d.events.a)}`);
      out.push(`    side b: ${eventText(d.events.b)}`);
    }
    if (d.environment) out.push(`  not TCG: ${d.environment.hint}`);
    if (d.regs && d.regs.length) out.push("  registers that differ there:", ...regLines(d.regs));
    if (d.narrow) out.push("", ...narrowLines(d.narrow));
    if (d.a && d.b && !d.a.symbol && !d.b.symbol && verdict.warnings.length) {
      out.push("  note: both sides are outside the image's symbols, and the warning below names");
      out.push("        a difference between the sides that is not TCG's doing");
    }
    for (const role of ["a", "b"] as const) {
      out.push("");
      out.push(
        ...blocks(
          `  last ${d.history[role].length} blocks, side ${role}:`,
          d.history[role],
          d[role]?.pc,
        ),
      );
    }
  }
  out.push("");
  out.push(
    c.dim(
      `  compared ${verdict.compared.join(",")}: ${number(verdict.insns)} instructions, ` +
        `${number(verdict.blocks)} blocks in ${verdict.wallSeconds.toFixed(2)} s ` +
        `(${rate(verdict.insnsPerSecond)} insns/s)` +
        (verdict.stoppedBy ? `; stopped by ${verdict.stoppedBy}` : ""),
    ),
  );
  for (const role of ["a", "b"] as const) {
    const s = verdict.sides[role];
    const exit = s.signal ? `killed by ${s.signal}` : `exit ${s.exitCode}`;
    out.push(
      c.dim(
        `  side ${role}: QEMU ${s.version} (plugin API ${s.pluginApi}), ${s.mode} mode, ${exit}`,
      ),
    );
  }
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
          (verbose ? ":" : " (--verbose lists them)"),
      ),
    );
    if (verbose) out.push(...excursionLines(xs).map((l) => c.dim(l)));
  }
  if (verdict.registers.length) {
    out.push(c.dim(`  registers compared: ${verdict.registers.join(" ")}`));
  }
  for (const n of verdict.notCompared) out.push(c.yellow(`  not compared: ${n.what}: ${n.why}`));
  for (const w of verdict.warnings) out.push(c.yellow(`  warning: ${w}`));
  if (verdict.tempDir) out.push(c.dim(`  kept: ${verdict.tempDir}`));
  return out.join("\n") + "\n";
}

/** One progress line (no newline), for a terminal. */
export function renderProgress(p: Progress): string {
  return `  comparing… ${rate(p.insns)} insns  ${rate(p.insnsPerSecond)} insns/s  ${
    p.elapsedSeconds.toFixed(1)
  } s`;
}

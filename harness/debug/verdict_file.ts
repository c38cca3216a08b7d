/**
 * A verdict read back from its JSON (`--json`, `--report`): the document
 * docs/verdict.md describes, with the addresses and hashes that are
 * bigints in memory (written as "0x…") made bigints again.
 */
import type { Verdict } from "../verdict/verdict.ts";
import { DebugError } from "./debug_error.ts";

const HINT = "pass a verdict qemu-lockstep wrote (--json or --report), unedited";

/** A verdict document that cannot be read (not JSON, another version, a field of the wrong shape). */
function unreadable(why: string): DebugError {
  return new DebugError(`Cannot read the verdict: ${why}`, HINT);
}

type Json = Record<string, unknown>;

function isObject(x: unknown): x is Json {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** `o[key]` as a bigint when it is "0x…" (or a number); left alone when absent. */
function revive(o: unknown, keys: readonly string[], where: string): void {
  if (!isObject(o)) return;
  for (const k of keys) {
    const v = o[k];
    if (v === undefined || v === null) continue;
    if (typeof v === "string" && /^0x[0-9a-f]+$/i.test(v)) o[k] = BigInt(v);
    else if (typeof v === "number" && Number.isSafeInteger(v)) o[k] = BigInt(v);
    else throw unreadable(`${where}.${k} is not an address: ${JSON.stringify(v)}`);
  }
}

const AT = ["pc", "blockPc"];
const EVENT = ["blockPc", "hash", "address", "value", "argsHash"];

function reviveBlocks(blocks: unknown, where: string): void {
  if (!Array.isArray(blocks)) return;
  blocks.forEach((b, i) => {
    revive(b, ["pc"], `${where}[${i}]`);
    if (isObject(b) && Array.isArray(b.insns)) {
      b.insns.forEach((x, j) => revive(x, ["pc"], `${where}[${i}].insns[${j}]`));
    }
  });
}

/** Parses a verdict's JSON text; throws DebugError when it is not one. */
export function parseVerdict(text: string): Verdict {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw unreadable(`not JSON: ${(e as Error).message}`);
  }
  if (!isObject(raw) || raw.version !== 1 || typeof raw.status !== "string") {
    throw unreadable('not a qemu-lockstep verdict ("version": 1 and a "status")');
  }
  const sides = raw.sides;
  if (
    !isObject(sides) ||
    !["a", "b"].every((r) => isObject(sides[r]) && Array.isArray((sides[r] as Json).argv))
  ) {
    throw unreadable("it has no command lines (sides.a.argv, sides.b.argv)");
  }
  const d = raw.divergence;
  if (isObject(d)) {
    for (const r of ["a", "b"]) {
      revive(d[r], AT, `divergence.${r}`);
      if (isObject(d.events)) revive(d.events[r], EVENT, `divergence.events.${r}`);
      if (isObject(d.history)) reviveBlocks(d.history[r], `divergence.history.${r}`);
      if (isObject(d.narrow)) revive(d.narrow[r], ["pc"], `divergence.narrow.${r}`);
    }
    if (isObject(d.window) && Array.isArray(d.window.steps)) {
      d.window.steps.forEach((s, i) => revive(s, ["pc"], `divergence.window.steps[${i}]`));
    }
  }
  if (Array.isArray(raw.transients)) {
    raw.transients.forEach((x, i) => {
      for (const r of ["a", "b"]) {
        if (isObject(x)) revive(x[r], AT, `transients[${i}].${r}`);
      }
    });
  }
  if (isObject(raw.divergenceLogs)) {
    const logs = raw.divergenceLogs;
    for (const r of ["a", "b"]) revive(logs[r], ["pc", "from", "to"], `divergenceLogs.${r}`);
  }
  return raw as unknown as Verdict;
}

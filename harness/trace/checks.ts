/**
 * A trace's JSON parts (header, summary) parsed and checked field by
 * field: a damaged or foreign one is a TraceError naming the field.
 */
import { BOUNDS, checkBound } from "../core/bounds.ts";
import { TraceError, type TraceHeader, type TraceSummary } from "./format.ts";

const dec = new TextDecoder("utf-8", { fatal: true });

/** A JSON object, or a TraceError saying `what` is damaged. */
export function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  try {
    const v = JSON.parse(dec.decode(bytes));
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return v;
  } catch {
    // below
  }
  throw new TraceError(`${what} is damaged: it is not a JSON object`);
}

type Check = (v: unknown) => boolean;
const isStr: Check = (v) => typeof v === "string";
const isNat: Check = (v) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isPos: Check = (v) => isNat(v) && (v as number) > 0;
const isStrs: Check = (v) => Array.isArray(v) && v.every(isStr);
const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Each field of `o` that `shape` names passes its check; else TraceError naming it. */
function checkShape(o: unknown, shape: Record<string, Check>, where: string): void {
  if (!isObj(o)) throw new TraceError(`${where} is not an object`);
  for (const [k, check] of Object.entries(shape)) {
    if (!check(o[k])) throw new TraceError(`${where} has a bad "${k}"`);
  }
}

export function checkHeader(h: Record<string, unknown>, what: string): TraceHeader {
  const where = `${what}'s header`;
  checkShape(h, {
    format: isPos,
    tool: isStr,
    created: isStr,
    arch: isStr,
    mode: (v) => v === "system" || v === "user",
    argv: isStrs,
    compared: isStrs,
    outputs: (v) => typeof v === "boolean",
    registers: isStrs,
    interval: isPos,
    chunk: isPos,
    detail: isNat,
  }, where);
  for (const name of ["interval", "chunk", "detail"] as const) {
    try {
      checkBound(`"${name}"`, h[name], BOUNDS[name]);
    } catch (e) {
      throw new TraceError(`${where} has a bad ${(e as Error).message.replace(/^Invalid /, "")}`);
    }
  }
  checkShape(h.host, { hostname: isStr, os: isStr, arch: isStr }, `${where} (host)`);
  checkShape(h.qemu, { path: isStr, version: isStr, pluginApi: isPos }, `${where} (qemu)`);
  checkShape(h.image, {
    name: isStr,
    sha256: (v) => isStr(v) && /^[0-9a-f]{64}$/.test(v as string),
    bytes: isNat,
  }, `${where} (image)`);
  checkShape(h.options, {
    bios: (v) => typeof v === "boolean",
    extra: isStrs,
    guestArgs: isStrs,
    guestName: isStr,
    maxInsns: (v) => v === null || isPos(v),
    maskRegs: isStrs,
  }, `${where} (options)`);
  const x = h as unknown as TraceHeader;
  if (x.detail && x.interval % x.detail !== 0) {
    throw new TraceError(
      `${where} has a detail interval that does not divide the checkpoint interval`,
    );
  }
  return x;
}

export function checkSummary(s: Record<string, unknown>, what: string): TraceSummary {
  const where = `${what}'s summary`;
  checkShape(s, {
    blocks: isNat,
    jumps: isNat,
    seconds: (v) => typeof v === "number",
    peakRssKb: isNat,
  }, where);
  checkShape(s.end, {
    kind: (v) => v === "end" || v === "limit",
    insns: isNat,
    hash: (v) => isStr(v) && /^0x[0-9a-f]{16}$/.test(v as string),
    tail: isNat,
  }, `${where} (end)`);
  checkShape(s.exit, {
    code: (v) => v === null || (typeof v === "number" && Number.isInteger(v)),
    signal: (v) => v === null || isStr(v),
  }, `${where} (exit)`);
  checkShape(s.output, {
    text: isStr,
    bytes: isNat,
    sha256: isStr,
    truncated: (v) => typeof v === "boolean",
  }, `${where} (output)`);
  return s as unknown as TraceSummary;
}

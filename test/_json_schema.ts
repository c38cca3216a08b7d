// A validator for the subset of JSON Schema (2020-12) that
// docs/verdict.schema.json uses: no library reaches this project's tests.
// A keyword outside the subset is an error, never silently ignored.

/** A schema, as parsed JSON. */
// deno-lint-ignore no-explicit-any
export type Schema = Record<string, any> | boolean;

/** How to validate. */
export interface ValidateOptions {
  /**
   * Also report properties the schema does not describe (where it says
   * nothing of additionalProperties): keeps the schema as complete as the
   * documents, though the schema itself lets version 1 grow.
   */
  readonly strict?: boolean;
}

const ANNOTATIONS = new Set(["$schema", "$id", "title", "description", "$defs"]);
const KEYWORDS = new Set([
  "type",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "minItems",
  "maxItems",
  "enum",
  "const",
  "pattern",
  "minimum",
  "$ref",
  "anyOf",
]);

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function hasType(v: unknown, type: string): boolean {
  if (type === "integer") return typeof v === "number" && Number.isInteger(v);
  return typeOf(v) === type;
}

function equalJson(x: unknown, y: unknown): boolean {
  return JSON.stringify(x) === JSON.stringify(y);
}

/** Resolves a "#/$defs/name" reference against the root schema. */
function resolve(root: Schema, ref: string): Schema {
  if (!ref.startsWith("#/")) throw new SyntaxError(`Unsupported $ref: ${ref}`);
  // deno-lint-ignore no-explicit-any
  let at: any = root;
  for (const part of ref.slice(2).split("/")) {
    at = at?.[part.replaceAll("~1", "/").replaceAll("~0", "~")];
  }
  if (at === undefined) throw new SyntaxError(`Unresolved $ref: ${ref}`);
  return at;
}

/**
 * Validates `doc` against `schema`; returns the problems found, each as
 * "path: what" (path a JSON pointer), empty when it is valid.
 */
export function validate(schema: Schema, doc: unknown, opts: ValidateOptions = {}): string[] {
  const errors: string[] = [];
  const walk = (s: Schema, v: unknown, path: string) => {
    if (s === true) return;
    if (s === false) {
      errors.push(`${path || "/"}: not allowed`);
      return;
    }
    for (const k of Object.keys(s)) {
      if (!KEYWORDS.has(k) && !ANNOTATIONS.has(k)) {
        throw new SyntaxError(`Schema keyword not supported by this validator: ${k} at ${path}`);
      }
    }
    const here = path || "/";
    if (s.$ref !== undefined) walk(resolve(schema, s.$ref), v, path);
    if (s.anyOf !== undefined) {
      const ok = (s.anyOf as Schema[]).some((alt) => {
        const before = errors.length;
        walk(alt, v, path);
        const fine = errors.length === before;
        errors.length = before;
        return fine;
      });
      if (!ok) {
        // Say why against each alternative, so a failure can be read.
        const why = (s.anyOf as Schema[]).map((alt) => {
          const before = errors.length;
          walk(alt, v, path);
          const got = errors.splice(before);
          return got.join("; ");
        });
        errors.push(`${here}: matches none of anyOf (${why.join(" | ")})`);
      }
    }
    if (s.type !== undefined) {
      const types: string[] = Array.isArray(s.type) ? s.type : [s.type];
      if (!types.some((t) => hasType(v, t))) {
        errors.push(`${here}: expected ${types.join(" or ")}, got ${typeOf(v)}`);
        return;
      }
    }
    if (s.const !== undefined && !equalJson(v, s.const)) {
      errors.push(`${here}: expected ${JSON.stringify(s.const)}`);
    }
    if (s.enum !== undefined && !(s.enum as unknown[]).some((x) => equalJson(x, v))) {
      errors.push(`${here}: ${JSON.stringify(v)} is not one of ${JSON.stringify(s.enum)}`);
    }
    if (typeof v === "string" && s.pattern !== undefined && !new RegExp(s.pattern, "u").test(v)) {
      errors.push(`${here}: ${JSON.stringify(v)} does not match ${s.pattern}`);
    }
    if (typeof v === "number" && s.minimum !== undefined && v < s.minimum) {
      errors.push(`${here}: ${v} is less than ${s.minimum}`);
    }
    if (Array.isArray(v)) {
      if (s.minItems !== undefined && v.length < s.minItems) {
        errors.push(`${here}: fewer than ${s.minItems} items`);
      }
      if (s.maxItems !== undefined && v.length > s.maxItems) {
        errors.push(`${here}: more than ${s.maxItems} items`);
      }
      if (s.items !== undefined) v.forEach((x, i) => walk(s.items, x, `${path}/${i}`));
    }
    if (typeOf(v) === "object") {
      const obj = v as Record<string, unknown>;
      for (const r of (s.required ?? []) as string[]) {
        if (!Object.hasOwn(obj, r)) errors.push(`${here}: missing ${r}`);
      }
      const props = (s.properties ?? {}) as Record<string, Schema>;
      for (const [k, x] of Object.entries(obj)) {
        const p = `${path}/${k.replaceAll("~", "~0").replaceAll("/", "~1")}`;
        if (Object.hasOwn(props, k)) walk(props[k]!, x, p);
        else if (s.additionalProperties !== undefined) walk(s.additionalProperties, x, p);
        else if (opts.strict && s.properties !== undefined) errors.push(`${p}: not in the schema`);
      }
    }
  };
  walk(schema, doc, "");
  return errors;
}

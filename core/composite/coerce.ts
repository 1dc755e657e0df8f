/**
 * Coerces rendered template values to a tool's input JSON Schema types.
 *
 * Templates produce strings (or typed values for single actions); backend tools expect the
 * types their `inputSchema` declares. Coercion is best effort: a value that cannot be
 * converted is passed through unchanged and the backend reports the mismatch.
 * @module
 */

type Schema = Record<string, unknown>;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function typesOf(schema: Schema): string[] {
  const t = schema.type;
  if (typeof t === "string") return [t];
  if (Array.isArray(t)) return t.filter((x): x is string => typeof x === "string");
  if (isObject(schema.properties)) return ["object"];
  if (isObject(schema.items)) return ["array"];
  return [];
}

/** Does `v` have JSON Schema type `type`? An unknown type name matches nothing. */
export function matchesJsonType(v: unknown, type: string): boolean {
  switch (type) {
    case "string":
      return typeof v === "string";
    case "integer":
      return typeof v === "number" && Number.isInteger(v);
    case "number":
      return typeof v === "number" && Number.isFinite(v);
    case "boolean":
      return typeof v === "boolean";
    case "object":
      return isObject(v);
    case "array":
      return Array.isArray(v);
    case "null":
      return v === null;
    default:
      return false;
  }
}

const NO = Symbol("no");

function convert(v: unknown, type: string): unknown {
  if (typeof v === "string") {
    const s = v.trim();
    switch (type) {
      case "integer":
        return /^[+-]?\d+$/.test(s) ? Number(s) : /^[+-]?\d+\.0*$/.test(s) ? Number(s) : NO;
      case "number":
        return s !== "" && Number.isFinite(Number(s)) ? Number(s) : NO;
      case "boolean":
        return /^(true|false)$/i.test(s) ? s.toLowerCase() === "true" : NO;
      case "null":
        return s === "null" || s === "" ? null : NO;
      case "object":
      case "array":
        try {
          const parsed = JSON.parse(s);
          return matchesJsonType(parsed, type) ? parsed : NO;
        } catch {
          return NO;
        }
    }
    return NO;
  }
  if (type === "string") {
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    if (v !== null && typeof v === "object") return JSON.stringify(v);
  }
  if (type === "integer" && typeof v === "number" && Number.isInteger(v)) return v;
  if (type === "number" && typeof v === "boolean") return NO;
  if (type === "boolean" && typeof v === "number" && (v === 0 || v === 1)) return v === 1;
  return NO;
}

/**
 * Returns `value` converted to the types `schema` declares, recursing into object
 * properties, `additionalProperties` and array `items`. Unconvertible values are returned as is.
 *
 * @example
 * ```ts
 * coerceToSchema({ n: "3", ok: "true" }, {
 *   type: "object",
 *   properties: { n: { type: "integer" }, ok: { type: "boolean" } },
 * }); // { n: 3, ok: true }
 * ```
 */
export function coerceToSchema(value: unknown, schema: unknown, depth = 0): unknown {
  if (!isObject(schema) || value === undefined || depth > 100) return value;
  const types = typesOf(schema);
  let v: unknown = value;
  if (types.length > 0 && !types.some((t) => matchesJsonType(v, t))) {
    for (const t of types) {
      const c = convert(v, t);
      if (c !== NO) {
        v = c;
        break;
      }
    }
  }
  if (isObject(v)) {
    const props = isObject(schema.properties) ? schema.properties : {};
    const extra = schema.additionalProperties;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const sub = Object.hasOwn(props, k) ? props[k] : isObject(extra) ? extra : undefined;
      out[k] = coerceToSchema(x, sub, depth + 1);
    }
    return out;
  }
  if (Array.isArray(v) && isObject(schema.items)) {
    return v.map((x) => coerceToSchema(x, schema.items, depth + 1));
  }
  return v;
}

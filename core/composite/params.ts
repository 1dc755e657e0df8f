/**
 * Composite-tool `parameters`: checking the JSON Schema at config time, and applying its
 * defaults and validating arguments at call time. Covers the JSON Schema keywords tool
 * authors use: type, properties, required, additionalProperties, items, enum, const,
 * minimum/maximum, minLength/maxLength, pattern, minItems/maxItems, default.
 * @module
 */

import type { Problem } from "./problems.ts";
import { matchesJsonType } from "./coerce.ts";
import { truncateText } from "../truncate.ts";

type Schema = Record<string, unknown>;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const TYPES = new Set(["string", "integer", "number", "boolean", "object", "array", "null"]);
/** A value quoted in a message: at most ~1 KB of it (`…(N bytes truncated)`). */
const show = (v: unknown) => truncateText(JSON.stringify(v) ?? String(v));

/** Checks that a `parameters` schema is a usable object schema; returns every problem. */
export function checkParameterSchema(schema: unknown, path = "parameters"): Problem[] {
  const problems: Problem[] = [];
  const walk = (s: unknown, p: string, depth: number) => {
    if (!isObject(s)) {
      problems.push({ path: p, message: `must be a JSON Schema object, got ${show(s)}` });
      return;
    }
    if (depth > 32) return;
    const types = typeof s.type === "string" ? [s.type] : Array.isArray(s.type) ? s.type : [];
    for (const t of types) {
      if (typeof t !== "string" || !TYPES.has(t)) {
        problems.push({
          path: `${p}.type`,
          message: `unknown type ${show(t)}; allowed: ${[...TYPES].join(", ")}`,
        });
      }
    }
    if (s.properties !== undefined) {
      if (!isObject(s.properties)) {
        problems.push({
          path: `${p}.properties`,
          message: `must be an object, got ${show(s.properties)}`,
        });
      } else {
        for (const [k, sub] of Object.entries(s.properties)) {
          walk(sub, `${p}.properties.${k}`, depth + 1);
        }
      }
    }
    if (s.required !== undefined) {
      if (!Array.isArray(s.required) || !s.required.every((r) => typeof r === "string")) {
        problems.push({
          path: `${p}.required`,
          message: `must be a list of property names, got ${show(s.required)}`,
        });
      } else if (isObject(s.properties)) {
        for (const r of s.required) {
          if (!Object.hasOwn(s.properties, r as string)) {
            problems.push({
              path: `${p}.required`,
              message: `names ${show(r)}, which is not in properties`,
            });
          }
        }
      }
    }
    if (s.items !== undefined) walk(s.items, `${p}.items`, depth + 1);
    if (s.default !== undefined) {
      for (const e of validateValue(s.default, s, `${p}.default`)) problems.push(e);
    }
  };
  walk(schema, path, 0);
  if (isObject(schema) && schema.type !== undefined && schema.type !== "object") {
    problems.push({ path: `${path}.type`, message: `must be "object", got ${show(schema.type)}` });
  }
  return problems;
}

/** Returns `args` with schema `default`s filled in (recursively for nested objects). */
export function applyDefaults(schema: unknown, args: unknown): unknown {
  if (!isObject(schema)) return args;
  let v = args;
  if (v === undefined && schema.default !== undefined) v = structuredClone(schema.default);
  if (
    isObject(schema.properties) && (isObject(v) || (v === undefined && schema.type === "object"))
  ) {
    const out: Record<string, unknown> = { ...(v as Record<string, unknown> ?? {}) };
    for (const [k, sub] of Object.entries(schema.properties)) {
      const filled = applyDefaults(sub, out[k]);
      if (filled !== undefined) out[k] = filled;
    }
    return out;
  }
  return v;
}

const JSON_TYPES = new Set(["string", "integer", "number", "boolean", "object", "array", "null"]);

/** Unknown type names are not checked here (the schema check reports them). */
function typeOk(v: unknown, t: string): boolean {
  return !JSON_TYPES.has(t) || matchesJsonType(v, t);
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Validates a value against a (subset of) JSON Schema; returns every problem. */
export function validateValue(v: unknown, schema: unknown, path = "params"): Problem[] {
  const out: Problem[] = [];
  const walk = (x: unknown, s: unknown, p: string, depth: number) => {
    if (!isObject(s) || depth > 64) return;
    const types = typeof s.type === "string"
      ? [s.type]
      : Array.isArray(s.type)
      ? s.type as string[]
      : [];
    if (types.length && !types.some((t) => typeOk(x, t))) {
      out.push({ path: p, message: `expected ${types.join(" or ")}, got ${show(x)}` });
      return;
    }
    if (Array.isArray(s.enum) && !s.enum.some((e) => deepEqual(e, x))) {
      out.push({ path: p, message: `must be one of ${show(s.enum)}, got ${show(x)}` });
    }
    if (s.const !== undefined && !deepEqual(s.const, x)) {
      out.push({ path: p, message: `must be ${show(s.const)}, got ${show(x)}` });
    }
    if (typeof x === "number") {
      if (typeof s.minimum === "number" && x < s.minimum) {
        out.push({ path: p, message: `must be >= ${s.minimum}, got ${x}` });
      }
      if (typeof s.maximum === "number" && x > s.maximum) {
        out.push({ path: p, message: `must be <= ${s.maximum}, got ${x}` });
      }
    }
    if (typeof x === "string") {
      if (typeof s.minLength === "number" && x.length < s.minLength) {
        out.push({
          path: p,
          message: `must have at least ${s.minLength} characters, got ${show(x)}`,
        });
      }
      if (typeof s.maxLength === "number" && x.length > s.maxLength) {
        out.push({ path: p, message: `must have at most ${s.maxLength} characters` });
      }
      if (typeof s.pattern === "string") {
        let re: RegExp | undefined;
        try {
          re = new RegExp(s.pattern, "u");
        } catch { /* an invalid pattern is not the caller's fault */ }
        if (re && !re.test(x)) {
          out.push({ path: p, message: `must match ${show(s.pattern)}, got ${show(x)}` });
        }
      }
    }
    if (Array.isArray(x)) {
      if (typeof s.minItems === "number" && x.length < s.minItems) {
        out.push({ path: p, message: `must have at least ${s.minItems} items` });
      }
      if (typeof s.maxItems === "number" && x.length > s.maxItems) {
        out.push({ path: p, message: `must have at most ${s.maxItems} items` });
      }
      x.forEach((item, i) => walk(item, s.items, `${p}[${i}]`, depth + 1));
    }
    if (isObject(x)) {
      const props = isObject(s.properties) ? s.properties : {};
      if (Array.isArray(s.required)) {
        for (const r of s.required) {
          if (typeof r === "string" && x[r] === undefined) {
            out.push({ path: `${p}.${r}`, message: "is required" });
          }
        }
      }
      for (const [k, val] of Object.entries(x)) {
        if (Object.hasOwn(props, k)) walk(val, props[k], `${p}.${k}`, depth + 1);
        else if (s.additionalProperties === false) {
          out.push({
            path: `${p}.${k}`,
            message: `is not an allowed property (allowed: ${
              Object.keys(props).join(", ") || "none"
            })`,
          });
        } else if (isObject(s.additionalProperties)) {
          walk(val, s.additionalProperties, `${p}.${k}`, depth + 1);
        }
      }
    }
  };
  walk(v, schema, path, 0);
  return out;
}

/** The tool `inputSchema` advertised for a composite tool (an empty object schema by default). */
export function inputSchemaOf(parameters: Schema | undefined): Schema & { type: "object" } {
  return { ...(parameters ?? {}), type: "object" };
}

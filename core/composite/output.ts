/**
 * The composite tool's `output`: compiled at config time into an `outputSchema`, and
 * built at the end of a run into `structuredContent`.
 *
 * Each property's `value` template is evaluated (a single action keeps its type), then
 * converted to the declared type (JSON text is decoded for objects and arrays). `default`
 * applies when the template fails, yields no value, or cannot be converted. A property
 * without a value and without a default is omitted, unless it is required (then the run fails).
 * @module
 */

import { type OutputConfig, OutputPropertySchema } from "../../crds/composite_tool.ts";
import { evaluateTemplate, type Template } from "./template.ts";
import { compileTemplateAt, joinPath, type Problem } from "./problems.ts";

export type OutputType = "string" | "integer" | "number" | "boolean" | "object" | "array";

export interface CompiledOutputProperty {
  name: string;
  type: OutputType;
  description?: string;
  value?: Template;
  properties?: CompiledOutputProperty[];
  default?: unknown;
}

export interface CompiledOutput {
  properties: CompiledOutputProperty[];
  required: string[];
}

/** A failure to build the output (required property without value, bad conversion). */
export class OutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OutputError";
  }
}

/** Compiles `output`, recording every problem; templates are parsed here. */
export function compileOutput(
  cfg: OutputConfig,
  problems: Problem[],
  onTemplate?: (t: Template, path: string) => void,
): CompiledOutput {
  const compileProps = (
    props: Record<string, unknown>,
    path: string,
    depth: number,
  ): CompiledOutputProperty[] => {
    const out: CompiledOutputProperty[] = [];
    for (const [name, raw] of Object.entries(props)) {
      const p = `${path}.${name}`;
      const parsed = OutputPropertySchema.safeParse(raw);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          problems.push({ path: joinPath([p, ...issue.path]), message: issue.message });
        }
        continue;
      }
      const def = parsed.data;
      const prop: CompiledOutputProperty = { name, type: def.type };
      if (def.description !== undefined) prop.description = def.description;
      if (def.default !== undefined) prop.default = def.default;
      if (def.value !== undefined) {
        const t = compileTemplateAt(def.value, `${p}.value`, problems);
        if (t) {
          prop.value = t;
          onTemplate?.(t, `${p}.value`);
        }
      }
      if (def.properties !== undefined) {
        if (def.type !== "object") {
          problems.push({
            path: `${p}.properties`,
            message: `only object properties can have nested properties (type is "${def.type}")`,
          });
        } else if (def.value !== undefined) {
          problems.push({ path: p, message: "set either value or properties, not both" });
        } else if (depth >= 10) {
          problems.push({ path: `${p}.properties`, message: "nesting deeper than 10 levels" });
        } else prop.properties = compileProps(def.properties, `${p}.properties`, depth + 1);
      }
      if (def.value === undefined && def.properties === undefined && def.default === undefined) {
        problems.push({
          path: p,
          message: "needs a value template, nested properties or a default",
        });
      }
      out.push(prop);
    }
    return out;
  };
  const properties = compileProps(cfg.properties, "output.properties", 0);
  const required = cfg.required ?? [];
  required.forEach((r, i) => {
    if (!Object.hasOwn(cfg.properties, r)) {
      problems.push({
        path: `output.required[${i}]`,
        message: `names "${r}", which is not an output property (have: ${
          Object.keys(cfg.properties).join(", ") || "none"
        })`,
      });
    }
  });
  return { properties, required };
}

/** The `outputSchema` advertised for the tool. */
export function outputSchemaOf(out: CompiledOutput): Record<string, unknown> & { type: "object" } {
  const propSchema = (p: CompiledOutputProperty): Record<string, unknown> => {
    const s: Record<string, unknown> = { type: p.type };
    if (p.description) s.description = p.description;
    if (p.properties) {
      s.properties = Object.fromEntries(p.properties.map((c) => [c.name, propSchema(c)]));
    }
    return s;
  };
  const schema: Record<string, unknown> & { type: "object" } = {
    type: "object",
    properties: Object.fromEntries(out.properties.map((p) => [p.name, propSchema(p)])),
  };
  if (out.required.length) schema.required = [...out.required];
  return schema;
}

const NO = Symbol("no");

function convert(v: unknown, type: OutputType): unknown {
  if (v === undefined || v === "<no value>") return NO;
  switch (type) {
    case "string":
      return typeof v === "string"
        ? v
        : v !== null && typeof v === "object"
        ? JSON.stringify(v)
        : String(v);
    case "integer": {
      const n = typeof v === "string" ? Number(v.trim()) : v;
      return typeof n === "number" && Number.isInteger(n) && (typeof v !== "string" || v.trim())
        ? n
        : NO;
    }
    case "number": {
      const n = typeof v === "string" && v.trim() ? Number(v.trim()) : v;
      return typeof n === "number" && Number.isFinite(n) ? n : NO;
    }
    case "boolean":
      if (typeof v === "boolean") return v;
      if (typeof v === "string" && /^(true|false|1|0)$/i.test(v.trim())) {
        return /^(true|1)$/i.test(v.trim());
      }
      return NO;
    case "object":
    case "array": {
      let x = v;
      if (typeof x === "string") {
        try {
          x = JSON.parse(x);
        } catch {
          return NO;
        }
      }
      const ok = type === "array"
        ? Array.isArray(x)
        : x !== null && typeof x === "object" && !Array.isArray(x);
      return ok ? x : NO;
    }
  }
}

/**
 * Builds the output object from the run's template data.
 * @throws {OutputError} naming the property when a required value is missing or unconvertible
 */
export function buildOutput(out: CompiledOutput, data: unknown): Record<string, unknown> {
  const buildProps = (props: CompiledOutputProperty[], prefix: string) => {
    const obj: Record<string, unknown> = {};
    for (const p of props) {
      const v = buildProp(p, `${prefix}${p.name}`);
      if (v !== NO) obj[p.name] = v;
    }
    return obj;
  };
  const fallback = (p: CompiledOutputProperty, path: string, why: string): unknown => {
    if (p.default === undefined) {
      throw new OutputError(`output property "${path}": ${why}`);
    }
    const d = convert(p.default, p.type);
    if (d === NO) {
      throw new OutputError(
        `output property "${path}": default ${JSON.stringify(p.default)} is not a ${p.type}`,
      );
    }
    return d;
  };
  const buildProp = (p: CompiledOutputProperty, path: string): unknown => {
    if (p.properties) return buildProps(p.properties, `${path}.`);
    if (!p.value) return p.default === undefined ? NO : fallback(p, path, "no value");
    let raw: unknown;
    try {
      raw = evaluateTemplate(p.value, data);
    } catch (e) {
      return fallback(p, path, `template failed: ${(e as Error).message}`);
    }
    if (raw === undefined || raw === "<no value>") {
      return p.default === undefined ? NO : fallback(p, path, "no value");
    }
    const v = convert(raw, p.type);
    if (v === NO) {
      const shown = typeof raw === "string"
        ? JSON.stringify(raw.slice(0, 200))
        : JSON.stringify(raw);
      return fallback(p, path, `value ${shown} is not a valid ${p.type}`);
    }
    return v;
  };
  const result = buildProps(out.properties, "");
  for (const r of out.required) {
    if (result[r] === undefined || result[r] === null) {
      throw new OutputError(`required output property "${r}" has no value`);
    }
  }
  return result;
}

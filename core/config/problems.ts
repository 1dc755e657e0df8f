/**
 * Configuration problems: every problem names the field path, the offending value and what
 * is allowed. Validation collects all of them instead of stopping at the first.
 * @module
 */
import type { z } from "zod";

export interface Problem {
  /** Dotted field path, e.g. `aggregation.conflictResolution` or `backends[1].url`. */
  path: string;
  /** What is wrong and what is allowed. */
  message: string;
  /** The offending value, when there is one. */
  value?: unknown;
}

/** Formats a path array (`["backends", 1, "url"]`) as `backends[1].url`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out || "(root)";
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

type Def = { type?: string; [k: string]: unknown };
const defOf = (s: unknown): Def | undefined => (s as { _zod?: { def?: Def } })?._zod?.def;

/** The field names of the object schema at `path` inside `schema` (wrappers unwrapped). */
export function fieldsAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const WRAPPERS = ["optional", "default", "prefault", "nullable", "readonly", "catch"];
  let def = defOf(schema);
  let i = 0;
  for (let guard = 0; def && guard < 200; guard++) {
    if (WRAPPERS.includes(def.type!)) {
      def = defOf(def.innerType);
      continue;
    }
    if (def.type === "pipe") {
      def = defOf(def.in);
      continue;
    }
    if (i === path.length) break;
    const key = path[i++]!;
    if (def.type === "object") def = defOf((def.shape as Record<PropertyKey, unknown>)[key]);
    else if (def.type === "array") def = defOf(def.element);
    else if (def.type === "record") def = defOf(def.valueType);
    else return [];
  }
  return def?.type === "object" ? Object.keys(def.shape as object) : [];
}

/** Levenshtein distance, small strings only. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        prev[j]! + 1,
        cur[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The known field a mistyped `key` most likely meant (case or up to two edits), if any. */
export function suggestField(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const same = known.find((k) => k.toLowerCase() === lower);
  if (same) return same;
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = distance(lower, k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

/**
 * Turns a zod error into problems with paths and values read from the input. With `schema`
 * (the one that produced the error), an unknown field's message names the field it most
 * likely meant.
 */
export function problemsFromZod(
  error: z.ZodError,
  input: unknown,
  prefix: PropertyKey[] = [],
  schema?: z.ZodType,
): Problem[] {
  const out: Problem[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path];
    let message: string = issue.message;
    if (issue.code === "unrecognized_keys") {
      const known = schema ? fieldsAt(schema, issue.path) : [];
      for (const key of issue.keys) {
        const hint = suggestField(key, known);
        out.push({
          path: formatPath([...path, key]),
          message: `Unknown field "${key}"${hint ? `; did you mean "${hint}"?` : ""}`,
          value: valueAt(input, [...issue.path, key]),
        });
      }
      continue;
    }
    if (issue.code === "invalid_value" && "values" in issue) {
      message = `Invalid value; allowed: ${
        (issue.values as unknown[]).map((v) => JSON.stringify(v)).join(", ")
      }`;
    }
    out.push({ path: formatPath(path), message, value: valueAt(input, issue.path) });
  }
  return out;
}

/** One line per problem: `path: message (got value)`. */
export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => {
    const got = p.value === undefined ? "" : ` (got ${JSON.stringify(p.value)})`;
    return `${p.path}: ${p.message}${got}`;
  }).join("\n");
}

/** Thrown by loaders when a configuration has problems; carries all of them. */
export class ConfigError extends Error {
  readonly problems: Problem[];
  constructor(problems: Problem[], source = "configuration") {
    super(`Invalid ${source}: ${problems.length} problem(s)\n${formatProblems(problems)}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

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

/** Turns a zod error into problems with paths and values read from the input. */
export function problemsFromZod(
  error: z.ZodError,
  input: unknown,
  prefix: PropertyKey[] = [],
): Problem[] {
  const out: Problem[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path];
    let message: string = issue.message;
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        out.push({
          path: formatPath([...path, key]),
          message: `Unknown field "${key}"`,
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

/**
 * Configuration problems: every one names a field path and the offending value.
 * @module
 */

import { parseTemplate, type Template, TemplateSyntaxError } from "./template.ts";

/** A problem found in a configuration or in call arguments. */
export interface Problem {
  /** Field path, e.g. `steps[2].arguments.title` or `params.count`. */
  path: string;
  message: string;
}

/** Formats a path from segments: `["steps", 2, "id"]` → `steps[2].id`. */
export function joinPath(segments: readonly PropertyKey[]): string {
  let out = "";
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else out += out ? `.${String(s)}` : String(s);
  }
  return out;
}

/** Parses a template, recording a syntax error as a problem at `path`. */
export function compileTemplateAt(
  text: string,
  path: string,
  problems: Problem[],
): Template | undefined {
  try {
    return parseTemplate(text);
  } catch (e) {
    if (!(e instanceof TemplateSyntaxError)) throw e;
    problems.push({
      path,
      message: `template syntax error at ${e.position.line}:${e.position.column}: ${e.detail} ` +
        `in ${JSON.stringify(text)}`,
    });
    return undefined;
  }
}

/** Renders problems one per line (`path: message`). */
export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join("\n");
}

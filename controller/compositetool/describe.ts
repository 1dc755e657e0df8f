/**
 * Turns composite-tool validation problems into the strings of
 * `VirtualMCPCompositeToolDefinition.status.validationErrors`: each names the step id (not
 * only its index), the field path and the offending value, and into a condition reason.
 * @module
 */
import { CompositeToolConditions as CT } from "../../crds/composite_tool.ts";

export interface ValidationProblem {
  path: string;
  message: string;
}

/** `steps[2].arguments.q` → `["steps", 2, "arguments", "q"]`. */
function segments(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  }
  return out;
}

function valueAt(root: unknown, path: string): unknown {
  let cur = root;
  for (const s of segments(path)) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[s];
  }
  return cur;
}

/**
 * One validation error: `spec.steps[3] (step "fetch").arguments.q: <message> (value "…")`.
 * The step id is added when the path is inside `steps[N]`; the value when it is a scalar the
 * message does not already quote.
 */
export function describeProblem(spec: unknown, p: ValidationProblem): string {
  let path = `spec.${p.path}`;
  const step = p.path.match(/^steps\[(\d+)\]/);
  if (step) {
    const id = valueAt(spec, `steps[${step[1]}].id`);
    if (typeof id === "string" && id) {
      path = `spec.steps[${step[1]}] (step "${id}")${p.path.slice(step[0].length)}`;
    }
  }
  const value = valueAt(spec, p.path);
  const scalar = typeof value === "string" || typeof value === "number" ||
    typeof value === "boolean";
  const quoted = JSON.stringify(value);
  const withValue = scalar && !p.message.includes(String(value)) && !p.message.includes(quoted)
    ? `${p.message} (value ${quoted})`
    : p.message;
  return `${path}: ${withValue}`;
}

/** The WorkflowValidated reason for a non-empty list of problems. */
export function failureReason(problems: readonly ValidationProblem[]): string {
  if (problems.some((p) => /dependency cycle/i.test(p.message))) return CT.reasons.DependencyCycle;
  if (problems.some((p) => /template/i.test(p.message))) return CT.reasons.TemplateInvalid;
  return CT.reasons.ValidationFailed;
}

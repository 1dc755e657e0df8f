/**
 * Composite tools inside a proxy config: their problems under the config's field paths
 * (`compositeTools[1].steps[2].dependsOn`), each naming the step id.
 * @module
 */
import type { Problem as CompositeProblem } from "../composite/problems.ts";
import type { ToolCatalogue } from "../composite/compile.ts";
import { validateCompositeTool } from "../composite/validate.ts";
import type { Problem } from "./problems.ts";

const STEP_PATH = /^steps\[(\d+)\]/;

/**
 * Puts a composite tool's problems under `compositeTools[index]` and names the step id
 * (`step "fetch": …`) when the path points into a step.
 *
 * @param def the `compositeTools[index]` entry as written (read for step ids)
 */
export function qualifyCompositeProblems(
  def: unknown,
  index: number,
  problems: readonly CompositeProblem[],
): Problem[] {
  const steps = (def as { steps?: unknown })?.steps;
  return problems.map((p) => {
    const m = STEP_PATH.exec(p.path);
    const step = m && Array.isArray(steps) ? steps[Number(m[1])] : undefined;
    const id = (step as { id?: unknown } | undefined)?.id;
    const named = typeof id === "string" ? `step ${JSON.stringify(id)}: ${p.message}` : p.message;
    const path = p.path === "(root)"
      ? `compositeTools[${index}]`
      : `compositeTools[${index}].${p.path}`;
    return { path, message: named };
  });
}

/**
 * Validates every `compositeTools` entry of a config (as written). Without a catalogue, tool
 * names are not checked: that needs the backends' tools (the proxy does it after discovery).
 */
export function validateCompositeTools(defs: unknown, catalogue?: ToolCatalogue): Problem[] {
  if (!Array.isArray(defs)) return [];
  return defs.flatMap((def, i) =>
    qualifyCompositeProblems(def, i, validateCompositeTool(def, catalogue))
  );
}

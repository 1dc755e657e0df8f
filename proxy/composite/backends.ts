/**
 * The backends a composite tool depends on: the backend of every tool its steps call (tool
 * steps and forEach inner steps), as resolved when the workflow was compiled against the full
 * view. Elicitation steps need no backend. The runtime leaves a composite tool out of
 * `tools/list`, and the router refuses calls to it, while one of these backends is not
 * routable (as it does for that backend's own tools).
 * @module
 */
import type { CompiledWorkflow } from "../../core/composite/mod.ts";
import { compareStrings } from "../../core/aggregation/types.ts";
import { stepTools } from "./annotations.ts";

/**
 * Names of the backends whose tools `wf`'s steps call, sorted and without duplicates (empty
 * when every step is an elicitation). Steps compiled without a catalogue name no backend.
 */
export function compositeBackends(wf: CompiledWorkflow): string[] {
  const names = new Set<string>();
  for (const tool of stepTools(wf)) {
    const backend = tool?.route?.backend;
    if (backend !== undefined) names.add(backend);
  }
  return [...names].sort(compareStrings);
}

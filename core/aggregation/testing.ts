/**
 * Small builders for aggregation tests and benchmarks.
 * @module
 */
import type { Aggregation } from "../../crds/aggregation.ts";
import type { Prompt, Tool } from "../sdk.ts";
import type { BackendCapabilities } from "./types.ts";

/** A tool with an object input schema and a description naming its backend. */
export function tool(name: string, backend = "", extra: Partial<Tool> = {}): Tool {
  const t: Tool = {
    name,
    inputSchema: { type: "object", properties: { q: { type: "string" } } },
    ...extra,
  };
  if (backend && !("description" in extra)) t.description = `${name} of ${backend}`;
  return t;
}

/** A backend offering the named tools (and optionally prompts, resources, templates). */
export function backend(
  name: string,
  tools: string[],
  more: Partial<Omit<BackendCapabilities, "backend" | "tools">> & { promptNames?: string[] } = {},
): BackendCapabilities {
  const prompts: Prompt[] = more.prompts ?? (more.promptNames ?? []).map((p) => ({ name: p }));
  return {
    backend: name,
    tools: tools.map((t) => tool(t, name)),
    resources: more.resources ?? [],
    resourceTemplates: more.resourceTemplates ?? [],
    prompts,
  };
}

/** An Aggregation with the schema defaults filled in, overridden by `partial`. */
export function aggregation(partial: Partial<Aggregation> = {}): Aggregation {
  return {
    conflictResolution: "prefix",
    conflictResolutionConfig: { prefixFormat: "{workload}_" },
    excludeAllTools: false,
    ...partial,
  };
}

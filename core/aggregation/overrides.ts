/**
 * Step 1 of the tool pipeline: overrides (name, description), keyed by the backend's original
 * tool name, applied before conflict resolution.
 * @module
 */
import type { Tool } from "../sdk.ts";
import type { AggregationSettings } from "./settings.ts";
import type { BackendCapabilities, Candidate } from "./types.ts";
import { compareStrings } from "./types.ts";

/** A backend tool with its overrides applied. */
export interface ToolCandidate extends Candidate {
  /** The backend's tool, untouched. */
  tool: Tool;
  /** Description to advertise (overridden or original). */
  description: string | undefined;
}

/**
 * Turns each backend's tools into candidates named by their override (or original) name.
 * `caps` must already be sorted by backend. A backend listing one tool name twice keeps the
 * first (warning); an override naming a tool the backend does not offer is warned about.
 */
export function toolCandidates(
  caps: readonly BackendCapabilities[],
  settings: AggregationSettings,
): { candidates: ToolCandidate[]; warnings: string[] } {
  const candidates: ToolCandidate[] = [];
  const warnings: string[] = [];
  for (const cap of caps) {
    const overrides = settings.workloads.get(cap.backend)?.overrides ?? {};
    const seen = new Set<string>();
    for (const tool of cap.tools) {
      if (seen.has(tool.name)) {
        warnings.push(`Backend "${cap.backend}" lists tool "${tool.name}" twice; kept the first`);
        continue;
      }
      seen.add(tool.name);
      const o = Object.hasOwn(overrides, tool.name) ? overrides[tool.name] : undefined;
      candidates.push({
        backend: cap.backend,
        originalName: tool.name,
        name: o?.name ?? tool.name,
        tool,
        description: o?.description ?? tool.description,
      });
    }
    for (const key of Object.keys(overrides).sort(compareStrings)) {
      if (!seen.has(key)) {
        warnings.push(
          `aggregation.tools override "${key}" matches no tool of backend "${cap.backend}"`,
        );
      }
    }
  }
  return { candidates, warnings };
}

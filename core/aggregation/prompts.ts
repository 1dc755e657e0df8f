/**
 * Prompts: named by the same conflict strategy as tools, without overrides or filters.
 * @module
 */
import type { Prompt } from "../sdk.ts";
import type { AggregationSettings } from "./settings.ts";
import { resolveManual } from "./strategy_manual.ts";
import { resolvePrefix } from "./strategy_prefix.ts";
import { resolvePriority } from "./strategy_priority.ts";
import type { BackendCapabilities, Candidate, PromptRoute, Resolution } from "./types.ts";

interface PromptCandidate extends Candidate {
  prompt: Prompt;
}

/** Advertised prompts (sorted by name) and their routes. */
export interface MergedPrompts {
  prompts: Prompt[];
  promptRoutes: Map<string, PromptRoute>;
  resolution: Resolution<Candidate>;
}

/**
 * Names prompts: `prefix` prefixes every prompt; `priority` keeps unique names bare and gives
 * a shared name to the highest-ranked listed backend (unlisted conflicts are prefixed with
 * the configured format); `manual` keeps names, and a shared name is a problem (prompts have
 * no overrides). `caps` must be sorted by backend.
 */
export function mergePrompts(
  caps: readonly BackendCapabilities[],
  settings: AggregationSettings,
): MergedPrompts {
  const candidates: PromptCandidate[] = [];
  const warnings: string[] = [];
  for (const cap of caps) {
    const seen = new Set<string>();
    for (const prompt of cap.prompts) {
      if (seen.has(prompt.name)) {
        warnings.push(
          `Backend "${cap.backend}" lists prompt "${prompt.name}" twice; kept the first`,
        );
        continue;
      }
      seen.add(prompt.name);
      candidates.push({
        backend: cap.backend,
        originalName: prompt.name,
        name: prompt.name,
        prompt,
      });
    }
  }
  const resolution = settings.strategy === "prefix"
    ? resolvePrefix(candidates, settings.prefixFormat, "Prompt")
    : settings.strategy === "priority"
    ? resolvePriority(candidates, settings.priorityOrder, settings.prefixFormat, "Prompt")
    : resolveManual(candidates, "Prompt");
  const prompts: Prompt[] = [];
  const promptRoutes = new Map<string, PromptRoute>();
  for (const [name, c] of resolution.winners) {
    prompts.push(name === c.originalName ? c.prompt : { ...c.prompt, name });
    promptRoutes.set(name, { backend: c.backend, originalName: c.originalName });
  }
  resolution.warnings.unshift(...warnings);
  return { prompts, promptRoutes, resolution };
}

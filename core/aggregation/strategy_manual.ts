/**
 * Conflict strategy `manual`: overrides must resolve every conflict; leftovers are problems.
 * @module
 */
import { backendsOf, groupByName } from "./claim.ts";
import type { Problem } from "../config/problems.ts";
import { type Candidate, quoteList, type Resolution } from "./types.ts";

/**
 * Keeps every unique (post-override) name bare. A name still shared after overrides — by two
 * backends, or by two tools of one backend that overrides renamed alike — is a problem, and
 * none of its claimants is advertised.
 * @param kind `"Tool"` (fixable with overrides) or `"Prompt"` (prompts cannot be renamed).
 */
export function resolveManual<C extends Candidate>(
  candidates: readonly C[],
  kind: "Tool" | "Prompt",
): Resolution<C> {
  const winners = new Map<string, C>();
  const dropped: Resolution<C>["dropped"] = [];
  const problems: Problem[] = [];
  const collisions: Resolution<C>["collisions"] = [];
  for (const [name, group] of groupByName(candidates)) {
    if (group.length === 1) {
      winners.set(name, group[0]!);
      continue;
    }
    for (const c of group) dropped.push({ candidate: c, name });
    collisions.push({
      kind: kind === "Tool" ? "tool" : "prompt",
      name,
      dropped: group.map((c) => ({ backend: c.backend, originalName: c.originalName })),
    });
    const backends = backendsOf(group);
    const offered = backends.length === 1
      ? `is offered by backend "${backends[0]}" more than once (original names ${
        quoteList(group.map((c) => c.originalName))
      })`
      : `is offered by backends ${quoteList(backends)}`;
    const fix = kind === "Tool"
      ? "add overrides to resolve it"
      : 'prompts cannot be renamed, so use conflictResolution "prefix" or "priority"';
    problems.push({
      path: kind === "Tool" ? "aggregation.tools" : "aggregation.conflictResolution",
      message: `${kind} name "${name}" ${offered}; ${fix}`,
      value: group.map((c) => ({ backend: c.backend, name: c.originalName })),
    });
  }
  return { winners, dropped, collisions, warnings: [], problems };
}

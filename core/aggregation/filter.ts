/**
 * Step 3 of the tool pipeline: which routed tools are advertised in `tools/list`.
 * @module
 */
import type { AggregationSettings } from "./settings.ts";
import type { Candidate } from "./types.ts";
import { compareStrings } from "./types.ts";

/**
 * True when the tool is routed but not advertised: `excludeAllTools`, the backend's
 * `excludeAll`, or a non-empty `filter` allow-list that does not contain the tool's
 * post-override, pre-prefix name. A backend without a `tools[]` entry is advertised.
 */
export function isHidden(candidate: Candidate, settings: AggregationSettings): boolean {
  if (settings.excludeAllTools) return true;
  const entry = settings.workloads.get(candidate.backend);
  if (!entry) return false;
  if (entry.excludeAll) return true;
  const filter = entry.filter;
  return filter !== undefined && filter.length > 0 && !filter.includes(candidate.name);
}

/**
 * Warnings for `filter` entries that match no post-override tool name of a backend that
 * answered — usually an original name that an override renamed.
 */
export function filterWarnings(
  candidates: readonly Candidate[],
  settings: AggregationSettings,
): string[] {
  const names = new Map<string, Map<string, string>>(); // backend → name → originalName
  for (const c of candidates) {
    let m = names.get(c.backend);
    if (!m) names.set(c.backend, m = new Map());
    m.set(c.name, c.originalName);
  }
  const out: string[] = [];
  const backends = [...settings.workloads.keys()].sort(compareStrings);
  for (const backend of backends) {
    const have = names.get(backend);
    const filter = settings.workloads.get(backend)!.filter ?? [];
    if (!have) continue;
    const originals = new Map([...have].map(([n, o]) => [o, n]));
    for (const f of filter) {
      if (have.has(f)) continue;
      const renamed = originals.get(f);
      out.push(
        renamed !== undefined
          ? `aggregation.tools filter "${f}" of backend "${backend}" names an original tool ` +
            `that an override renamed to "${renamed}"; filters match names after overrides`
          : `aggregation.tools filter "${f}" matches no tool of backend "${backend}"`,
      );
    }
  }
  return out;
}

/**
 * Conflict strategy `priority`: unique names stay bare; on a conflict the highest-ranked listed
 * backend wins.
 * @module
 */
import { backendsOf, claimNames, groupByName, type Proposal } from "./claim.ts";
import {
  applyPrefix,
  type Candidate,
  compareCandidates,
  quoteList,
  type Resolution,
} from "./types.ts";

/**
 * Resolves conflicts by `priorityOrder` (highest first):
 * - a name offered once keeps its bare name, listed backend or not;
 * - on a conflict, the candidate of the highest-ranked listed backend wins the bare name and
 *   every other claimant is dropped with a warning;
 * - if none of the conflicting backends is listed, all of them are prefixed with the
 *   CONFIGURED `prefixFormat` (upstream hardcodes `{workload}_`), with a warning;
 * - anything still colliding afterwards (a fallback name equal to a bare one, or two tools of
 *   one backend renamed alike) goes to the candidate that sorts first by backend.
 */
export function resolvePriority<C extends Candidate>(
  candidates: readonly C[],
  priorityOrder: readonly string[] | undefined,
  prefixFormat: string,
  kind: string,
): Resolution<C> {
  const rank = new Map<string, number>();
  (priorityOrder ?? []).forEach((b, i) => {
    if (!rank.has(b)) rank.set(b, i);
  });
  const proposals: Proposal<C>[] = [];
  const dropped: Resolution<C>["dropped"] = [];
  const warnings: string[] = [];
  for (const [name, group] of groupByName(candidates)) {
    if (group.length === 1) {
      proposals.push({ candidate: group[0]!, name });
      continue;
    }
    const listed = group.filter((c) => rank.has(c.backend));
    if (listed.length > 0) {
      listed.sort((a, b) => rank.get(a.backend)! - rank.get(b.backend)! || compareCandidates(a, b));
      const winner = listed[0]!;
      proposals.push({ candidate: winner, name });
      const losers = group.filter((c) => c !== winner);
      for (const c of losers) dropped.push({ candidate: c, name });
      warnings.push(
        `${kind} name "${name}" is offered by backends ${quoteList(backendsOf(group))}; ` +
          `kept backend "${winner.backend}" (priorityOrder), dropped ${
            quoteList(losers.map((c) => `${c.backend}/${c.originalName}`))
          }`,
      );
      continue;
    }
    const backends = backendsOf(group);
    if (backends.length === 1) {
      // Two tools of one backend renamed alike: claimNames keeps the first, with a warning.
      for (const c of group) proposals.push({ candidate: c, name });
      continue;
    }
    const names = group.map((c) => applyPrefix(prefixFormat, c.backend, c.name));
    group.forEach((c, i) => proposals.push({ candidate: c, name: names[i]! }));
    warnings.push(
      `${kind} name "${name}" is offered by backends ${quoteList(backends)}, none of them in ` +
        `priorityOrder; advertised with prefixFormat as ${quoteList([...new Set(names)])}`,
    );
  }
  const claimed = claimNames(proposals, kind);
  return {
    winners: claimed.winners,
    dropped: [...dropped, ...claimed.dropped],
    collisions: claimed.collisions,
    warnings: [...warnings, ...claimed.warnings],
    problems: [],
  };
}

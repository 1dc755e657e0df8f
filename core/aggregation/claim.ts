/**
 * The last step of every conflict strategy: give each advertised name to exactly one
 * candidate, deterministically.
 * @module
 */
import {
  type Candidate,
  compareCandidates,
  compareStrings,
  quoteList,
  type Resolution,
} from "./types.ts";

/** A candidate with the name a strategy proposes for it. */
export interface Proposal<C extends Candidate> {
  candidate: C;
  name: string;
}

/**
 * Gives every proposed name to the candidate that sorts first (backend, then original name);
 * the others are dropped with a warning. Never depends on input order. `winners` is filled in
 * name order.
 * @param kind `"Tool"` or `"Prompt"`, used in warnings.
 */
export function claimNames<C extends Candidate>(
  proposals: readonly Proposal<C>[],
  kind: string,
): Resolution<C> {
  // Most names are unique: store a lone proposal directly, an array only on a collision.
  const byName = new Map<string, Proposal<C> | Proposal<C>[]>();
  for (const p of proposals) {
    const have = byName.get(p.name);
    if (have === undefined) byName.set(p.name, p);
    else if (Array.isArray(have)) have.push(p);
    else byName.set(p.name, [have, p]);
  }
  const winners = new Map<string, C>();
  const dropped: Resolution<C>["dropped"] = [];
  const collisions: Resolution<C>["collisions"] = [];
  const warnings: string[] = [];
  // Default sort compares UTF-16 code units, the same order as compareStrings, but faster.
  for (const name of [...byName.keys()].sort()) {
    const entry = byName.get(name)!;
    if (!Array.isArray(entry)) {
      winners.set(name, entry.candidate);
      continue;
    }
    const list = entry.sort((a, b) => compareCandidates(a.candidate, b.candidate));
    const [first, ...rest] = list;
    winners.set(name, first!.candidate);
    for (const r of rest) dropped.push(r);
    collisions.push({
      kind: kind === "Prompt" ? "prompt" : "tool",
      name,
      kept: { backend: first!.candidate.backend, originalName: first!.candidate.originalName },
      dropped: rest.map((r) => ({
        backend: r.candidate.backend,
        originalName: r.candidate.originalName,
      })),
    });
    warnings.push(
      `${kind} name "${name}" is still claimed by ${
        quoteList(list.map((p) => `${p.candidate.backend}/${p.candidate.originalName}`))
      }; kept "${first!.candidate.backend}/${first!.candidate.originalName}" ` +
        `(first by backend name), dropped the others`,
    );
  }
  return { winners, dropped, collisions, warnings, problems: [] };
}

/** Groups candidates by their (post-override) name; groups come out sorted by name. */
export function groupByName<C extends Candidate>(candidates: readonly C[]): [string, C[]][] {
  const groups = new Map<string, C[]>();
  for (const c of candidates) {
    const g = groups.get(c.name);
    if (g) g.push(c);
    else groups.set(c.name, [c]);
  }
  const out: [string, C[]][] = [];
  for (const name of [...groups.keys()].sort()) {
    const g = groups.get(name)!;
    if (g.length > 1) g.sort(compareCandidates);
    out.push([name, g]);
  }
  return out;
}

/** Sorted distinct backend names of a group. */
export function backendsOf(group: readonly Candidate[]): string[] {
  return [...new Set(group.map((c) => c.backend))].sort(compareStrings);
}

/**
 * Conflict strategy `prefix`: every name gets `prefixFormat` in front, conflict or not.
 * @module
 */
import { claimNames } from "./claim.ts";
import { applyPrefix, type Candidate, type Resolution } from "./types.ts";

/**
 * Prefixes every candidate's (post-override) name with `prefixFormat` (`{workload}` replaced
 * by the backend name). A collision that survives prefixing (e.g. backend `a` tool `b_c` and
 * backend `a_b` tool `c` under `{workload}_`) is resolved deterministically: the candidate
 * whose backend sorts first keeps the name, the others are dropped with a warning.
 */
export function resolvePrefix<C extends Candidate>(
  candidates: readonly C[],
  prefixFormat: string,
  kind: string,
): Resolution<C> {
  const prefixes = new Map<string, string>();
  const proposals = candidates.map((c) => {
    let prefix = prefixes.get(c.backend);
    if (prefix === undefined) {
      prefixes.set(c.backend, prefix = applyPrefix(prefixFormat, c.backend, ""));
    }
    return { candidate: c, name: prefix + c.name };
  });
  return claimNames(proposals, kind);
}

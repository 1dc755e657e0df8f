/**
 * Cross-field rules of `rateLimiting` (crds/rate_limit.ts): per-user buckets need
 * authenticated callers (ToolHive's rule: `perUser` requires OIDC incoming auth).
 * @module
 */
import type { RateLimiting } from "../../crds/rate_limit.ts";
import type { Problem } from "./problems.ts";

/** Problems of `rateLimiting` that depend on `incomingAuth`. */
export function rateLimitProblems(
  rateLimiting: RateLimiting | undefined,
  incomingAuthType: string | undefined,
): Problem[] {
  if (!rateLimiting) return [];
  const type = incomingAuthType ?? "anonymous";
  if (type !== "anonymous") return [];
  const message =
    `Needs authenticated callers, but incomingAuth.type is "${type}" (every caller would share one bucket); allowed with incomingAuth.type oidc or kubernetes, or use global`;
  const out: Problem[] = [];
  if (rateLimiting.perUser) out.push({ path: "rateLimiting.perUser", message });
  (rateLimiting.tools ?? []).forEach((t, i) => {
    if (t.perUser) out.push({ path: `rateLimiting.tools[${i}].perUser`, message });
  });
  return out;
}

/**
 * Which outgoing-auth strategy applies to a backend: one pure rule shared by the proxy
 * (auth wiring, health, status) and anything else that needs to know.
 * @module
 */
import type { BackendAuthStrategy as BackendAuthStrategyConfig } from "../../crds/auth.ts";
import type { BackendConfig, VmcpConfig } from "../../crds/vmcp_config.ts";

const UNAUTHENTICATED = { type: "unauthenticated" } as const;

/**
 * The strategy for `backend` under `config.outgoingAuth` (ToolHive's source rules). An
 * explicit `backends[name]` entry wins in every mode; without one:
 * - `discovered` (default) and `mixed`: the backend's own `auth`, else `default`;
 * - `inline`: `default` (the backend's own `auth` is ignored).
 * An entry of type `discovered` stands for the backend's own `auth` (skipped when it has
 * none). Nothing chosen means `unauthenticated`.
 */
export function resolveStrategy(backend: BackendConfig, config: VmcpConfig): unknown {
  const out = config.outgoingAuth;
  const discovered = backend.auth;
  const pick = (s: BackendAuthStrategyConfig | undefined) =>
    s?.type === "discovered" ? discovered : s;
  const explicit = pick(out?.backends?.[backend.name]);
  const fallback = pick(out?.default);
  const source = out?.source ?? "discovered";
  const chosen = source === "inline" ? explicit ?? fallback : explicit ?? discovered ?? fallback;
  return chosen ?? UNAUTHENTICATED;
}

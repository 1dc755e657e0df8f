/**
 * Connects proxy/auth to the data plane: the incoming authenticator becomes the `/mcp`
 * `authenticate` hook and the protected-resource metadata; each backend's outgoing strategy
 * (resolved from `outgoingAuth` and the backend's discovered `auth`) becomes the `headersFor`
 * of its connections. A strategy that cannot be built never lets the backend be reached
 * without credentials: its connections fail with the reason.
 * @module
 */
import type { BackendConfig, VmcpConfig } from "../crds/vmcp_config.ts";
import type { Identity } from "../core/auth/identity.ts";
import type { Logger } from "../core/log.ts";
import { createIncomingAuth, type IncomingAuthenticator } from "./auth/incoming.ts";
import { createOutgoingAuth } from "./auth/outgoing.ts";
import type { HeadersFor } from "./backends/backend.ts";
import { describeError } from "./backends/errors.ts";

/** The strategy for `backend` under `config.outgoingAuth` (ToolHive's source rules). */
export function resolveStrategy(backend: BackendConfig, config: VmcpConfig): unknown {
  const out = config.outgoingAuth;
  const explicit = out?.backends?.[backend.name];
  const discovered = backend.auth;
  const source = out?.source ?? "discovered";
  let chosen = source === "inline"
    ? explicit ?? out?.default
    : source === "mixed"
    ? explicit ?? discovered ?? out?.default
    : discovered ?? out?.default;
  if (chosen?.type === "discovered") chosen = discovered ?? out?.default;
  return chosen ?? { type: "unauthenticated" };
}

/** `outgoingAuthFor` for `startProxy`: undefined for unauthenticated backends. */
export function outgoingAuthFor(log: Logger) {
  return (backend: BackendConfig, config: VmcpConfig): HeadersFor | undefined => {
    const strategy = resolveStrategy(backend, config);
    if ((strategy as { type?: string }).type === "unauthenticated") return undefined;
    try {
      const auth = createOutgoingAuth(strategy, { backendName: backend.name, logger: log });
      return (identity: Identity | undefined, signal?: AbortSignal) =>
        identity ? auth.headersFor(identity, signal) : auth.probeHeaders(signal);
    } catch (err) {
      const reason = describeError(err);
      log.error("backend outgoing auth cannot be built; the backend stays unavailable", {
        backend: backend.name,
        error: reason,
      });
      return () => Promise.reject(new Error(`outgoing auth: ${reason}`));
    }
  };
}

/** The incoming authenticator of `config` (throws a TypeError naming the field when unusable). */
export function incomingAuth(config: VmcpConfig, log: Logger): IncomingAuthenticator {
  return createIncomingAuth(config.incomingAuth, {
    logger: log,
    ...(config.server?.publicUrl ? { resourceUrl: config.server.publicUrl } : {}),
  });
}

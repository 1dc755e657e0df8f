/**
 * Connects proxy/auth to the data plane: the incoming authenticator becomes the `/mcp`
 * `authenticate` hook and the protected-resource metadata; each backend's outgoing strategy
 * (resolved from `outgoingAuth` and the backend's discovered `auth`) becomes the `headersFor`
 * of its connections, sharing one token cache built from `tokenCache` (memory or Redis).
 *
 * A strategy that cannot be built (invalid, unresolved reference, missing environment
 * variable, unusable token cache) never lets the backend be reached without credentials:
 * every connection attempt fails with the reason before any request is sent, so the backend
 * stays out of the aggregated view and `/status` shows the reason.
 * @module
 */
import type { BackendConfig, VmcpConfig } from "../crds/vmcp_config.ts";
import type { Identity } from "../core/auth/identity.ts";
import type { TokenCache } from "../core/auth/token_cache.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/log.ts";
import {
  createIncomingAuth,
  type IncomingAuthDeps,
  type IncomingAuthenticator,
} from "./auth/incoming.ts";
import { OutgoingAuthConfigError } from "./auth/errors.ts";
import { createOutgoingAuth } from "./auth/outgoing.ts";
import type { FetchFn } from "./auth/http.ts";
import { buildTokenCache, type BuiltTokenCache } from "./auth/token_cache_config.ts";
import type { HeadersFor } from "./backends/backend.ts";
import type { StartOptions } from "./serve.ts";

import { resolveStrategy } from "../core/auth/resolve_strategy.ts";

export { resolveStrategy };

export interface OutgoingWiringDeps {
  /** Reads `*Env` values. @default Deno.env.get */
  env?: (name: string) => string | undefined;
  /** Token endpoint fetch. @default fetch */
  fetch?: FetchFn;
  clock?: Clock;
  /** Use this cache instead of building one from `config.tokenCache` (tests, embedding). */
  tokenCache?: TokenCache;
}

/** `outgoingAuthFor` for `startProxy`, plus `close()` for the shared token cache. */
export interface OutgoingAuthFor {
  (backend: BackendConfig, config: VmcpConfig): HeadersFor | undefined;
  /** Closes the shared token cache (Redis connection). */
  close(): Promise<void>;
}

function unresolvedReference(strategy: unknown, backend: string): string | undefined {
  const s = strategy as { type?: string; externalAuthConfigRef?: { name?: string } };
  if (s.type !== "externalAuthConfigRef" && s.type !== "external_auth_config_ref") return undefined;
  return `backend "${backend}": externalAuthConfigRef "${
    s.externalAuthConfigRef?.name ?? ""
  }" was not resolved into an inline strategy (the controller renders it; a standalone config must inline it)`;
}

/**
 * Builds `outgoingAuthFor(backend, config)`: undefined for unauthenticated backends, else the
 * backend's `headersFor`. The token cache is built from the first config's `tokenCache`
 * (changing it needs a restart).
 */
export function outgoingAuthFor(log: Logger, deps: OutgoingWiringDeps = {}): OutgoingAuthFor {
  let built: BuiltTokenCache | Error | undefined;
  let cacheConfig = "";

  function tokenCache(config: VmcpConfig): BuiltTokenCache | Error {
    const wanted = JSON.stringify(config.tokenCache ?? null);
    if (built === undefined) {
      cacheConfig = wanted;
      try {
        built = buildTokenCache(config.tokenCache, {
          ...(deps.env ? { env: deps.env } : {}),
          ...(deps.clock ? { clock: deps.clock } : {}),
          logger: log,
        });
        log.info("token cache ready", { provider: built.provider });
      } catch (err) {
        built = err instanceof Error ? err : new Error(String(err));
      }
    } else if (wanted !== cacheConfig) {
      cacheConfig = wanted;
      log.warn("tokenCache changed; the proxy keeps the cache it started with until restarted");
    }
    return built;
  }

  const wire = (backend: BackendConfig, config: VmcpConfig): HeadersFor | undefined => {
    const strategy = resolveStrategy(backend, config);
    const type = (strategy as { type?: string }).type;
    if (type === "unauthenticated") return undefined;
    try {
      const unresolved = unresolvedReference(strategy, backend.name);
      if (unresolved) throw new TypeError(unresolved);
      let cache = deps.tokenCache;
      let ttlOffsetMs: number | undefined;
      if (!cache && (type === "tokenExchange" || type === "token_exchange")) {
        const c = tokenCache(config);
        if (c instanceof Error) throw new TypeError(`token cache: ${c.message}`);
        cache = c.cache;
        ttlOffsetMs = c.ttlOffsetMs;
      }
      const auth = createOutgoingAuth(strategy, {
        backendName: backend.name,
        logger: log,
        ...(cache ? { cache } : {}),
        ...(ttlOffsetMs !== undefined ? { ttlOffsetMs } : {}),
        ...(deps.env ? { env: deps.env } : {}),
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
        ...(deps.clock ? { clock: deps.clock } : {}),
      });
      log.debug("backend outgoing auth", { backend: backend.name, strategy: auth.type });
      return (identity: Identity | undefined, signal?: AbortSignal) =>
        identity ? auth.headersFor(identity, signal) : auth.probeHeaders(signal);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      log.error("backend outgoing auth cannot be built; the backend is excluded", {
        backend: backend.name,
        error: reason,
      });
      const failure = new OutgoingAuthConfigError(`outgoing auth cannot be built: ${reason}`);
      return () => Promise.reject(failure);
    }
  };
  return Object.assign(wire, {
    close: async () => {
      if (built && !(built instanceof Error)) await built.close();
    },
  });
}

/** The incoming authenticator of `config` (throws a TypeError naming the field when unusable). */
export function incomingAuth(
  config: VmcpConfig,
  log: Logger,
  deps: Omit<IncomingAuthDeps, "logger"> = {},
): IncomingAuthenticator {
  return createIncomingAuth(config.incomingAuth, {
    ...(config.server?.publicUrl ? { resourceUrl: config.server.publicUrl } : {}),
    ...deps,
    logger: log,
  });
}

export interface ProxyAuthDeps extends OutgoingWiringDeps {
  /** Incoming-auth dependencies (TokenReview target, verifier clock, …). */
  incoming?: Omit<IncomingAuthDeps, "logger">;
}

/** Incoming and outgoing auth of one proxy, ready to spread into `startProxy` options. */
export interface ProxyAuth {
  readonly incoming: IncomingAuthenticator;
  readonly outgoingAuthFor: OutgoingAuthFor;
  /** `authenticate`, `protectedResource` and `outgoingAuthFor` for `startProxy`. */
  readonly startOptions: Required<
    Pick<StartOptions, "authenticate" | "protectedResource" | "outgoingAuthFor">
  >;
  /** Releases HTTP clients and the token cache. Call after the proxy stopped. */
  close(): Promise<void>;
}

/**
 * Builds the proxy's auth from `config`. Throws a `TypeError` naming the field when incoming
 * auth cannot work (the proxy must not start); outgoing problems only exclude backends.
 */
export function createProxyAuth(
  config: VmcpConfig,
  log: Logger,
  deps: ProxyAuthDeps = {},
): ProxyAuth {
  const incoming = incomingAuth(config, log, {
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(deps.clock ? { clock: deps.clock } : {}),
    ...deps.incoming,
  });
  const outgoing = outgoingAuthFor(log, deps);
  return {
    incoming,
    outgoingAuthFor: outgoing,
    startOptions: {
      authenticate: (req) => incoming.authenticate(req),
      protectedResource: (req) => incoming.metadataResponse(req),
      outgoingAuthFor: outgoing,
    },
    close: async () => {
      incoming.close();
      await outgoing.close();
    },
  };
}

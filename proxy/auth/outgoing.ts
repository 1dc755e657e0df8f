/**
 * Outgoing (vmcp → backend) credentials per backend strategy.
 *
 * The caller's own token is never forwarded: `tokenExchange` sends it only to the token
 * endpoint and gives the backend the exchanged token.
 * @module
 */

import { type Clock, systemClock } from "../../core/clock.ts";
import { type Identity, isAnonymous } from "../../core/auth/identity.ts";
import {
  type BackendAuthStrategy,
  type BackendAuthStrategyType,
  normalizeSubjectTokenType,
  parseBackendAuthStrategy,
  type TokenExchangeStrategy,
} from "../../core/auth/strategies.ts";
import {
  createMemoryTokenCache,
  type TokenCache,
  tokenCacheKey,
} from "../../core/auth/token_cache.ts";
import { type Logger, silentLogger } from "../../core/log.ts";
import { OutgoingAuthError } from "./errors.ts";
import type { FetchFn } from "./http.ts";
import {
  clientCredentials,
  exchangeToken,
  type ObtainedToken,
  type TokenEndpointClient,
} from "./token_exchange.ts";

export interface OutgoingAuthDeps {
  /** The backend's name: part of every cache key and of error messages. */
  backendName: string;
  /** Shared token cache. @default a private memory cache of 1000 entries */
  cache?: TokenCache;
  fetch?: FetchFn;
  clock?: Clock;
  logger?: Logger;
  /** Reads `*Env` values. @default Deno.env.get */
  env?: (name: string) => string | undefined;
  /**
   * A token is reused until `expires_in - ttlOffset` (the offset is capped at half the
   * lifetime, so short-lived tokens are still reused). @default 60000
   */
  ttlOffsetMs?: number;
  /** How long to reuse a token whose response had no `expires_in`. @default 60000 */
  defaultTtlMs?: number;
  /** Token endpoint timeout. @default 10000 */
  timeoutMs?: number;
}

export interface OutgoingAuth {
  readonly type: BackendAuthStrategyType;
  /**
   * Headers to add to a request made for `identity`. Rejects with an `OutgoingAuthError`
   * (no token or secret in its message) when credentials cannot be obtained.
   */
  headersFor(identity: Identity, signal?: AbortSignal): Promise<Record<string, string>>;
  /**
   * Headers for a health probe, which carries no user identity: `tokenExchange` uses a
   * client-credentials grant when a client secret exists, otherwise no credentials.
   */
  probeHeaders(signal?: AbortSignal): Promise<Record<string, string>>;
}

function readEnv(deps: OutgoingAuthDeps, field: string, name: string, backend: string): string {
  const get = deps.env ?? ((n: string) => Deno.env.get(n));
  const value = get(name);
  if (value === undefined || value === "") {
    throw new OutgoingAuthError(
      `backend "${backend}": ${field} names environment variable ${name}, which is not set`,
    );
  }
  return value;
}

/**
 * Builds the outgoing auth of one backend. Throws an `OutgoingAuthError` or `TypeError`
 * when the strategy cannot be built (the backend must then be excluded, never routed
 * without its credentials).
 */
export function createOutgoingAuth(
  strategyInput: BackendAuthStrategy | unknown,
  deps: OutgoingAuthDeps,
): OutgoingAuth {
  const backend = deps.backendName;
  const strategy = parseBackendAuthStrategy(strategyInput, `backends.${backend}.auth`);
  switch (strategy.type) {
    case "unauthenticated": {
      const none = () => Promise.resolve({});
      return { type: "unauthenticated", headersFor: none, probeHeaders: none };
    }
    case "headerInjection": {
      const h = strategy.headerInjection;
      const value = h.valueEnv !== undefined
        ? readEnv(deps, "headerInjection.valueEnv", h.valueEnv, backend)
        : h.value!;
      if (/[\r\n\0]/.test(value)) {
        throw new OutgoingAuthError(
          `backend "${backend}": the headerInjection value contains CR, LF or NUL`,
        );
      }
      const headers = () => Promise.resolve({ [h.headerName]: value });
      return { type: "headerInjection", headersFor: headers, probeHeaders: headers };
    }
    case "tokenExchange":
      return tokenExchangeAuth(strategy, deps);
  }
}

function tokenExchangeAuth(strategy: TokenExchangeStrategy, deps: OutgoingAuthDeps): OutgoingAuth {
  const backend = deps.backendName;
  const t = strategy.tokenExchange;
  const client: TokenEndpointClient = {
    tokenUrl: t.tokenUrl,
    clientId: t.clientId,
    clientSecret: t.clientSecretEnv !== undefined
      ? readEnv(deps, "tokenExchange.clientSecretEnv", t.clientSecretEnv, backend)
      : t.clientSecret,
  };
  const subjectTokenType = normalizeSubjectTokenType(t.subjectTokenType);
  const audience = t.audience ?? "";
  const headerName = t.externalTokenHeaderName ?? "Authorization";
  const cache = deps.cache ?? createMemoryTokenCache({ maxEntries: 1000, clock: deps.clock });
  const clock = deps.clock ?? systemClock;
  const logger = (deps.logger ?? silentLogger).with({ backend });
  const ttlOffsetMs = deps.ttlOffsetMs ?? 60_000;
  const defaultTtlMs = deps.defaultTtlMs ?? 60_000;
  const inflight = new Map<string, Promise<string>>();
  const opts = () => ({ fetch: deps.fetch, timeoutMs: deps.timeoutMs });
  // Cache keys hash the subject token (async WebCrypto, ~30 µs): remember the last keys so a
  // session's repeated calls pay a Map lookup instead.
  const keys = new Map<string, string>();
  async function keyOf(subjectToken: string): Promise<string> {
    let key = keys.get(subjectToken);
    if (key === undefined) {
      key = await tokenCacheKey(backend, audience, subjectToken);
      keys.set(subjectToken, key);
      if (keys.size > 1000) keys.delete(keys.keys().next().value as string);
    }
    return key;
  }

  function ttlOf(token: ObtainedToken): number {
    if (token.expiresIn === undefined) return defaultTtlMs;
    const lifetime = token.expiresIn * 1000;
    return lifetime - Math.min(ttlOffsetMs, lifetime / 2);
  }

  /**
   * Cached value, else one shared fetch per key: concurrent callers wait for it, and one
   * caller giving up (its signal aborts) does not fail the others.
   */
  async function cached(
    key: string,
    obtain: () => Promise<ObtainedToken>,
    signal?: AbortSignal,
  ): Promise<Record<string, string>> {
    let value = await cache.get(key);
    if (value === undefined) {
      let p = inflight.get(key);
      if (!p) {
        p = (async () => {
          const started = clock.now();
          const token = await obtain();
          const v = `${token.tokenType} ${token.accessToken}`;
          await cache.set(key, v, ttlOf(token) - (clock.now() - started));
          return v;
        })().finally(() => inflight.delete(key));
        inflight.set(key, p);
      }
      value = await untilAborted(p, signal);
    }
    return { [headerName]: value };
  }

  return {
    type: "tokenExchange",
    async headersFor(identity, signal) {
      const subjectToken = identity.token;
      if (isAnonymous(identity) || !subjectToken) {
        throw new OutgoingAuthError(
          `backend "${backend}" uses tokenExchange, which needs an authenticated caller`,
        );
      }
      const key = await keyOf(subjectToken);
      return cached(key, () => {
        logger.debug("exchanging token", { subject: identity.subject, audience });
        return exchangeToken(client, {
          subjectToken,
          subjectTokenType,
          audience: t.audience,
          scopes: t.scopes,
        }, opts());
      }, signal);
    },
    probeHeaders(signal) {
      if (!client.clientId || !client.clientSecret) return Promise.resolve({});
      const key = `${backend}\u0000${audience}\u0000client_credentials`;
      return cached(
        key,
        () => clientCredentials(client, { audience: t.audience, scopes: t.scopes }, opts()),
        signal,
      );
    },
  };
}

/** Resolves like `p`, or rejects with the signal's reason as soon as it aborts. */
function untilAborted<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

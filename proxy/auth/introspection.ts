/**
 * RFC 7662 token introspection for opaque (non-JWT) bearer tokens: the token is posted to the
 * identity provider's introspection endpoint with vmcp's client credentials (HTTP Basic,
 * RFC 6749 §2.3.1); `active: false` rejects it. Answers are cached briefly (never past the
 * token's `exp`), in a bounded LRU, so a client's session does not cost one round-trip per
 * request.
 * @module
 */

import { type Clock, systemClock } from "../../core/clock.ts";
import type { Identity } from "../../core/auth/identity.ts";
import { type Logger, silentLogger } from "../../core/log.ts";
import { AuthError } from "./errors.ts";
import { describeFetchError, type FetchFn, fetchText } from "./http.ts";
import type { TokenVerifier } from "./oidc.ts";

export interface IntrospectionVerifierOptions {
  /** The RFC 7662 endpoint (`inline.introspectionUrl`). */
  url: string;
  /** vmcp's client id at the identity provider. */
  clientId: string;
  /** vmcp's client secret (from `clientSecretEnv`; never logged). */
  clientSecret: string;
  /** Identity issuer when the answer carries no `iss` (the configured OIDC issuer). */
  issuer: string;
  /** Accepted `aud` values; checked only when the answer carries `aud`. */
  audience?: string | string[] | undefined;
  /** Tolerance for `exp` and `nbf`. @default 30 */
  clockSkewSeconds?: number;
  /** How long an answer is reused (never past `exp`). 0 disables. @default 60 */
  cacheSeconds?: number;
  /** How long an `active: false` answer is reused. @default 10 */
  negativeCacheSeconds?: number;
  /** Most cached answers (least recently used go first). @default 10000 */
  cacheMaxEntries?: number;
  /** @default 5000 */
  timeoutMs?: number;
  fetch?: FetchFn;
  clock?: Clock;
  logger?: Logger;
}

interface Cached {
  /** The identity, or the rejection to repeat. */
  result: Identity | AuthError;
  until: number;
}

/** RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding. */
function basicAuth(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
  const bytes = new TextEncoder().encode(`${enc(id)}:${enc(secret)}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/** True when `token` has the shape of a JWS compact serialisation with a JSON header. */
export function looksLikeJwt(token: string): boolean {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts[0]) return false;
  try {
    const header = JSON.parse(atob(parts[0].replace(/-/g, "+").replace(/_/g, "/")));
    return typeof header === "object" && header !== null && typeof header.alg === "string";
  } catch {
    return false;
  }
}

/** Creates a verifier that asks `options.url` about every (uncached) token. */
export function createIntrospectionVerifier(options: IntrospectionVerifierOptions): TokenVerifier {
  if (!URL.canParse(options.url)) {
    throw new TypeError(
      `Invalid incomingAuth.oidcConfig.inline.introspectionUrl "${options.url}": expected an absolute URL`,
    );
  }
  if (!options.clientId || !options.clientSecret) {
    throw new TypeError(
      "Invalid incomingAuth.oidcConfig.inline: introspectionUrl needs clientId and a client secret (clientSecretRef in a cluster, clientSecretEnv standalone)",
    );
  }
  const audiences = options.audience === undefined
    ? []
    : Array.isArray(options.audience)
    ? options.audience
    : [options.audience];
  const skewMs = (options.clockSkewSeconds ?? 30) * 1000;
  const cacheMs = (options.cacheSeconds ?? 60) * 1000;
  const negativeMs = Math.min((options.negativeCacheSeconds ?? 10) * 1000, cacheMs);
  const cacheMax = options.cacheMaxEntries ?? 10_000;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const fetchFn = options.fetch ?? fetch;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const authorization = basicAuth(options.clientId, options.clientSecret);
  const cache = new Map<string, Cached>();
  const inflight = new Map<string, Promise<Identity>>();

  function remember(token: string, result: Identity | AuthError, until: number): void {
    if (until <= clock.now()) return;
    cache.delete(token);
    cache.set(token, { result, until });
    while (cache.size > cacheMax) cache.delete(cache.keys().next().value as string);
  }

  function cached(token: string): Cached | undefined {
    const hit = cache.get(token);
    if (!hit) return undefined;
    cache.delete(token);
    if (hit.until <= clock.now()) return undefined;
    cache.set(token, hit);
    return hit;
  }

  async function ask(token: string): Promise<Record<string, unknown>> {
    let res;
    try {
      res = await fetchText(fetchFn, options.url, {
        method: "POST",
        headers: {
          authorization,
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
        },
        body: new URLSearchParams({ token, token_type_hint: "access_token" }).toString(),
        // Client credentials never follow a redirect.
        redirect: "manual",
      }, timeoutMs);
    } catch (err) {
      throw new AuthError(
        "unavailable",
        `token introspection at ${options.url} failed: ${describeFetchError(err)}`,
      );
    }
    if (res.status !== 200) {
      throw new AuthError(
        "unavailable",
        `token introspection at ${options.url} answered HTTP ${res.status}${
          res.status === 401 || res.status === 403 ? " (check clientId and the client secret)" : ""
        }`,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(res.body);
    } catch {
      throw new AuthError(
        "unavailable",
        `token introspection at ${options.url} did not return JSON`,
      );
    }
    if (
      !body || typeof body !== "object" ||
      typeof (body as { active?: unknown }).active !== "boolean"
    ) {
      throw new AuthError(
        "unavailable",
        `token introspection at ${options.url} returned no boolean "active"`,
      );
    }
    return body as Record<string, unknown>;
  }

  /** The identity of an active answer, or the reason it is refused. */
  function judge(token: string, claims: Record<string, unknown>): Identity | AuthError {
    if (claims.active !== true) return new AuthError("invalid_token", "token is not active");
    const now = clock.now();
    const exp = typeof claims.exp === "number" ? claims.exp * 1000 : undefined;
    if (exp !== undefined && exp + skewMs <= now) {
      return new AuthError("invalid_token", "token expired");
    }
    if (typeof claims.nbf === "number" && claims.nbf * 1000 - skewMs > now) {
      return new AuthError("invalid_token", "token is not yet valid");
    }
    if (claims.aud !== undefined && audiences.length) {
      const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (!aud.some((a) => audiences.includes(a as string))) {
        return new AuthError("invalid_token", "token audience is not accepted");
      }
    }
    const subject = [claims.sub, claims.username, claims.client_id].find((v) =>
      typeof v === "string" && v !== ""
    ) as string | undefined;
    if (!subject) {
      return new AuthError("invalid_token", "introspected token names no subject (sub)");
    }
    const issuer = typeof claims.iss === "string" && claims.iss ? claims.iss : options.issuer;
    return { issuer, subject, claims, token, ...(exp !== undefined ? { expiresAt: exp } : {}) };
  }

  async function introspect(token: string): Promise<Identity> {
    const claims = await ask(token);
    const result = judge(token, claims);
    const now = clock.now();
    if (result instanceof AuthError) {
      if (claims.active !== true) remember(token, result, now + negativeMs);
      throw result;
    }
    remember(token, result, Math.min(now + cacheMs, result.expiresAt ?? Infinity));
    return result;
  }

  return {
    async verify(token) {
      if (!token) throw new AuthError("missing_token", "no bearer token");
      const hit = cached(token);
      if (hit) {
        if (hit.result instanceof AuthError) throw hit.result;
        return { ...hit.result };
      }
      // Concurrent requests with the same new token share one round-trip.
      let pending = inflight.get(token);
      if (!pending) {
        pending = introspect(token).finally(() => inflight.delete(token));
        inflight.set(token, pending);
      }
      try {
        return { ...(await pending) };
      } catch (err) {
        if (err instanceof AuthError && err.code === "unavailable") {
          logger.warn("token introspection failed", { error: err.message });
        }
        throw err;
      }
    },
  };
}

/**
 * Routes JWTs to `jwt` (signature against the JWKS) and every other token to
 * `introspection`.
 */
export function createOpaqueAwareVerifier(
  jwt: TokenVerifier,
  introspection: TokenVerifier,
): TokenVerifier {
  return {
    verify: (token, signal) =>
      looksLikeJwt(token) ? jwt.verify(token, signal) : introspection.verify(token, signal),
  };
}

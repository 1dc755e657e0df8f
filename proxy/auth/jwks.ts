/**
 * A JWKS cache for one issuer: discovers `jwks_uri`, caches the key set, refreshes it when a
 * token names an unknown key — at most once per `minRefreshIntervalMs`, so a flood of
 * tokens with made-up `kid`s cannot turn into a flood of requests to the issuer.
 * @module
 */

import {
  createLocalJWKSet,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
} from "jose";
import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import { AuthError } from "./errors.ts";
import { describeFetchError, type FetchFn, fetchText } from "./http.ts";

export interface JwksCacheOptions {
  issuer: string;
  /** Skip discovery and use this JWKS URL. */
  jwksUrl?: string;
  fetch: FetchFn;
  clock: Clock;
  logger: Logger;
  /** Least time between two fetches of the issuer (discovery or JWKS). @default 30000 */
  minRefreshIntervalMs?: number;
  /** A key set older than this is refetched on the next verification. @default 600000 */
  maxAgeMs?: number;
  /** @default 5000 */
  timeoutMs?: number;
}

type KeyResolver = ReturnType<typeof createLocalJWKSet>;
type ResolvedKey = Awaited<ReturnType<KeyResolver>>;

export interface JwksCache {
  /** The key resolver `jwtVerify` calls. */
  getKey(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<ResolvedKey>;
  /** How many times discovery + JWKS were fetched (successfully or not). */
  readonly fetches: number;
  /** Bumped whenever a new key set is loaded (verified-token caches key on it). */
  readonly generation: number;
}

export function createJwksCache(options: JwksCacheOptions): JwksCache {
  const minInterval = options.minRefreshIntervalMs ?? 30_000;
  const maxAge = options.maxAgeMs ?? 600_000;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const { clock, logger } = options;
  const issuer = options.issuer.replace(/\/+$/, "");
  let jwksUrl = options.jwksUrl;
  let resolver: KeyResolver | undefined;
  let fetchedAt = -Infinity;
  let lastAttempt = -Infinity;
  let inflight: Promise<void> | undefined;
  let fetches = 0;
  let generation = 0;

  async function getJson(url: string): Promise<unknown> {
    let res;
    try {
      res = await fetchText(
        options.fetch,
        url,
        { headers: { accept: "application/json" } },
        timeoutMs,
      );
    } catch (err) {
      throw new AuthError("unavailable", `could not fetch ${url}: ${describeFetchError(err)}`);
    }
    if (res.status !== 200) {
      throw new AuthError("unavailable", `could not fetch ${url}: HTTP ${res.status}`);
    }
    try {
      return JSON.parse(res.body);
    } catch {
      throw new AuthError("unavailable", `${url} did not return JSON`);
    }
  }

  async function discover(): Promise<string> {
    const url = `${issuer}/.well-known/openid-configuration`;
    const doc = await getJson(url) as { issuer?: unknown; jwks_uri?: unknown } | null;
    const docIssuer = typeof doc?.issuer === "string" ? doc.issuer.replace(/\/+$/, "") : undefined;
    if (docIssuer !== issuer) {
      throw new AuthError(
        "unavailable",
        `discovery document at ${url} names issuer ${
          JSON.stringify(doc?.issuer)
        }, expected "${options.issuer}"`,
      );
    }
    if (typeof doc?.jwks_uri !== "string" || !URL.canParse(doc.jwks_uri)) {
      throw new AuthError("unavailable", `discovery document at ${url} has no valid jwks_uri`);
    }
    return doc.jwks_uri;
  }

  async function load(): Promise<void> {
    lastAttempt = clock.now();
    fetches++;
    const url = jwksUrl ?? (jwksUrl = await discover());
    const set = await getJson(url) as JSONWebKeySet | null;
    if (!set || !Array.isArray(set.keys)) {
      throw new AuthError("unavailable", `JWKS at ${url} has no "keys" array`);
    }
    resolver = createLocalJWKSet(set);
    generation++;
    fetchedAt = clock.now();
    logger.debug("JWKS loaded", { issuer, jwksUrl: url, keys: set.keys.length });
  }

  /** Refreshes unless one happened within `minInterval`; concurrent callers share one fetch. */
  function refresh(): Promise<void> | undefined {
    if (inflight) return inflight;
    if (clock.now() - lastAttempt < minInterval) return undefined;
    inflight = load().catch((err) => {
      logger.warn("JWKS refresh failed", { issuer, error: err });
      if (!resolver) throw err;
    }).finally(() => inflight = undefined);
    return inflight;
  }

  return {
    get fetches() {
      return fetches;
    },
    get generation() {
      return generation;
    },
    async getKey(header, token) {
      if (!resolver || clock.now() - fetchedAt > maxAge) {
        const p = refresh();
        if (p) await p;
        if (!resolver) {
          throw new AuthError("unavailable", `signing keys of issuer ${issuer} are not available`);
        }
      }
      try {
        return await resolver(header, token);
      } catch (err) {
        if ((err as { code?: string }).code !== "ERR_JWKS_NO_MATCHING_KEY") throw err;
        const before = resolver;
        const p = refresh();
        if (!p) throw err;
        await p;
        if (resolver === before) throw err;
        return await resolver(header, token);
      }
    },
  };
}

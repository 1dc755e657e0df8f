/**
 * The shared cache of exchanged backend tokens, built from the config's `tokenCache`
 * (`memory`, or `redis` shared by every replica and encrypted at rest).
 *
 * Building is synchronous and throws a `TypeError` naming the field for an unusable config
 * (missing environment variable, bad address or key): backends needing the cache are then
 * excluded rather than served without it. The Redis connection itself is opened in the
 * background; until it is up (and whenever it is down) reads miss and writes are dropped.
 * @module
 */

import type { TokenCache as TokenCacheConfig } from "../../crds/auth.ts";
import type { Clock } from "../../core/clock.ts";
import { parseDuration } from "../../core/duration.ts";
import { createMemoryTokenCache, type TokenCache } from "../../core/auth/token_cache.ts";
import type { Logger } from "../../core/log.ts";
import { checkRedisTokenCacheOptions, createRedisTokenCache } from "./redis_token_cache.ts";

export interface BuiltTokenCache {
  readonly provider: "memory" | "redis";
  readonly cache: TokenCache;
  /** Reuse a token until `expires_in - ttlOffsetMs` (capped at half its lifetime). */
  readonly ttlOffsetMs: number;
  /** Closes the Redis connection (idempotent; a no-op for memory). */
  close(): Promise<void>;
}

export interface TokenCacheDeps {
  /** Reads `*Env` values. @default Deno.env.get */
  env?: (name: string) => string | undefined;
  clock?: Clock;
  logger?: Logger;
}

const DEFAULT_TTL_OFFSET = "5m";

function envValue(
  env: (name: string) => string | undefined,
  field: string,
  name: string,
): string {
  const value = env(name);
  if (value === undefined || value === "") {
    throw new TypeError(`Invalid ${field}: environment variable ${name} is not set`);
  }
  return value;
}

/** A cache whose reads and writes wait for `pending` (a failed start reads as misses). */
function deferred(pending: Promise<TokenCache>): TokenCache {
  let ready: TokenCache | undefined;
  const settled = pending.then((c) => (ready = c), () => undefined);
  return {
    get: (key) => ready ? ready.get(key) : settled.then((c) => c?.get(key)),
    set: (key, value, ttlMs) =>
      ready ? ready.set(key, value, ttlMs) : settled.then((c) => c?.set(key, value, ttlMs)),
    close: () => settled.then((c) => c?.close?.()),
  };
}

/** Builds the token cache of `config` (undefined: a memory cache with the defaults). */
export function buildTokenCache(
  config: TokenCacheConfig | undefined,
  deps: TokenCacheDeps = {},
): BuiltTokenCache {
  const env = deps.env ?? ((name: string) => Deno.env.get(name));
  const provider = config?.provider ?? "memory";
  if (provider === "memory") {
    const cache = createMemoryTokenCache({
      maxEntries: config?.memory?.maxEntries ?? 1000,
      ...(deps.clock ? { clock: deps.clock } : {}),
    });
    return {
      provider,
      cache,
      ttlOffsetMs: parseDuration(config?.memory?.ttlOffset ?? DEFAULT_TTL_OFFSET),
      close: () => Promise.resolve(),
    };
  }
  const r = config?.redis;
  if (!r) throw new TypeError('Invalid tokenCache.redis: required for provider "redis"');
  if (r.encryptionKeyEnv === undefined) {
    throw new TypeError(
      r.encryptionKeyRef
        ? "Invalid tokenCache.redis.encryptionKeyRef: it must be resolved into encryptionKeyEnv before the proxy starts"
        : "Invalid tokenCache.redis.encryptionKeyEnv: required; cached tokens are encrypted at rest",
    );
  }
  const encryptionKey = envValue(env, "tokenCache.redis.encryptionKeyEnv", r.encryptionKeyEnv);
  const password = r.passwordEnv !== undefined
    ? envValue(env, "tokenCache.redis.passwordEnv", r.passwordEnv)
    : undefined;
  checkRedisTokenCacheOptions({ address: r.address, encryptionKey });
  const pending = createRedisTokenCache({
    address: r.address,
    db: r.db,
    keyPrefix: r.keyPrefix,
    tls: r.tls,
    encryptionKey,
    ...(password !== undefined ? { password } : {}),
    ...(deps.logger ? { logger: deps.logger } : {}),
  });
  return {
    provider,
    cache: deferred(pending),
    ttlOffsetMs: parseDuration(r.ttlOffset ?? DEFAULT_TTL_OFFSET),
    close: () => pending.then((c) => c.close(), () => {}),
  };
}

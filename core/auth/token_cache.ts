/**
 * Cache of tokens obtained for backends (token exchange results).
 *
 * Keys never contain a raw token: `tokenCacheKey` hashes the subject token. Values are the
 * obtained access tokens; implementations must treat them as secrets.
 * @module
 */

import type { Clock } from "../clock.ts";
import { systemClock } from "../clock.ts";
import { sha256Hex } from "./hash.ts";

/** A cache of backend tokens. Implementations never throw: a failure reads as a miss. */
export interface TokenCache {
  /** The cached value, or undefined when absent, expired or unreadable. */
  get(key: string): Promise<string | undefined>;
  /** Stores `value` for `ttlMs` milliseconds (ignored when `ttlMs <= 0`). */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Releases connections (no-op for the memory cache). */
  close?(): Promise<void>;
}

/**
 * The cache key of a token obtained for `backend` and `audience` on behalf of the caller
 * whose token is `subjectToken`: `backend \0 audience \0 sha256(subjectToken)`.
 */
export async function tokenCacheKey(
  backend: string,
  audience: string,
  subjectToken: string,
): Promise<string> {
  return `${backend}\u0000${audience}\u0000${await sha256Hex(subjectToken)}`;
}

export interface MemoryTokenCacheOptions {
  /** Most entries kept; the least recently used goes first. @default 10000 */
  maxEntries?: number;
  clock?: Clock;
}

/** An in-process LRU token cache with per-entry expiry. */
export function createMemoryTokenCache(options: MemoryTokenCacheOptions = {}): TokenCache & {
  /** Number of entries currently held (expired ones included until touched). */
  readonly size: number;
} {
  const maxEntries = options.maxEntries ?? 10_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new RangeError(
      `Invalid token cache maxEntries ${maxEntries}: expected an integer of at least 1`,
    );
  }
  const clock = options.clock ?? systemClock;
  // A Map iterates in insertion order: re-inserting on read makes it an LRU.
  const entries = new Map<string, { value: string; expiresAt: number }>();
  return {
    get size() {
      return entries.size;
    },
    get(key) {
      const e = entries.get(key);
      if (!e) return Promise.resolve(undefined);
      entries.delete(key);
      if (e.expiresAt <= clock.now()) return Promise.resolve(undefined);
      entries.set(key, e);
      return Promise.resolve(e.value);
    },
    set(key, value, ttlMs) {
      entries.delete(key);
      if (!(ttlMs > 0)) return Promise.resolve();
      entries.set(key, { value, expiresAt: clock.now() + ttlMs });
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next().value as string;
        entries.delete(oldest);
      }
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
}

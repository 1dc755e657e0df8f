/**
 * A token cache in Redis shared by every vmcp replica, encrypted at rest.
 *
 * Values are AES-256-GCM encrypted (WebCrypto) with the full Redis key as associated data, so
 * a value copied to another key does not decrypt. Redis being down never fails a call: reads
 * miss and writes are dropped (so tokens are exchanged per call), the outage is logged once,
 * and the recovery is logged when Redis answers again.
 * @module
 */

import { createFailFastRedis, parseRedisAddress, type RedisEndpoint } from "../redis_client.ts";
import type { TokenCache } from "../../core/auth/token_cache.ts";
import { type Logger, silentLogger } from "../../core/log.ts";

export interface RedisTokenCacheOptions extends RedisEndpoint {
  /** @default "vmcp:tokens:" */
  keyPrefix?: string;
  /** Base64 of exactly 32 random bytes (AES-256 key). */
  encryptionKey: string;
  /** Cap of the reconnect back-off. @default 5000 */
  maxReconnectDelayMs?: number;
  /** Per-command timeout; a slow Redis reads as a miss. @default 500 */
  commandTimeoutMs?: number;
  /** @default 2000 */
  connectTimeoutMs?: number;
  logger?: Logger;
}

export interface RedisTokenCache extends TokenCache {
  /** True while Redis answers. */
  readonly healthy: boolean;
  /** Closes the connection (idempotent). */
  close(): Promise<void>;
}

function parseAddress(address: string): { host: string; port: number } {
  return parseRedisAddress(address, "tokenCache.redis.address");
}

function decodeKey(base64: string): Uint8Array<ArrayBuffer> {
  let raw: Uint8Array<ArrayBuffer>;
  try {
    raw = Uint8Array.from(atob(base64.trim()), (c) => c.charCodeAt(0));
  } catch {
    raw = new Uint8Array(0);
  }
  if (raw.length !== 32) {
    throw new TypeError(
      `Invalid tokenCache.redis encryption key: expected base64 of exactly 32 bytes, got ${raw.length} bytes`,
    );
  }
  return raw;
}

async function importKey(base64: string): Promise<CryptoKey> {
  const raw = decodeKey(base64);
  return await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
}

/**
 * Throws the `TypeError` `createRedisTokenCache` would throw for invalid options (address,
 * encryption key), synchronously, so a config can be refused before anything connects.
 */
export function checkRedisTokenCacheOptions(
  options: Pick<RedisTokenCacheOptions, "address" | "encryptionKey">,
): void {
  parseAddress(options.address);
  decodeKey(options.encryptionKey);
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const unb64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/** Encrypts `plain` for `redisKey`: `v1.<iv>.<ciphertext+tag>` (base64). */
export async function sealValue(key: CryptoKey, redisKey: string, plain: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: enc.encode(redisKey) },
    key,
    enc.encode(plain),
  );
  return `v1.${b64(iv)}.${b64(new Uint8Array(ct))}`;
}

/** Decrypts a sealed value; undefined when malformed, tampered, moved or under another key. */
export async function openValue(
  key: CryptoKey,
  redisKey: string,
  sealed: string,
): Promise<string | undefined> {
  const [v, iv, ct] = sealed.split(".");
  if (v !== "v1" || !iv || !ct) return undefined;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: unb64(iv), additionalData: enc.encode(redisKey) },
      key,
      unb64(ct),
    );
    return dec.decode(plain);
  } catch {
    return undefined;
  }
}

/**
 * Connects to Redis, waiting at most `connectTimeoutMs` for the first connection; when Redis
 * is not there the cache still works (as misses) and keeps reconnecting in the background.
 * Throws only for invalid options (address, encryption key).
 */
export async function createRedisTokenCache(
  options: RedisTokenCacheOptions,
): Promise<RedisTokenCache> {
  parseAddress(options.address);
  const cryptoKey = await importKey(options.encryptionKey);
  const prefix = options.keyPrefix ?? "vmcp:tokens:";
  const logger = (options.logger ?? silentLogger).with({ component: "redis-token-cache" });
  const maxDelay = options.maxReconnectDelayMs ?? 5000;
  let healthy = true;
  let closed = false;

  const redis = createFailFastRedis({
    address: options.address,
    field: "tokenCache.redis.address",
    db: options.db,
    username: options.username,
    password: options.password,
    tls: options.tls,
    connectTimeoutMs: options.connectTimeoutMs ?? 2000,
    commandTimeoutMs: options.commandTimeoutMs ?? 500,
    baseReconnectDelayMs: 50,
    maxReconnectDelayMs: maxDelay,
    isClosed: () => closed,
  });

  function down(err: unknown): void {
    if (healthy && !closed) {
      healthy = false;
      logger.warn("Redis token cache unavailable; exchanging tokens per call until it recovers", {
        address: options.address,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
  function up(): void {
    if (!healthy) {
      healthy = true;
      logger.info("Redis token cache recovered", { address: options.address });
    }
  }
  // Give the first connection a moment, so start-up is not logged as an outage; after that
  // the cache works (as misses) whether or not Redis is there.
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off("ready", done);
      redis.off("error", done);
      resolve();
    };
    const timer = setTimeout(done, options.connectTimeoutMs ?? 2000);
    redis.once("ready", done);
    redis.once("error", done);
  });
  redis.on("error", down);
  redis.on("ready", up);
  redis.on("end", () => down(new Error("connection closed")));
  if (redis.status !== "ready") down(new Error(`not connected (${redis.status})`));

  return {
    get healthy() {
      return healthy && redis.status === "ready";
    },
    async get(key) {
      if (closed) return undefined;
      const redisKey = prefix + key;
      let sealed: string | null;
      try {
        sealed = await redis.get(redisKey);
      } catch (err) {
        down(err);
        return undefined;
      }
      up();
      if (sealed === null) return undefined;
      const plain = await openValue(cryptoKey, redisKey, sealed);
      if (plain === undefined) logger.warn("dropping an undecryptable token cache entry");
      return plain;
    },
    async set(key, value, ttlMs) {
      if (closed || !(ttlMs > 0)) return;
      const redisKey = prefix + key;
      try {
        await redis.set(
          redisKey,
          await sealValue(cryptoKey, redisKey, value),
          "PX",
          Math.ceil(ttlMs),
        );
        up();
      } catch (err) {
        down(err);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      if (redis.status === "ready") {
        await redis.quit().catch(() => redis.disconnect());
      } else {
        redis.disconnect();
      }
    },
  };
}

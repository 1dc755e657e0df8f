import assert from "node:assert/strict";
import { TokenCacheSchema } from "../../crds/auth.ts";
import { getTestRedis } from "../../tests/harness/redis.ts";
import { buildTokenCache } from "./token_cache_config.ts";

const redis = await getTestRedis();
const KEY = btoa(String.fromCharCode(...new Uint8Array(32).fill(7)));

Deno.test("no tokenCache config builds a memory cache with the 5 minute refresh offset", async () => {
  const built = buildTokenCache(undefined);
  assert.equal(built.provider, "memory");
  assert.equal(built.ttlOffsetMs, 300_000);
  await built.cache.set("k", "v", 1000);
  assert.equal(await built.cache.get("k"), "v");
  await built.close();
});

Deno.test("an unusable redis tokenCache is refused up front, naming the field", () => {
  const parse = (redis: unknown) => TokenCacheSchema.parse({ provider: "redis", redis });
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  assert.throws(
    () => buildTokenCache(TokenCacheSchema.parse({ provider: "redis" })),
    /tokenCache.redis: required/,
  );
  assert.throws(
    () => buildTokenCache(parse({ address: "127.0.0.1:6379" })),
    /tokenCache.redis.encryptionKeyEnv: required/,
  );
  assert.throws(
    () =>
      buildTokenCache(
        parse({ address: "127.0.0.1:6379", encryptionKeyRef: { name: "s", key: "k" } }),
      ),
    /encryptionKeyRef: it must be resolved into encryptionKeyEnv/,
  );
  assert.throws(
    () => buildTokenCache(parse({ address: "a:1", encryptionKeyEnv: "K" }), { env: env({}) }),
    /encryptionKeyEnv: environment variable K is not set/,
  );
  assert.throws(
    () =>
      buildTokenCache(parse({ address: "a:1", encryptionKeyEnv: "K" }), {
        env: env({ K: "c2hvcnQ=" }),
      }),
    /exactly 32 bytes, got 5 bytes/,
  );
  assert.throws(
    () =>
      buildTokenCache(parse({ address: "a:99999", encryptionKeyEnv: "K" }), {
        env: env({ K: KEY }),
      }),
    /tokenCache.redis.address "a:99999"/,
  );
  assert.throws(
    () =>
      buildTokenCache(parse({ address: "a:1", encryptionKeyEnv: "K", passwordEnv: "P" }), {
        env: env({ K: KEY }),
      }),
    /passwordEnv: environment variable P is not set/,
  );
});

Deno.test("a redis tokenCache shares entries between two builds and closes cleanly", async () => {
  const cfg = TokenCacheSchema.parse({
    provider: "redis",
    redis: {
      address: `127.0.0.1:${redis.port}`,
      keyPrefix: `vmcp:test:${crypto.randomUUID()}:`,
      encryptionKeyEnv: "K",
      ttlOffset: "30s",
      ...(redis.password ? { passwordEnv: "P" } : {}),
    },
  });
  const env = (n: string) => (n === "K" ? KEY : n === "P" ? redis.password : undefined);
  const a = buildTokenCache(cfg, { env });
  const b = buildTokenCache(cfg, { env });
  try {
    assert.equal(a.provider, "redis");
    assert.equal(a.ttlOffsetMs, 30_000);
    await a.cache.set("user\u0000backend", "Bearer exchanged", 5000);
    assert.equal(await b.cache.get("user\u0000backend"), "Bearer exchanged");
  } finally {
    await a.close();
    await b.close();
  }
});

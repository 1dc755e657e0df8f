import assert from "node:assert/strict";
import { getTestRedis } from "../../tests/harness/redis.ts";
import { createSessionStore } from "./create_store.ts";

const redis = await getTestRedis();

Deno.test("without sessionStorage the store is in memory with a 30 minute TTL", async () => {
  const store = await createSessionStore(undefined);
  assert.equal(store.kind, "memory");
  assert.equal(store.ttlMs, 30 * 60_000);
  await store.close();
});

Deno.test("a redis sessionStorage connects with its ttl and the password from passwordEnv", async () => {
  const store = await createSessionStore(
    { provider: "redis", address: `127.0.0.1:${redis.port}`, ttl: "90s", passwordEnv: "PW" },
    { env: (n) => (n === "PW" ? redis.password ?? "" : undefined) },
  );
  try {
    assert.equal(store.kind, "redis");
    assert.equal(store.ttlMs, 90_000);
    assert.equal(store.healthy, true);
  } finally {
    await store.close();
  }
});

Deno.test("invalid sessionStorage settings are refused naming the field", async () => {
  await assert.rejects(createSessionStore({ provider: "redis" }), /sessionStorage.address/);
  await assert.rejects(
    createSessionStore({ provider: "redis", address: "x:1", passwordEnv: "NOPE" }, {
      env: () => undefined,
    }),
    /sessionStorage.passwordEnv "NOPE"/,
  );
  await assert.rejects(createSessionStore({ ttl: "soon" }), /sessionStorage.ttl/);
});

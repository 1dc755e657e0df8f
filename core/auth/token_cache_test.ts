import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { createMemoryTokenCache, tokenCacheKey } from "./token_cache.ts";

Deno.test("cache keys hash the subject token and never contain it", async () => {
  const key = await tokenCacheKey("github", "api", "eyJraw.token.value");
  assert.ok(!key.includes("eyJraw"));
  const [backend, audience, hash] = key.split("\u0000");
  assert.deepEqual([backend, audience], ["github", "api"]);
  assert.match(hash!, /^[0-9a-f]{64}$/);
  assert.notEqual(key, await tokenCacheKey("github", "api", "another"));
  assert.notEqual(key, await tokenCacheKey("jira", "api", "eyJraw.token.value"));
});

Deno.test("memory cache entries expire after their ttl", async () => {
  const clock = new ManualClock(0);
  const c = createMemoryTokenCache({ clock });
  await c.set("k", "v", 1000);
  assert.equal(await c.get("k"), "v");
  clock.advance(999);
  assert.equal(await c.get("k"), "v");
  clock.advance(1);
  assert.equal(await c.get("k"), undefined);
  await c.set("z", "v", 0);
  assert.equal(await c.get("z"), undefined, "a non-positive ttl stores nothing");
});

Deno.test("memory cache evicts the least recently used entry beyond maxEntries", async () => {
  const c = createMemoryTokenCache({ maxEntries: 2 });
  await c.set("a", "1", 60_000);
  await c.set("b", "2", 60_000);
  await c.get("a");
  await c.set("c", "3", 60_000);
  assert.equal(c.size, 2);
  assert.equal(await c.get("b"), undefined);
  assert.equal(await c.get("a"), "1");
  assert.equal(await c.get("c"), "3");
  assert.throws(() => createMemoryTokenCache({ maxEntries: 0 }), /maxEntries 0/);
});

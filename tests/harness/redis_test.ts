import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { getTestRedis, startRedis } from "./redis.ts";

const redis = await getTestRedis();

function connect(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
}

Deno.test("the test redis stores and returns a value", async () => {
  const client = connect(redis.url);
  try {
    const key = `harness:${crypto.randomUUID()}`;
    assert.equal(await client.set(key, "hello", "EX", 60), "OK");
    assert.equal(await client.get(key), "hello");
    assert.equal(await client.del(key), 1);
  } finally {
    await client.quit();
  }
});

Deno.test("a private redis with a password rejects clients without it and loses data on restart", async () => {
  const own = await startRedis({ password: "s3cret" });
  try {
    const anon = connect(`redis://127.0.0.1:${own.port}`);
    anon.on("error", () => {}); // the refused handshake is expected here
    try {
      await assert.rejects(anon.get("k"), /NOAUTH/);
    } finally {
      await anon.quit().catch(() => anon.disconnect());
    }
    const client = connect(own.url);
    try {
      await client.set("k", "v");
      assert.equal(await client.get("k"), "v");
    } finally {
      await client.quit();
    }
    await own.restart();
    const again = connect(own.url);
    try {
      assert.equal(await again.get("k"), null);
    } finally {
      await again.quit();
    }
  } finally {
    await own.stop();
  }
});

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { getTestRedis } from "../../tests/harness/redis.ts";
import {
  connectRedisSessionStore,
  parseRedisAddress,
  type RedisStoreOptions,
} from "./redis_store.ts";
import type { SessionRecord } from "./store.ts";

const redis = await getTestRedis();
const address = `127.0.0.1:${redis.port}`;

function record(id = crypto.randomUUID()): SessionRecord {
  return {
    id,
    identityKey: "https://issuer\u0000alice",
    protocolVersion: "2025-11-25",
    clientInfo: { name: "c", version: "1" },
    clientCapabilities: { roots: {} },
    backendSessions: { github: "gh-1" },
    subscriptions: [],
    createdAt: 1,
    lastSeen: 1,
  };
}

/** Two stores with their own connections, as two replicas would have. */
async function replicas(opts: Partial<RedisStoreOptions> = {}) {
  const keyPrefix = `test:${crypto.randomUUID()}:`;
  const mk = () =>
    connectRedisSessionStore({ address, password: redis.password, keyPrefix, ...opts });
  const [a, b] = await Promise.all([mk(), mk()]);
  return {
    a,
    b,
    keyPrefix,
    [Symbol.asyncDispose]: async () => {
      await a.close();
      await b.close();
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a session created on one replica is read by another", async () => {
  await using r = await replicas();
  const rec = record();
  await r.a.create(rec);
  assert.deepEqual(await r.b.get(rec.id), rec);
  assert.equal(await r.b.get("unknown"), undefined);
  assert.equal(r.a.healthy && r.b.healthy, true);
});

Deno.test("the record is one JSON value under the key prefix with the session TTL", async () => {
  await using r = await replicas({ ttlMs: 60_000 });
  const rec = record();
  await r.a.create(rec);
  const raw = new Redis({ host: "127.0.0.1", port: redis.port, password: redis.password });
  try {
    assert.deepEqual(JSON.parse((await raw.get(r.keyPrefix + rec.id))!), rec);
    const ttl = await raw.pttl(r.keyPrefix + rec.id);
    assert.ok(ttl > 55_000 && ttl <= 60_000, `pttl ${ttl}`);
  } finally {
    await raw.quit();
  }
});

/** The remaining TTL (ms) of each record, read straight from Redis. */
async function pttls(keyPrefix: string, ...ids: string[]): Promise<number[]> {
  const raw = new Redis({ host: "127.0.0.1", port: redis.port, password: redis.password });
  try {
    return await Promise.all(ids.map((id) => raw.pttl(keyPrefix + id)));
  } finally {
    await raw.quit();
  }
}

/** Waits (generously) until every listed record has lost more than `ms` of its TTL. */
async function aged(keyPrefix: string, ttlMs: number, ms: number, ...ids: string[]) {
  const deadline = Date.now() + 30_000;
  while ((await pttls(keyPrefix, ...ids)).some((t) => t > ttlMs - ms)) {
    if (Date.now() > deadline) throw new Error(`records did not age by ${ms} ms`);
    await sleep(100);
  }
}

// The TTLs that must survive are long (60 s), so a busy machine cannot let them expire by
// accident; sliding shows as a remaining TTL back near the full one.
Deno.test("reading a session slides its TTL and an unread session expires", async () => {
  {
    const ttlMs = 60_000;
    await using r = await replicas({ ttlMs });
    const kept = record();
    const idle = record();
    await r.a.create(kept);
    await r.a.create(idle);
    await aged(r.keyPrefix, ttlMs, 1000, kept.id, idle.id);
    assert.equal((await r.b.get(kept.id) as SessionRecord).id, kept.id);
    const [keptTtl, idleTtl] = await pttls(r.keyPrefix, kept.id, idle.id);
    assert.ok(keptTtl! > ttlMs - 500, `the read slid the TTL: ${keptTtl}`);
    assert.ok(idleTtl! <= ttlMs - 1000, `the unread one did not slide: ${idleTtl}`);
  }
  await using r = await replicas({ ttlMs: 400 });
  const idle = record();
  await r.a.create(idle);
  await sleep(800); // a slow machine only lets more time pass
  assert.equal(await r.b.get(idle.id), undefined, "800 ms without a read: expired");
});

Deno.test("touch and touchMany slide the TTL of live sessions only", async () => {
  const ttlMs = 60_000;
  await using r = await replicas({ ttlMs });
  const one = record();
  const two = record();
  await r.a.create(one);
  await r.a.create(two);
  await aged(r.keyPrefix, ttlMs, 1000, one.id, two.id);
  assert.equal(await r.b.touch(one.id), true);
  await r.b.touchMany([two.id, "unknown"]);
  const [oneTtl, twoTtl] = await pttls(r.keyPrefix, one.id, two.id);
  assert.ok(oneTtl! > ttlMs - 500 && twoTtl! > ttlMs - 500, `slid: ${oneTtl}, ${twoTtl}`);
  assert.equal(await r.b.touch("unknown"), false);
  assert.equal((await r.a.get(one.id) as SessionRecord).id, one.id);
  assert.equal((await r.a.get(two.id) as SessionRecord).id, two.id);
  await r.a.terminate(one.id);
  assert.equal(await r.a.touch(one.id), false);
});

Deno.test("a session terminated on one replica reads as terminated on the other", async () => {
  await using r = await replicas({ ttlMs: 500 });
  const rec = record();
  await r.a.create(rec);
  await r.a.terminate(rec.id);
  assert.equal(await r.b.get(rec.id), "terminated");
  assert.equal(await r.b.update(rec.id, { logLevel: "debug" }), "terminated");
  await sleep(700);
  assert.equal(await r.b.get(rec.id), undefined, "the marker expires with the TTL");
});

Deno.test("updates merge backend sessions and replace other fields", async () => {
  await using r = await replicas();
  const rec = record();
  await r.a.create(rec);
  const next = await r.b.update(rec.id, {
    backendSessions: { jira: "j-1", github: null },
    subscriptions: ["file:///a", "file:///a", "file:///b"],
    logLevel: "warning",
  }) as SessionRecord;
  assert.deepEqual(next.backendSessions, { jira: "j-1" });
  assert.deepEqual(next.subscriptions, ["file:///a", "file:///b"]);
  assert.equal(next.identityKey, rec.identityKey);
  assert.deepEqual(await r.a.get(rec.id), next);
  assert.equal(await r.a.update("unknown", { logLevel: "info" }), undefined);
});

Deno.test("concurrent updates from two replicas lose no write", async () => {
  await using r = await replicas();
  const rec = record();
  await r.a.create(rec);
  const uris = Array.from({ length: 24 }, (_, i) => `file:///${i}`);
  await Promise.all(
    uris.map((uri, i) =>
      (i % 2 ? r.a : r.b).update(rec.id, (cur) => ({ subscriptions: [...cur.subscriptions, uri] }))
    ),
  );
  const got = await r.a.get(rec.id) as SessionRecord;
  assert.deepEqual([...got.subscriptions].sort(), [...uris].sort());
});

Deno.test("stores with different key prefixes do not see each other's sessions", async () => {
  await using r1 = await replicas();
  await using r2 = await replicas();
  const rec = record();
  await r1.a.create(rec);
  assert.equal(await r2.a.get(rec.id), undefined);
});

Deno.test("create rejects a record without an identity key, naming the field", async () => {
  await using r = await replicas();
  await assert.rejects(
    r.a.create({ ...record(), identityKey: "" }),
    /identityKey=""/,
  );
});

Deno.test("redis addresses parse as host:port with IPv6 brackets and a default port", () => {
  assert.deepEqual(parseRedisAddress("redis:6380"), { host: "redis", port: 6380 });
  assert.deepEqual(parseRedisAddress("[::1]:7000"), { host: "::1", port: 7000 });
  assert.deepEqual(parseRedisAddress("redis.ns.svc"), { host: "redis.ns.svc", port: 6379 });
  assert.throws(() => parseRedisAddress("redis:0"), /sessionStorage.address "redis:0"/);
  assert.throws(() => parseRedisAddress(""), /sessionStorage.address/);
});

Deno.test("republish writes only the sessions the store lost and leaves records and terminated markers alone", async () => {
  await using r = await replicas();
  const kept = record();
  const gone = record();
  const ended = record();
  await r.a.create({ ...kept, backendSessions: { github: "newer" } });
  await r.a.create(ended);
  await r.a.terminate(ended.id);
  assert.equal(await r.b.republish([kept, gone, ended]), 1);
  assert.deepEqual((await r.a.get(kept.id) as SessionRecord).backendSessions, { github: "newer" });
  assert.equal((await r.a.get(gone.id) as SessionRecord).id, gone.id);
  assert.equal(await r.a.get(ended.id), "terminated");
  assert.equal(await r.a.republish([]), 0);
});

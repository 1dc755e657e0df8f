import assert from "node:assert/strict";
import { Redis } from "ioredis";
import type { Identity } from "../../core/auth/identity.ts";
import { createLogger } from "../../core/log.ts";
import { getTestRedis, startRedis } from "../../tests/harness/redis.ts";
import { startTokenEndpoint } from "../../tests/fixtures/token_endpoint.ts";
import { createOutgoingAuth } from "./outgoing.ts";
import { createRedisTokenCache } from "./redis_token_cache.ts";

// Started at module level so the processes exist before the first test (quiet sanitizers).
const shared = await getTestRedis();
const own = await startRedis();
globalThis.addEventListener("unload", () => void own.stop());

/** Live Redis on a busy machine: no command may time out by accident (default 500 ms). */
const PATIENT = { commandTimeoutMs: 10_000, connectTimeoutMs: 10_000 };

const KEY = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
const address = (port: number) => `127.0.0.1:${port}`;
const password = shared.password;

function rawClient(port: number, pass?: string): Redis {
  const r = new Redis({
    host: "127.0.0.1",
    port,
    password: pass,
    maxRetriesPerRequest: 1,
    lazyConnect: true,
    retryStrategy: () => null,
  });
  r.on("error", () => {});
  return r;
}

Deno.test("two cache instances share entries through Redis, and the stored value is not the token", async () => {
  const prefix = `test:${crypto.randomUUID()}:`;
  const a = await createRedisTokenCache({
    address: address(shared.port),
    ...PATIENT,
    password,
    keyPrefix: prefix,
    encryptionKey: KEY,
  });
  const b = await createRedisTokenCache({
    address: address(shared.port),
    ...PATIENT,
    password,
    keyPrefix: prefix,
    encryptionKey: KEY,
  });
  const raw = rawClient(shared.port, password);
  try {
    await a.set("github\u0000aud\u0000abc", "Bearer exchanged-secret-token", 60_000);
    assert.equal(await b.get("github\u0000aud\u0000abc"), "Bearer exchanged-secret-token");
    assert.equal(await b.get("missing"), undefined);

    const stored = await raw.get(`${prefix}github\u0000aud\u0000abc`);
    assert.ok(stored && stored.startsWith("v1."), "encrypted envelope");
    assert.ok(
      !stored.includes("exchanged-secret-token") &&
        !atob(stored.split(".")[2]!).includes("exchanged"),
    );
    const pttl = await raw.pttl(`${prefix}github\u0000aud\u0000abc`);
    assert.ok(pttl > 55_000 && pttl <= 60_000, `expiry set in Redis (pttl ${pttl})`);

    // A value moved to another key, or read with another encryption key, does not decrypt.
    await raw.set(`${prefix}other`, stored);
    assert.equal(await b.get("other"), undefined);
    const otherKey = await createRedisTokenCache({
      address: address(shared.port),
      ...PATIENT,
      ...PATIENT,
      password,
      keyPrefix: prefix,
      encryptionKey: btoa("x".repeat(32)),
    });
    assert.equal(await otherKey.get("github\u0000aud\u0000abc"), undefined);
    await otherKey.close();
  } finally {
    await a.close();
    await b.close();
    await raw.quit();
  }
});

Deno.test("two vmcp replicas sharing a Redis cache exchange a user's token only once", async () => {
  const te = startTokenEndpoint();
  const prefix = `test:${crypto.randomUUID()}:`;
  const opts = { address: address(shared.port), password, keyPrefix: prefix, encryptionKey: KEY };
  const c1 = await createRedisTokenCache(opts);
  const c2 = await createRedisTokenCache(opts);
  try {
    const strategy = {
      type: "tokenExchange",
      tokenExchange: {
        tokenUrl: te.url,
        clientId: "vmcp",
        clientSecret: "vmcp-secret",
        audience: "gh",
      },
    };
    const p1 = createOutgoingAuth(strategy, { backendName: "github", cache: c1 });
    const p2 = createOutgoingAuth(strategy, { backendName: "github", cache: c2 });
    const alice: Identity = {
      issuer: "https://idp",
      subject: "alice",
      claims: {},
      token: "alice-token",
    };
    const h1 = await p1.headersFor(alice);
    const h2 = await p2.headersFor(alice);
    assert.deepEqual(h2, h1);
    assert.equal(te.calls(), 1);
  } finally {
    await c1.close();
    await c2.close();
    await te.stop();
  }
});

Deno.test("when Redis goes down tokens are exchanged per call without errors, the outage is logged once, and caching resumes when Redis returns", async () => {
  const te = startTokenEndpoint();
  const lines: string[] = [];
  const cache = await createRedisTokenCache({
    address: address(own.port),
    ...PATIENT,
    encryptionKey: KEY,
    maxReconnectDelayMs: 100,
    logger: createLogger({ sink: (l) => lines.push(l) }),
  });
  const waitFor = async (cond: () => boolean, what: string) => {
    for (let i = 0; i < 1200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(cond(), what);
  };
  try {
    const auth = createOutgoingAuth({
      type: "tokenExchange",
      tokenExchange: {
        tokenUrl: te.url,
        clientId: "vmcp",
        clientSecret: "vmcp-secret",
        audience: "gh",
      },
    }, { backendName: "github", cache });
    const alice: Identity = { issuer: "i", subject: "alice", claims: {}, token: "alice-token" };
    await auth.headersFor(alice);
    await auth.headersFor(alice);
    assert.equal(te.calls(), 1, "cached while Redis is up");

    const admin = rawClient(own.port);
    await admin.call("SHUTDOWN", "NOSAVE").catch(() => {});
    admin.disconnect();
    await waitFor(() => !cache.healthy, "the cache notices the outage");
    for (let i = 0; i < 3; i++) {
      assert.match((await auth.headersFor(alice)).Authorization!, /^Bearer exchanged:gh:/);
    }
    assert.equal(te.calls(), 4, "exchanged per call while Redis is down");

    await own.restart();
    await waitFor(() => cache.healthy, "reconnected after Redis came back");
    await auth.headersFor(alice);
    await auth.headersFor(alice);
    assert.equal(te.calls(), 5, "caching resumes after recovery");
  } finally {
    await cache.close();
    await te.stop();
  }
  assert.equal(lines.filter((l) => l.includes("Redis token cache unavailable")).length, 1);
  assert.equal(lines.filter((l) => l.includes("Redis token cache recovered")).length, 1);
});

Deno.test("an unreachable Redis from the start reads as misses and closes cleanly", async () => {
  const cache = await createRedisTokenCache({
    address: "127.0.0.1:1",
    encryptionKey: KEY,
    maxReconnectDelayMs: 50,
  });
  try {
    assert.equal(await cache.get("k"), undefined);
    await cache.set("k", "v", 1000);
    assert.equal(cache.healthy, false);
  } finally {
    await cache.close();
  }
});

Deno.test("invalid addresses and encryption keys are refused with the field named", async () => {
  await assert.rejects(
    createRedisTokenCache({ address: "127.0.0.1:6379", encryptionKey: btoa("short") }),
    /encryption key: expected base64 of exactly 32 bytes, got 5 bytes/,
  );
  await assert.rejects(
    createRedisTokenCache({ address: "host:99999", encryptionKey: KEY }),
    /tokenCache\.redis\.address "host:99999"/,
  );
});

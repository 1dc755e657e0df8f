import assert from "node:assert/strict";
import { CallToolResultSchema, Client, StreamableHTTPClientTransport } from "../../core/sdk.ts";
import { createBackendFetch } from "../../core/http_client.ts";
import { startBalancer } from "../../tests/fixtures/balancer.ts";
import { getTestRedis, startRedis } from "../../tests/harness/redis.ts";
import { connectRedisSessionStore, type RedisSessionStore } from "./redis_store.ts";
import {
  type SessionRecord,
  SessionStoreUnavailableError,
  STORE_UNAVAILABLE_RPC_CODE,
  storeUnavailableResponse,
} from "./store.ts";
import { startTestReplica } from "./_test_replica.ts";
import { startGate } from "../../tests/scaleout/tcp_gate.ts";

const shared = await getTestRedis();

/**
 * A busy machine may keep a live Redis from answering within the store's default 1 s command
 * timeout; the outages here close connections, which the store notices without any timeout.
 */
const PATIENT_REDIS = { commandTimeoutMs: 10_000, connectTimeoutMs: 10_000 };

async function waitFor(what: string, cond: () => boolean, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * The error `p` rejects with, or "still waiting" when it has not settled after `ms`: an
 * offline queue would hold the call until Redis came back, far longer than a generous `ms`.
 */
async function failure(p: Promise<unknown>, ms = 10_000): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<string>((r) => (timer = setTimeout(() => r("still waiting"), ms)));
  try {
    return await Promise.race([p.then(() => "resolved", (e) => e), late]);
  } finally {
    clearTimeout(timer);
  }
}

function record(id = crypto.randomUUID()): SessionRecord {
  return {
    id,
    identityKey: "unauthenticated",
    protocolVersion: "2025-11-25",
    clientInfo: { name: "c", version: "1" },
    clientCapabilities: {},
    backendSessions: {},
    subscriptions: [],
    createdAt: 1,
    lastSeen: 1,
  };
}

const storeVia = (port: number, password?: string): Promise<RedisSessionStore> =>
  connectRedisSessionStore({
    address: `127.0.0.1:${port}`,
    password,
    keyPrefix: `outage:${crypto.randomUUID()}:`,
    maxReconnectDelayMs: 200,
    ...PATIENT_REDIS,
  });

Deno.test("while Redis is unreachable reads fail fast as retryable, the same store recovers, and both health changes are reported", async () => {
  const gate = await startGate(shared.port);
  const store = await storeVia(gate.port, shared.password);
  const flips: boolean[] = [];
  const unsubscribe = store.onHealthChange((healthy) => flips.push(healthy));
  try {
    const rec = record();
    await store.create(rec);
    await gate.pause();
    await waitFor("the store to notice", () => !store.healthy);
    // Fails while the gate is still paused: no offline queue holds the calls.
    const err = await failure(store.get(rec.id));
    assert.ok(err instanceof SessionStoreUnavailableError, String(err));
    const created = await failure(store.create(record()));
    assert.ok(created instanceof SessionStoreUnavailableError, String(created));
    const terminated = await failure(store.terminate(rec.id));
    assert.ok(terminated instanceof SessionStoreUnavailableError, String(terminated));

    const res = storeUnavailableResponse(err);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("retry-after"), "1");
    const body = await res.json();
    assert.equal(body.error.code, STORE_UNAVAILABLE_RPC_CODE);
    assert.match(body.error.message, /Session store unavailable/);

    gate.resume();
    await waitFor("the store to reconnect", () => store.healthy);
    assert.equal((await store.get(rec.id) as SessionRecord).id, rec.id);
    await waitFor("both health changes to be reported", () => flips.length === 2);
    assert.deepEqual(flips, [false, true]);
    unsubscribe();
  } finally {
    await store.close();
    await gate.stop();
  }
});

async function call(client: Client): Promise<string> {
  const res = await client.request(
    { method: "tools/call", params: { name: "whoami", arguments: {} } },
    CallToolResultSchema,
  );
  return JSON.parse((res.content[0] as { text: string }).text).replica;
}

const rawCall = (url: string, id: string) =>
  fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-session-id": id,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/list" }),
  });

Deno.test("during a Redis outage local sessions keep working, restores and new sessions get 503, and all recovers", async () => {
  const gate = await startGate(shared.port);
  const prefix = `outage:${crypto.randomUUID()}:`;
  const mk = () =>
    connectRedisSessionStore({
      address: `127.0.0.1:${gate.port}`,
      password: shared.password,
      keyPrefix: prefix,
      maxReconnectDelayMs: 200,
      ...PATIENT_REDIS,
    });
  const [sa, sb] = await Promise.all([mk(), mk()]);
  const a = startTestReplica({ name: "a", store: sa });
  const b = startTestReplica({ name: "b", store: sb });
  const lb = await startBalancer([a.origin]);
  const client = new Client({ name: "t", version: "1" });
  const transport = new StreamableHTTPClientTransport(new URL(`${lb.url}/mcp`), {
    fetch: createBackendFetch(),
  });
  try {
    await client.connect(transport);
    assert.equal(await call(client), "a");
    const id = transport.sessionId!;

    await gate.pause();
    await waitFor("both stores to notice", () => !sa.healthy && !sb.healthy);
    assert.equal(await call(client), "a", "the local session continues");
    assert.ok(a.stats.degraded > 0);

    const restore = await rawCall(b.url, id);
    assert.equal(restore.status, 503);
    assert.equal(restore.headers.get("retry-after"), "1");
    assert.equal((await restore.json()).error.code, STORE_UNAVAILABLE_RPC_CODE);

    const fresh = await fetch(a.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: {
          protocolVersion: "2025-11-25",
          capabilities: {},
          clientInfo: { name: "n", version: "1" },
        },
      }),
    });
    assert.equal(fresh.status, 503, "a new session is not handed out unless it can be stored");
    await fresh.body?.cancel();

    gate.resume();
    await waitFor("the stores to reconnect", () => sa.healthy && sb.healthy);
    const after = await rawCall(b.url, id);
    assert.equal(after.status, 200);
    await after.body?.cancel();
    assert.equal(b.stats.restores, 1);
    lb.setTargets([b.origin]);
    assert.equal(await call(client), "b");
  } finally {
    await transport.terminateSession().catch(() => {});
    await client.close();
    await lb.stop();
    await a.stop();
    await b.stop();
    await sa.close();
    await sb.close();
    await gate.stop();
  }
});

Deno.test("after Redis restarts empty, the holding replica writes its sessions back and others restore them", async () => {
  const own = await startRedis();
  const mk = () =>
    connectRedisSessionStore({
      address: `127.0.0.1:${own.port}`,
      maxReconnectDelayMs: 200,
      ...PATIENT_REDIS,
    });
  const [sa, sb] = await Promise.all([mk(), mk()]);
  const a = startTestReplica({ name: "a", store: sa });
  const b = startTestReplica({ name: "b", store: sb });
  const lb = await startBalancer([a.origin]);
  const client = new Client({ name: "t", version: "1" });
  const transport = new StreamableHTTPClientTransport(new URL(`${lb.url}/mcp`), {
    fetch: createBackendFetch(),
  });
  try {
    await client.connect(transport);
    assert.equal(await call(client), "a");
    const id = transport.sessionId!;
    await own.restart();
    await waitFor("the stores to reconnect", () => sa.healthy && sb.healthy);
    assert.equal(await sb.get(id), undefined, "no persistence: the record is gone");
    assert.equal(await call(client), "a", "the holder still serves it");
    assert.equal((await sb.get(id) as SessionRecord).id, id, "and wrote it back");
    lb.setTargets([b.origin]);
    assert.equal(await call(client), "b");
  } finally {
    await transport.terminateSession().catch(() => {});
    await client.close();
    await lb.stop();
    await a.stop();
    await b.stop();
    await sa.close();
    await sb.close();
    await own.stop();
  }
});

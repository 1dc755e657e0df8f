/**
 * The session store going away under two real proxy processes (`main.ts --mode=proxy`,
 * `sessionStorage.provider: redis`): a private redis-server behind a cuttable TCP gate, so the
 * replicas see it down (connections dropped, new ones refused) for as long as the test wants,
 * and restarted empty (`restart()`: no persistence) when it comes back.
 */
import assert from "node:assert/strict";
import type { VmcpConfigInput } from "../../crds/vmcp_config.ts";
import { serveHttpBackend } from "../fixtures/mod.ts";
import { startRedis } from "../harness/redis.ts";
import { waitFor } from "../proxy/helpers.ts";
import { type Replica, startReplica, writeConfig } from "./replicas.ts";
import { startGate } from "./tcp_gate.ts";

const redis = await startRedis();

const HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};

async function post(url: string, body: unknown, session?: string) {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      ...HEADERS,
      ...(session ? { "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const data = text.split("\n").find((l) => l.startsWith("data:"))?.slice(5) ?? text;
  let json: { error?: { code: number; message: string }; result?: unknown } | undefined;
  try {
    json = JSON.parse(data);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json };
}

const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "outage", version: "1" },
  },
};
const list = { jsonrpc: "2.0", id: 2, method: "tools/list" };

async function open(url: string): Promise<string> {
  const res = await fetch(url, {
    method: "POST",
    headers: HEADERS,
    body: JSON.stringify(initialize),
  });
  await res.body?.cancel();
  assert.equal(res.status, 200);
  const id = res.headers.get("mcp-session-id")!;
  const done = await post(url, { jsonrpc: "2.0", method: "notifications/initialized" }, id);
  assert.equal(done.status, 202);
  return id;
}

interface StoreStatus {
  provider: string;
  healthy: boolean;
  created: number;
  restored: number;
  degraded: number;
  bindingRejected: number;
  republished: number;
}

async function storeStatus(r: Replica): Promise<StoreStatus> {
  const res = await fetch(`${r.origin}/status`);
  return (await res.json()).sessionStore;
}

async function readyz(r: Replica): Promise<number> {
  const res = await fetch(`${r.origin}/readyz`);
  await res.body?.cancel();
  return res.status;
}

Deno.test({
  name:
    "with Redis down a replica keeps serving the sessions it holds, the other answers 503 -32003 with Retry-After, new sessions get 503, both stay ready, and after Redis restarts empty the other restores the session",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const gate = await startGate(redis.port);
    const backend = await serveHttpBackend({ name: "b" });
    const path = await writeConfig({
      name: "outage",
      groupRef: { name: "g" },
      incomingAuth: { type: "anonymous" },
      sessionStorage: {
        provider: "redis",
        address: `127.0.0.1:${gate.port}`,
        keyPrefix: `vmcp:outage:${crypto.randomUUID().slice(0, 8)}:`,
      },
      backends: [{ name: "b", transport: "streamable-http", url: backend.url }],
    } as VmcpConfigInput);
    const replicas: Replica[] = [];
    try {
      replicas.push(...await Promise.all([startReplica("a", path), startReplica("b", path)]));
      const [a, b] = replicas as [Replica, Replica];
      const id = await open(a.url);
      assert.equal((await post(a.url, list, id)).status, 200);
      const up = await storeStatus(a);
      assert.equal(up.provider, "redis");
      assert.equal(up.healthy, true);
      assert.equal(up.created, 1);

      await gate.pause(); // Redis is down for both replicas
      await waitFor(async () => !(await storeStatus(a)).healthy, 30_000, "a to see Redis down");
      await waitFor(async () => !(await storeStatus(b)).healthy, 30_000, "b to see Redis down");

      // a holds the session: it keeps working there.
      const onA = await post(a.url, list, id);
      assert.equal(onA.status, 200);
      assert.ok(onA.json?.result, "a answered tools/list");
      // b would have to restore it: 503, retryable, saying why.
      const onB = await post(b.url, list, id);
      assert.equal(onB.status, 503);
      assert.equal(onB.headers.get("retry-after"), "2");
      assert.equal(onB.json?.error?.code, -32003);
      assert.match(onB.json?.error?.message ?? "", /session store unavailable/i);
      // No new session is handed out that other replicas could not serve.
      const fresh = await post(a.url, initialize);
      assert.equal(fresh.status, 503);
      assert.equal(fresh.json?.error?.code, -32003);
      // Readiness does not follow the store: local sessions still serve.
      assert.equal(await readyz(a), 200);
      assert.equal(await readyz(b), 200);
      const down = await storeStatus(a);
      assert.equal(down.healthy, false);
      assert.ok(down.degraded >= 1, `degraded requests counted (${down.degraded})`);

      await redis.restart(); // comes back empty (no persistence)
      gate.resume();
      // a re-publishes the session it holds as soon as the store is back …
      await waitFor(async () => (await storeStatus(a)).republished >= 1, 30_000, "republish");
      await waitFor(async () => (await storeStatus(b)).healthy, 30_000, "b to see Redis back");
      // … so b restores it, with no proxy restart and no request to a first.
      const restored = await post(b.url, list, id);
      assert.equal(restored.status, 200);
      assert.ok(restored.json?.result, "b answered tools/list");
      assert.equal((await storeStatus(b)).restored, 1);
      assert.equal((await post(a.url, list, id)).status, 200);
      assert.equal((await post(b.url, initialize)).status, 200, "new sessions work again");
    } finally {
      await Promise.all(replicas.map((r) => r.proc.stop(2000)));
      await gate.stop();
      await backend.stop();
      await redis.stop();
      await Deno.remove(path.replace(/\/[^/]+$/, ""), { recursive: true }).catch(() => {});
    }
  },
});

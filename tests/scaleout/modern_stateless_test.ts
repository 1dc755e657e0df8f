/**
 * MCP 2026-07-28 clients across two real proxy processes (`main.ts --mode=proxy`,
 * `sessionStorage.provider: redis`) sharing a real redis-server, in front of a Streamable HTTP
 * test backend: every request is served by whichever replica it reaches, with no session id and
 * no session in the store; with Redis stopped both replicas still serve modern requests, while a
 * legacy `initialize` (which needs the store) gets the store outage's 503 as before.
 */
import assert from "node:assert/strict";
import type { VmcpConfigInput } from "../../crds/vmcp_config.ts";
import { ClientV2, StreamableHTTPClientTransportV2 } from "../../core/sdk.ts";
import { serveHttpBackend } from "../fixtures/mod.ts";
import { startRedis } from "../harness/redis.ts";
import { waitFor } from "../proxy/helpers.ts";
import { type Replica, startReplica, writeConfig } from "./replicas.ts";

const V = "2026-07-28";
const PV = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";

let nextId = 1;

interface Answer {
  status: number;
  sessionId: string | null;
  json: {
    result?: Record<string, unknown>;
    error?: { code: number; message: string; data?: unknown };
  };
}

/** One raw 2026-07-28 request (envelope + standard headers), answered as JSON. */
async function modern(
  url: string,
  method: string,
  params: Record<string, unknown> = {},
): Promise<Answer> {
  const name = params.name as string | undefined;
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": V,
      "mcp-method": method,
      ...(name !== undefined ? { "mcp-name": name } : {}),
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: nextId++,
      method,
      params: { ...params, _meta: { [PV]: V, [CAPS]: {} } },
    }),
  });
  const text = await res.text();
  const data = text.split("\n").find((l) => l.startsWith("data:"))?.slice(5) ?? text;
  return {
    status: res.status,
    sessionId: res.headers.get("mcp-session-id"),
    json: JSON.parse(data),
  };
}

/** A v2 client pinned to 2026-07-28, on one replica (a transport per replica). */
async function pinnedClient(r: Replica) {
  const sessionIds: (string | null)[] = [];
  const client = new ClientV2({ name: `modern-${r.name}`, version: "1.0.0" }, {
    versionNegotiation: { mode: { pin: V } },
  });
  await client.connect(
    new StreamableHTTPClientTransportV2(new URL(r.url), {
      fetch: async (u, init) => {
        const res = await fetch(u, init);
        sessionIds.push(res.headers.get("mcp-session-id"));
        return res;
      },
    }),
  );
  return { client, sessionIds };
}

interface StoreStatus {
  provider: string;
  healthy: boolean;
  created: number;
  restored: number;
}

async function storeStatus(r: Replica): Promise<StoreStatus> {
  const res = await fetch(`${r.origin}/status`);
  return (await res.json()).sessionStore;
}

async function legacyInitialize(url: string): Promise<number> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "legacy", version: "1" },
      },
    }),
  });
  await res.body?.cancel();
  return res.status;
}

Deno.test({
  name:
    "2026-07-28 requests alternate between two replicas with no session, and keep working on both with Redis stopped (a legacy initialize gets 503 then)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const redis = await startRedis();
    const backend = await serveHttpBackend({ name: "b" });
    const path = await writeConfig({
      name: "modern-scaleout",
      groupRef: { name: "g" },
      incomingAuth: { type: "anonymous" },
      sessionStorage: {
        provider: "redis",
        address: `127.0.0.1:${redis.port}`,
        keyPrefix: `vmcp:modern:${crypto.randomUUID().slice(0, 8)}:`,
      },
      backends: [{ name: "b", transport: "streamable-http", url: backend.url }],
    } as VmcpConfigInput);
    const replicas: Replica[] = [];
    const clients: { close(): Promise<void> }[] = [];
    try {
      replicas.push(...await Promise.all([startReplica("a", path), startReplica("b", path)]));
      const [a, b] = replicas as [Replica, Replica];

      for (const r of [a, b]) {
        const d = await modern(r.url, "server/discover");
        assert.equal(d.status, 200, JSON.stringify(d.json));
        assert.deepEqual(d.json.result?.supportedVersions, [V]);
        assert.equal(d.sessionId, null);
      }
      const list = await modern(a.url, "tools/list");
      const names = (list.json.result?.tools as { name: string }[]).map((t) => t.name);
      const echo = names.find((n) => n.endsWith("echo"));
      assert.ok(echo, names.join(","));

      /** Calls echo alternately on a and b (raw), and lists tools on both. */
      const round = async (tag: string) => {
        for (let i = 0; i < 4; i++) {
          const r = i % 2 === 0 ? a : b;
          const msg = `${tag} ${i} via ${r.name}`;
          const ans = await modern(r.url, "tools/call", {
            name: echo,
            arguments: { message: msg },
          });
          assert.equal(ans.status, 200, JSON.stringify(ans.json));
          assert.equal(ans.sessionId, null);
          assert.equal(ans.json.error, undefined, JSON.stringify(ans.json.error));
          assert.equal(ans.json.result?.resultType, "complete");
          assert.match(JSON.stringify(ans.json.result?.content), new RegExp(msg));
        }
        for (const r of [a, b]) {
          const l = await modern(r.url, "tools/list");
          assert.equal(l.status, 200);
          assert.equal(l.sessionId, null);
          assert.ok((l.json.result?.tools as unknown[]).length >= names.length);
        }
      };

      await round("up");
      // The v2 SDK client, pinned to 2026-07-28, one per replica.
      const pinned = [await pinnedClient(a), await pinnedClient(b)];
      clients.push(...pinned.map((p) => p.client));
      for (const [i, p] of pinned.entries()) {
        const r = await p.client.callTool({ name: echo, arguments: { message: `sdk ${i}` } });
        assert.match(JSON.stringify(r.content), new RegExp(`sdk ${i}`));
        assert.ok((await p.client.listTools()).tools.some((t) => t.name === echo));
        assert.equal(p.client.getNegotiatedProtocolVersion(), V);
      }
      for (const r of [a, b]) {
        const s = await storeStatus(r);
        assert.equal(s.provider, "redis");
        assert.equal(s.created, 0, "no session was created for a modern client");
      }
      // Each call ran exactly once on the backend.
      assert.equal(backend.state.calls.filter((c) => c.tool === "echo").length, 6);

      await redis.stop();
      for (const r of [a, b]) {
        await waitFor(async () => !(await storeStatus(r)).healthy, 30_000, `${r.name}: Redis down`);
      }
      await round("down");
      for (const [i, p] of pinned.entries()) {
        const r = await p.client.callTool({ name: echo, arguments: { message: `sdk down ${i}` } });
        assert.match(JSON.stringify(r.content), new RegExp(`sdk down ${i}`));
      }
      for (const p of pinned) assert.ok(p.sessionIds.every((s) => s === null), "no session ids");
      assert.equal(backend.state.calls.filter((c) => c.tool === "echo").length, 12);
      // For contrast: a legacy client needs the store for a new session.
      assert.equal(await legacyInitialize(a.url), 503);
    } finally {
      for (const c of clients) await c.close().catch(() => {});
      await Promise.all(replicas.map((r) => r.proc.stop(5_000)));
      await backend.stop();
      await redis.stop();
    }
  },
});

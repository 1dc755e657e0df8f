/**
 * Scale-out with real parts: two `main.ts --mode=proxy` processes sharing a real redis-server
 * (`sessionStorage.provider: redis`), behind the round-robin balancer (every request of one
 * MCP session goes to the other replica), one real HTTP backend, incoming OIDC auth with
 * tokens of a real (loopback) issuer, and an SDK client.
 */
import assert from "node:assert/strict";
import type { VmcpConfigInput } from "../../crds/vmcp_config.ts";
import {
  Client,
  StreamableHTTPClientTransport,
  ToolListChangedNotificationSchema,
} from "../../core/sdk.ts";
import { createBackendFetch } from "../../core/http_client.ts";
import { startBalancer } from "../fixtures/balancer.ts";
import { serveHttpBackend } from "../fixtures/mod.ts";
import { type OidcIssuer, startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { getTestRedis } from "../harness/redis.ts";
import { waitFor } from "../proxy/helpers.ts";
import { killReplica, type Replica, startReplica, writeConfig } from "./replicas.ts";

const redis = await getTestRedis();

function scaleoutConfig(
  backendUrl: string,
  issuer: string,
  keyPrefix: string,
): VmcpConfigInput {
  return {
    name: "scaleout",
    groupRef: { name: "g" },
    incomingAuth: {
      type: "oidc",
      oidcConfig: { type: "inline", inline: { issuer, audience: "vmcp" } },
    },
    sessionStorage: {
      provider: "redis",
      address: `127.0.0.1:${redis.port}`,
      keyPrefix,
      ttl: "10m",
      ...(redis.password ? { passwordEnv: "VMCP_TEST_REDIS_PASSWORD" } : {}),
    },
    backends: [{ name: "b", transport: "streamable-http", url: backendUrl }],
  } as VmcpConfigInput;
}

interface World {
  issuer: OidcIssuer;
  backend: Awaited<ReturnType<typeof serveHttpBackend>>;
  replicas: Replica[];
  balancer: Awaited<ReturnType<typeof startBalancer>>;
  close(): Promise<void>;
}

async function world(): Promise<World> {
  const issuer = await startOidcIssuer();
  const backend = await serveHttpBackend({ name: "b" });
  const prefix = `vmcp:scaleout:${crypto.randomUUID().slice(0, 8)}:`;
  const path = await writeConfig(scaleoutConfig(backend.url, issuer.issuer, prefix));
  const env: Record<string, string> = redis.password
    ? { VMCP_TEST_REDIS_PASSWORD: redis.password }
    : {};
  const replicas = await Promise.all([
    startReplica("replica-a", path, { env }),
    startReplica("replica-b", path, { env }),
  ]);
  const balancer = await startBalancer(replicas.map((r) => r.origin));
  return {
    issuer,
    backend,
    replicas,
    balancer,
    close: async () => {
      await balancer.stop();
      await Promise.all(replicas.map((r) => r.proc.stop(2000)));
      await backend.stop();
      await issuer.stop();
      await Deno.remove(path.replace(/\/[^/]+$/, ""), { recursive: true }).catch(() => {});
    },
  };
}

async function sdkClient(url: string, token: string) {
  const client = new Client({ name: "scaleout-client", version: "1.0.0" }, {});
  const base = createBackendFetch();
  const streams = { targets: [] as string[] };
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    // Counts the GET streams the client opened (the first one, then reconnects).
    fetch: (async (input: string | URL, init?: RequestInit) => {
      const res = await base(input, init);
      if (init?.method === "GET" && res.status === 200) {
        streams.targets.push(res.headers.get("x-balancer-target") ?? "");
      }
      return res;
    }) as typeof fetch,
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return {
    client,
    transport,
    streams,
    close: async () => {
      await transport.terminateSession().catch(() => {});
      await client.close();
    },
  };
}

/** A raw JSON-RPC POST (status + parsed body). */
async function rpc(
  url: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<{ status: number; json: { error?: { code: number; message: string } } | undefined }> {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-06-18",
      ...headers,
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(
      text.startsWith("event:") || text.startsWith("data:")
        ? text.split("\n").find((l) => l.startsWith("data:"))!.slice(5)
        : text,
    );
  } catch {
    json = undefined;
  }
  return { status: res.status, json };
}

/** Opens a session on `url` with a raw initialize; returns its id. */
async function rawInitialize(url: string, token: string): Promise<string> {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "raw", version: "1" },
      },
    }),
  });
  await res.body?.cancel();
  assert.equal(res.status, 200);
  const id = res.headers.get("mcp-session-id");
  assert.ok(id, "initialize answered a session id");
  const done = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      authorization: `Bearer ${token}`,
      "mcp-session-id": id,
      "mcp-protocol-version": "2025-06-18",
    },
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  await done.body?.cancel();
  return id;
}

Deno.test({
  name:
    "one SDK session alternating two real replicas makes 200 calls with no error, hears list_changed, survives a replica being killed with every call executed exactly once, and hears list_changed from the survivor",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const w = await world();
    const token = await w.issuer.sign({ sub: "alice" });
    const c = await sdkClient(`${w.balancer.url}/mcp`, token);
    // A second session, straight on the replica that survives: it hears that replica's
    // list_changed, i.e. tells the test when the survivor's lists show a change.
    const observer = await sdkClient(w.replicas[1]!.url, token);
    try {
      let observed = 0;
      observer.client.setNotificationHandler(
        ToolListChangedNotificationSchema,
        () => void observed++,
      );
      await waitFor(() => observer.streams.targets.length > 0, 30_000, "the observer's GET stream");
      let listChanged = 0;
      c.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void listChanged++);
      const tools = await c.client.listTools();
      const counter = tools.tools.find((t) => t.name.endsWith("counter"))!.name;
      const counts: number[] = [];
      const errors: string[] = [];
      let killedAt = -1;
      let releaseGets = () => {};
      for (let i = 0; i < 200; i++) {
        if (i === 60) {
          // A backend change while calls alternate: each replica hears it on its own backend
          // connection; the one holding the client's GET stream tells the client.
          await w.backend.state.addTool({
            name: "late_tool",
            handler: () => ({ content: [{ type: "text", text: "late" }] }),
          });
          await waitFor(() => listChanged >= 1, 30_000, "list_changed at the client");
        }
        if (i === 100) {
          killedAt = i;
          // A GET stream reconnecting from now on waits in the balancer (released below).
          releaseGets = w.balancer.holdGets();
          await killReplica(w.replicas[0]!); // the session continues on the other replica
        }
        try {
          const res = await c.client.callTool({ name: counter, arguments: {} });
          const structured = res.structuredContent as { count: number } | undefined;
          counts.push(structured?.count ?? Number((res.content as { text: string }[])[0]!.text));
        } catch (err) {
          errors.push(`call ${i}: ${(err as Error).message}`);
        }
      }
      assert.deepEqual(errors, [], "no call failed");
      // Exactly once: the backend executed 200 calls, and each answer is a distinct count.
      assert.equal(w.backend.state.count, 200);
      assert.equal(
        w.backend.state.calls.filter((x) => x.tool === "counter").length,
        200,
      );
      assert.deepEqual(counts, Array.from({ length: 200 }, (_, i) => i + 1));
      assert.equal(killedAt, 100);
      const [a, b] = w.replicas.map((r) => w.balancer.counts.get(r.origin) ?? 0);
      assert.ok(a! >= 40 && b! >= 100, `both replicas served the session (a=${a}, b=${b})`);
      const after = await c.client.listTools();
      assert.ok(after.tools.some((t) => t.name.endsWith("late_tool")), "the survivor lists it");

      // The GET stream broke with the killed replica (if it was there) and the SDK client
      // reconnects it through the balancer to the survivor, about a second later; the balancer
      // holds that reconnect until the survivor's lists show the change, so the change is made
      // in that gap for certain. It is not lost: the survivor keeps it for the stream and sends
      // it on reconnect (in place of an older list_changed it kept, e.g. its reminder from
      // restoring the session: never one that announces less ahead of it).
      const seen = listChanged;
      const observedBefore = observed;
      await w.backend.state.addTool({
        name: "gap_tool",
        handler: () => ({ content: [{ type: "text", text: "gap" }] }),
      });
      await waitFor(() => observed > observedBefore, 30_000, "list_changed at the survivor");
      releaseGets();
      await waitFor(() => listChanged > seen, 30_000, "list_changed after the kill");
      const survivor = w.replicas[1]!.origin;
      await waitFor(() => c.streams.targets.at(-1) === survivor, 30_000, "the GET stream on B");
      const listed = await c.client.listTools();
      assert.ok(listed.tools.some((t) => t.name.endsWith("gap_tool")), "the survivor lists it");
      // And once the stream is on the survivor, a further change is delivered live (the kept
      // tools/list_changed, one at most, was the one heard above).
      const live = listChanged;
      await w.backend.state.addTool({
        name: "live_tool",
        handler: () => ({ content: [{ type: "text", text: "live" }] }),
      });
      await waitFor(() => listChanged > live, 30_000, "list_changed from the survivor");
    } finally {
      await observer.close();
      await c.close();
      await w.close();
    }
  },
});

Deno.test({
  name:
    "another identity presenting a session id is refused with 403 on either replica, the owner is served by both, and a DELETE on one replica ends the session on the other",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const w = await world();
    try {
      const [a, b] = w.replicas as [Replica, Replica];
      const alice = await w.issuer.sign({ sub: "alice" });
      const mallory = await w.issuer.sign({ sub: "mallory" });
      const id = await rawInitialize(a.url, alice);
      const list = { jsonrpc: "2.0", id: 2, method: "tools/list" };
      const as = (token: string) => ({ authorization: `Bearer ${token}`, "mcp-session-id": id });
      // b never held the session: the binding is checked on the restore path, before restoring.
      const foreignB = await rpc(b.url, list, as(mallory));
      assert.equal(foreignB.status, 403);
      assert.match(foreignB.json?.error?.message ?? "", /another identity/);
      // a holds it locally: same answer.
      assert.equal((await rpc(a.url, list, as(mallory))).status, 403);
      // The owner is served by both (b restores it from Redis).
      assert.equal((await rpc(b.url, list, as(alice))).status, 200);
      assert.equal((await rpc(a.url, list, as(alice))).status, 200);
      // Still refused once b holds it.
      assert.equal((await rpc(b.url, list, as(mallory))).status, 403);
      const log = await Deno.readTextFile(b.logPath);
      assert.match(log, /refused a session presented by another identity/);
      assert.ok(!log.includes(mallory) && !log.includes(alice), "no token is logged");
      // DELETE on b: a (which holds it too) answers 404 afterwards and drops its copy.
      const del = await fetch(b.url, { method: "DELETE", headers: as(alice) });
      await del.body?.cancel();
      assert.equal(del.status, 200);
      assert.equal((await rpc(a.url, list, as(alice))).status, 404);
      assert.equal((await rpc(b.url, list, as(alice))).status, 404);
    } finally {
      await w.close();
    }
  },
});

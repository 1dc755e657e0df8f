import assert from "node:assert/strict";
import {
  CallToolResultSchema,
  Client,
  LoggingMessageNotificationSchema,
  Server,
  StreamableHTTPClientTransport,
  WebStandardStreamableHTTPServerTransport,
} from "../../core/sdk.ts";
import { createBackendFetch } from "../../core/http_client.ts";
import { startBalancer } from "../../tests/fixtures/balancer.ts";
import { MemorySessionStore } from "./memory_store.ts";
import { replayInitialize, restoreTransport, SessionRestoreError } from "./restore_transport.ts";
import { startTestReplica } from "./_test_replica.ts";

type Who = {
  replica: string;
  session: string;
  clientInfo: { name: string; version: string };
  clientCapabilities: Record<string, unknown>;
};

async function whoami(client: Client, tool = "whoami"): Promise<Who> {
  const res = await client.request(
    { method: "tools/call", params: { name: tool, arguments: {} } },
    CallToolResultSchema,
  );
  return JSON.parse((res.content[0] as { text: string }).text);
}

const CAPS = { roots: { listChanged: true }, sampling: {} };

Deno.test("a real SDK client keeps its session when the balancer moves it to a replica that never saw it", async () => {
  const store = new MemorySessionStore();
  const a = startTestReplica({ name: "a", store });
  const b = startTestReplica({ name: "b", store });
  const lb = await startBalancer([a.origin]);
  const client = new Client({ name: "restore-test", version: "4.5.6" }, { capabilities: CAPS });
  const logs: string[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    logs.push(String(n.params.data));
  });
  const transport = new StreamableHTTPClientTransport(new URL(`${lb.url}/mcp`), {
    fetch: createBackendFetch(),
  });
  try {
    await client.connect(transport);
    const first = await whoami(client);
    assert.equal(first.replica, "a");
    assert.equal(first.session, transport.sessionId);

    lb.setTargets([b.origin]);
    const second = await whoami(client);
    assert.equal(second.replica, "b");
    assert.equal(second.session, transport.sessionId);
    assert.deepEqual(second.clientInfo, { name: "restore-test", version: "4.5.6" });
    assert.deepEqual(second.clientCapabilities, CAPS);
    assert.equal(b.stats.restores, 1);
    assert.equal(b.stats.created, 0);

    const tools = await client.listTools();
    assert.deepEqual(tools.tools.map((t) => t.name), ["whoami", "notify"]);
    assert.equal((await whoami(client, "notify")).replica, "b");
    assert.deepEqual(
      logs,
      ["hello from b"],
      "a notification on the call's stream reaches the client",
    );
    assert.equal(b.stats.restores, 1, "restored once, then served from the local cache");
  } finally {
    await transport.terminateSession();
    await client.close();
    await lb.stop();
    await a.stop();
    await b.stop();
  }
});

Deno.test("a session deleted through one replica is refused by the replica that still holds it", async () => {
  const store = new MemorySessionStore();
  const a = startTestReplica({ name: "a", store });
  const b = startTestReplica({ name: "b", store });
  const lb = await startBalancer([a.origin]);
  const client = new Client({ name: "t", version: "1" });
  const transport = new StreamableHTTPClientTransport(new URL(`${lb.url}/mcp`), {
    fetch: createBackendFetch(),
  });
  try {
    await client.connect(transport);
    await whoami(client);
    const id = transport.sessionId!;
    assert.ok(a.local.has(id));
    lb.setTargets([b.origin]);
    await transport.terminateSession();
    assert.equal(await store.get(id), "terminated");

    const res = await fetch(a.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": id,
        "mcp-protocol-version": "2025-11-25",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    await res.body?.cancel();
    assert.equal(res.status, 404);
    assert.equal(a.local.has(id), false, "the stale local copy was evicted");
  } finally {
    await client.close();
    await lb.stop();
    await a.stop();
    await b.stop();
  }
});

Deno.test("a session restored by one identity is refused to another with 403", async () => {
  const store = new MemorySessionStore();
  const a = startTestReplica({ name: "a", store });
  const b = startTestReplica({ name: "b", store });
  try {
    const init = await fetch(a.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "x-test-identity": "https://issuer|alice",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: {
          protocolVersion: "2025-06-18",
          capabilities: {},
          clientInfo: { name: "c", version: "1" },
        },
      }),
    });
    await init.body?.cancel();
    const id = init.headers.get("mcp-session-id")!;
    assert.ok(id);
    const call = (who: string | undefined) =>
      fetch(b.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-session-id": id,
          ...(who ? { "x-test-identity": who } : {}),
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
    for (const who of ["https://issuer|mallory", undefined]) {
      const res = await call(who);
      assert.equal(res.status, 403);
      assert.equal(
        (await res.json()).error.message,
        "Forbidden: this session belongs to another identity",
      );
    }
    assert.equal(b.stats.restores, 0, "nothing is restored for the wrong identity");
    const ok = await call("https://issuer|alice");
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /whoami/);
    assert.equal(b.stats.restores, 1);
  } finally {
    await a.stop();
    await b.stop();
  }
});

Deno.test("restoreTransport keeps the stored protocol version and client info", async () => {
  const server = new Server({ name: "s", version: "1" }, { capabilities: {} });
  const { transport, protocolVersion } = await restoreTransport({
    session: {
      id: "sess-1",
      protocolVersion: "2025-03-26",
      clientInfo: { name: "old-client", version: "0.1" },
      clientCapabilities: { roots: { listChanged: true } },
    },
    server,
  });
  try {
    assert.equal(protocolVersion, "2025-03-26");
    assert.equal(transport.sessionId, "sess-1");
    assert.deepEqual(server.getClientVersion(), { name: "old-client", version: "0.1" });
    assert.deepEqual(server.getClientCapabilities(), { roots: { listChanged: true } });
    const wrong = await transport.handleRequest(
      new Request("http://127.0.0.1/mcp", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-session-id": "other",
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
      }),
    );
    await wrong.body?.cancel();
    assert.equal(wrong.status, 404, "another session id is still refused");
  } finally {
    await server.close();
  }
});

Deno.test("replayInitialize refuses a transport that generates another session id", async () => {
  const server = new Server({ name: "s", version: "1" }, { capabilities: {} });
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: () => "not-the-one",
  });
  await server.connect(transport);
  try {
    await assert.rejects(
      replayInitialize(transport, {
        id: "wanted",
        protocolVersion: "2025-11-25",
        clientInfo: { name: "c", version: "1" },
        clientCapabilities: {},
      }),
      (err: unknown) =>
        err instanceof SessionRestoreError && /sessionIdGenerator/.test(err.message),
    );
  } finally {
    await server.close();
  }
});

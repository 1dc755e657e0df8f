/**
 * The lean request path of `PooledStreamableHTTPClientTransport` against a backend that
 * answers in every way the Streamable HTTP spec allows (and some it does not), with the SDK
 * `Client` on our side: each case is also sent through the SDK's own `request` path, and both
 * must agree. The backend is a small raw server so that each odd answer can be produced on
 * purpose; the usual answers are also covered against real SDK backends in tests/proxy.
 */
import assert from "node:assert/strict";
import { Http1Pool } from "../../core/http1.ts";
import { createBackendFetch } from "../../core/http_client.ts";
import {
  Client,
  ErrorCode,
  type JSONRPCRequest,
  McpError,
  StreamableHTTPError,
} from "../../core/sdk.ts";
import { AnyResult, BackendConnection } from "./connection.ts";
import { isPlainAnswer, PooledStreamableHTTPClientTransport } from "./pooled_transport.ts";
import { createLogger } from "../../core/log.ts";
import { serveHttpBackend } from "../../tests/fixtures/serve_http.ts";

type Msg = Record<string, unknown>;
const enc = new TextEncoder();

/** A raw Streamable HTTP server: initialize, a GET stream, and tools/call by tool name. */
function rawServer() {
  const received: Msg[] = [];
  const sessionIds: string[] = [];
  let stream: ReadableStreamDefaultController<Uint8Array> | undefined;
  const pushOnGet = (m: Msg) => stream?.enqueue(enc.encode(`data: ${JSON.stringify(m)}\n\n`));
  const json = (body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), {
      headers: { "content-type": "application/json", ...headers },
    });
  const answer = (id: unknown, text: string) => ({
    result: { content: [{ type: "text", text }] },
    jsonrpc: "2.0",
    id,
  });
  const held: ReadableStreamDefaultController<Uint8Array>[] = [];
  const abort = new AbortController();
  let hungAborted: () => void = () => {};
  const hungDone = new Promise<void>((r) => hungAborted = r);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: abort.signal, onListen: () => {} },
    async (req) => {
      const path = new URL(req.url).pathname;
      if (req.method === "GET") {
        return new Response(
          new ReadableStream({ start: (c) => void (stream = c) }),
          { headers: { "content-type": "text/event-stream" } },
        );
      }
      if (req.method === "DELETE") return new Response(null, { status: 200 });
      const m = await req.json() as Msg;
      received.push(m);
      sessionIds.push(req.headers.get("mcp-session-id") ?? "");
      if (m.method === "initialize") {
        return json({
          result: {
            protocolVersion: (m.params as Msg).protocolVersion,
            capabilities: { tools: {}, logging: {} },
            serverInfo: { name: "raw", version: "1" },
          },
          jsonrpc: "2.0",
          id: m.id,
        }, { "mcp-session-id": "s1" });
      }
      if (!("id" in m)) return new Response(null, { status: 202 });
      const tool = (m.params as Msg).name;
      if (path === "/moved") return json(answer(m.id, "after redirect"));
      if (path === "/moved-hang") {
        req.signal.addEventListener("abort", () => hungAborted());
        return await new Promise<Response>(() => {});
      }
      switch (tool) {
        case "json":
          return json(answer(m.id, "plain"));
        case "error":
          return json({ jsonrpc: "2.0", id: m.id, error: { code: -32602, message: "bad" } });
        case "batch":
          return json([
            { jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: 1 } },
            answer(m.id, "batched"),
          ]);
        case "extra_key":
          return json({ ...answer(m.id, "x"), extra: true });
        case "sse":
          return new Response(
            `event: message\ndata: ${
              JSON.stringify({
                jsonrpc: "2.0",
                method: "notifications/message",
                params: { level: "info", data: "from sse" },
              })
            }\n\nevent: message\ndata: ${JSON.stringify(answer(m.id, "streamed"))}\n\n`,
            { headers: { "content-type": "text/event-stream" } },
          );
        case "accepted":
          setTimeout(() => pushOnGet(answer(m.id, "on the GET stream")), 20);
          return new Response(null, { status: 202 });
        case "get_note": // a notification on the GET stream, then the answer
          pushOnGet({
            jsonrpc: "2.0",
            method: "notifications/message",
            params: { level: "info", data: "from GET" },
          });
          await new Promise((r) => setTimeout(r, 20));
          return json(answer(m.id, "plain"));
        case "status500":
          return new Response("boom", { status: 500 });
        case "redirect":
          return new Response(null, { status: 307, headers: { location: "/moved" } });
        case "redirect_hang":
          return new Response(null, { status: 307, headers: { location: "/moved-hang" } });
        case "see_other":
          return new Response(null, { status: 303, headers: { location: "/moved" } });
        case "text":
          return new Response("hello", { headers: { "content-type": "text/plain" } });
        case "new_session":
          return json(answer(m.id, "moved session"), { "mcp-session-id": "s2" });
        case "slow_body": {
          const body = new ReadableStream<Uint8Array>({
            start(c) {
              c.enqueue(enc.encode(`{"jsonrpc":"2.0","id":${m.id},"result":{"a":"`));
              held.push(c);
            },
          });
          return new Response(body, { headers: { "content-type": "application/json" } });
        }
        case "hang":
          req.signal.addEventListener("abort", () => hungAborted());
          return await new Promise<Response>(() => {});
        default:
          return json({ jsonrpc: "2.0", id: m.id, error: { code: -32601, message: "unknown" } });
      }
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/mcp`,
    received,
    sessionIds,
    hungDone,
    async stop() {
      for (const c of [...held, ...(stream ? [stream] : [])]) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      abort.abort();
      await server.finished;
    },
  };
}

async function connect(url: string) {
  const pool = new Http1Pool();
  const transport = new PooledStreamableHTTPClientTransport(new URL(url), {
    pool,
    fetch: createBackendFetch({ http1: pool }),
    getEnv: () => undefined,
  });
  const client = new Client({ name: "t", version: "1" }, { capabilities: {} });
  const notes: Msg[] = [];
  client.fallbackNotificationHandler = (n) => {
    notes.push(n as Msg);
    return Promise.resolve();
  };
  await client.connect(transport);
  assert.ok(transport.leanReady(), "the lean path applies to a plain http: backend once connected");
  const lean = (name: string, signal = new AbortController().signal) => {
    const id = (client as unknown as { _requestMessageId: number })._requestMessageId++;
    const req: JSONRPCRequest = { jsonrpc: "2.0", id, method: "tools/call", params: { name } };
    return transport.call(req, signal);
  };
  const sdk = (name: string) =>
    client.request({ method: "tools/call", params: { name } }, AnyResult, { timeout: 30_000 });
  return { client, transport, notes, lean, sdk };
}

/** Resolves once `srv` has received `n` calls of tool `name`. */
async function received(srv: { received: Msg[] }, name: string, n = 1): Promise<void> {
  while (srv.received.filter((m) => (m.params as Msg)?.name === name).length < n) {
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A BackendConnection (no owner session) to the Streamable HTTP backend at `url`. */
function connection(url: string): BackendConnection {
  return new BackendConnection(
    { name: "raw", transport: "streamable-http", url } as never,
    undefined,
    { onListChanged() {}, onResourceUpdated() {}, onClosed() {} },
    createLogger({ level: "error" }),
  );
}

Deno.test("isPlainAnswer accepts exactly a response to the id as the SDK schema would", () => {
  assert.ok(isPlainAnswer({ jsonrpc: "2.0", id: 3, result: {} }, 3));
  assert.ok(isPlainAnswer({ jsonrpc: "2.0", id: 3, result: { _meta: { a: 1 } } }, 3));
  assert.ok(isPlainAnswer({ jsonrpc: "2.0", id: 3, error: { code: -1, message: "m" } }, 3));
  assert.ok(!isPlainAnswer({ jsonrpc: "2.0", id: 4, result: {} }, 3), "another id");
  assert.ok(!isPlainAnswer({ jsonrpc: "1.0", id: 3, result: {} }, 3), "version");
  assert.ok(!isPlainAnswer({ jsonrpc: "2.0", id: 3, result: [] }, 3), "array result");
  assert.ok(!isPlainAnswer({ jsonrpc: "2.0", id: 3, result: { _meta: 1 } }, 3), "_meta");
  assert.ok(!isPlainAnswer({ jsonrpc: "2.0", id: 3, result: {}, x: 1 }, 3), "extra key");
  assert.ok(!isPlainAnswer({ jsonrpc: "2.0", id: 3, result: {}, error: {} }, 3), "both");
  assert.ok(!isPlainAnswer({ jsonrpc: "2.0", id: 3, error: { code: 1.5, message: "m" } }, 3));
  assert.ok(!isPlainAnswer({ jsonrpc: "2.0", id: 3, error: { code: 1 } }, 3), "no message");
  assert.ok(!isPlainAnswer([{ jsonrpc: "2.0", id: 3, result: {} }], 3), "batch");
});

Deno.test("lean path: every kind of answer agrees with the SDK request path", async () => {
  const srv = rawServer();
  const { client, transport, notes, lean, sdk } = await connect(srv.url);
  try {
    // Plain results, an error answer, a batch, an SSE stream, a 202 answered on the GET stream,
    // a same-origin redirect: lean answer and SDK result are the same.
    const cases: [string, string][] = [
      ["json", "plain"],
      ["batch", "batched"],
      ["sse", "streamed"],
      ["accepted", "on the GET stream"],
      ["redirect", "after redirect"],
    ];
    for (const [tool, text] of cases) {
      const viaSdk = await sdk(tool);
      const viaLean = await lean(tool);
      assert.ok("result" in viaLean, tool);
      assert.deepEqual(viaLean.result, viaSdk, tool);
      assert.deepEqual(viaSdk, { content: [{ type: "text", text }] }, tool);
    }
    // Messages beside the response reach the SDK client (batch and SSE, both paths).
    assert.deepEqual(notes.filter((n) => n.method === "notifications/message").length, 4);

    const err = await lean("error");
    assert.deepEqual(err, {
      jsonrpc: "2.0",
      id: (err as { id: number }).id,
      error: { code: -32602, message: "bad" },
    });
    await assert.rejects(sdk("error"), (e) => e instanceof McpError && /bad/.test(e.message));

    // The same errors as the SDK: HTTP status, content type, schema.
    for (
      const [tool, status, text] of [
        ["status500", 500, "Error POSTing to endpoint: boom"],
        ["text", -1, "Unexpected content type: text/plain"],
      ] as const
    ) {
      const a = await sdk(tool).catch((e) => e);
      const b = await lean(tool).catch((e) => e);
      assert.ok(a instanceof StreamableHTTPError, String(a));
      assert.ok(b instanceof StreamableHTTPError, String(b));
      assert.deepEqual([b.code, b.message], [a.code, a.message]);
      assert.deepEqual(b.code, status);
      assert.ok(b.message.includes(text), b.message);
    }
    const a = await sdk("extra_key").catch((e) => e);
    const b = await lean("extra_key").catch((e) => e);
    assert.deepEqual(b.name, a.name, "an answer the SDK schema refuses is refused the same way");

    // A new session id in an answer is taken up for later requests, as the SDK does.
    await lean("new_session");
    assert.deepEqual(transport.sessionId, "s2");
    await lean("json");
    assert.deepEqual(srv.sessionIds.at(-1), "s2");
  } finally {
    await client.close();
    await srv.stop();
  }
});

Deno.test("lean path: abort closes the request's socket; close rejects waiters", async () => {
  const srv = rawServer();
  const { client, transport, lean } = await connect(srv.url);
  try {
    const ac = new AbortController();
    const pending = lean("hang", ac.signal);
    await received(srv, "hang"); // the backend holds it: now abort
    ac.abort(new Error("stop"));
    await assert.rejects(pending, /stop/);
    await srv.hungDone; // the backend saw the request go away

    const waiting = lean("hang");
    await received(srv, "hang", 2);
    const closed = transport.close();
    const err = await waiting.catch((e) => e);
    await closed;
    assert.ok(err instanceof McpError, String(err));
    assert.deepEqual(err.code, ErrorCode.ConnectionClosed);
    assert.deepEqual(transport.leanReady(), false);
  } finally {
    await client.close();
    await srv.stop();
  }
});

Deno.test("lean path: a close while the JSON answer is still arriving fails the call as closed", async () => {
  const srv = rawServer();
  const { client, transport, lean } = await connect(srv.url);
  try {
    const pending = lean("slow_body").catch((e) => e);
    await received(srv, "slow_body");
    await new Promise((r) => setTimeout(r, 20)); // the head and the first bytes are in
    await transport.close();
    const err = await pending;
    assert.ok(err instanceof McpError, String(err));
    assert.deepEqual(err.code, ErrorCode.ConnectionClosed);
  } finally {
    await client.close();
    await srv.stop();
  }
});

Deno.test("BackendConnection: a cancelled lean call sends notifications/cancelled", async () => {
  const srv = rawServer();
  const conn = connection(srv.url);
  try {
    await conn.connect(30_000);
    assert.deepEqual(await conn.request("tools/call", { name: "json" }, { timeoutMs: 30_000 }), {
      content: [{ type: "text", text: "plain" }],
    });
    await assert.rejects(
      conn.request("tools/call", { name: "error" }, { timeoutMs: 30_000 }),
      { name: "RpcError", code: -32602, message: "bad" }, // the backend's error, untouched
    );
    const ac = new AbortController();
    const call = conn.request("tools/call", { name: "hang" }, {
      timeoutMs: 30_000,
      signal: ac.signal,
    });
    await received(srv, "hang");
    ac.abort(new Error("client cancelled"));
    await assert.rejects(call);
    const hung = srv.received.find((m) => (m.params as Msg)?.name === "hang")!;
    for (
      let i = 0;
      i < 3000 && !srv.received.some((m) => m.method === "notifications/cancelled");
      i++
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const cancelled = srv.received.find((m) => m.method === "notifications/cancelled")!;
    assert.deepEqual((cancelled.params as Msg).requestId, hung.id);
    assert.ok(String((cancelled.params as Msg).reason).includes("client cancelled"));
  } finally {
    await conn.close();
    await srv.stop();
  }
});

Deno.test("lean path: a deadline during a followed redirect rejects the call at once", async () => {
  const srv = rawServer();
  const { client, lean } = await connect(srv.url);
  try {
    const ac = new AbortController();
    const pending = lean("redirect_hang", ac.signal);
    setTimeout(() => ac.abort(new Error("deadline")), 50);
    const settled = await Promise.race([
      pending.then(() => "answered", (e) => `rejected: ${e.message}`),
      // Generous: a call the deadline did not reject would wait for ever.
      new Promise((r) => setTimeout(() => r("still waiting"), 10_000)),
    ]);
    assert.deepEqual(settled, "rejected: deadline");
  } finally {
    await client.close();
    await srv.stop();
  }
});

Deno.test("lean path: a 303 answer to a POST is an error, as on the SDK path, and is not resent", async () => {
  const srv = rawServer();
  const { client, lean, sdk } = await connect(srv.url);
  try {
    const sent = () => srv.received.filter((m) => (m.params as Msg)?.name === "see_other").length;
    const a = await sdk("see_other").catch((e) => e);
    assert.deepEqual(sent(), 1);
    const b = await lean("see_other").catch((e) => e);
    assert.deepEqual(sent(), 2, "the lean path sent the POST once");
    assert.ok(a instanceof StreamableHTTPError, String(a));
    assert.ok(b instanceof StreamableHTTPError, String(b));
    assert.deepEqual([b.code, b.message], [a.code, a.message]);
    assert.ok(b.message.includes("not followed"), b.message);
  } finally {
    await client.close();
    await srv.stop();
  }
});

Deno.test("lean path: a call still waiting for its auth headers when the transport closes sends nothing", async () => {
  const srv = rawServer();
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => release = r);
  const pool = new Http1Pool();
  const transport = new PooledStreamableHTTPClientTransport(new URL(srv.url), {
    pool,
    fetch: createBackendFetch({ http1: pool }),
    headers: async () => {
      await gate;
      return { "x-key": "k" };
    },
    getEnv: () => undefined,
  });
  const client = new Client({ name: "t", version: "1" }, { capabilities: {} });
  try {
    await client.connect(transport);
    assert.ok(transport.leanReady());
    const id = (client as unknown as { _requestMessageId: number })._requestMessageId++;
    const pending = transport.call(
      { jsonrpc: "2.0", id, method: "tools/call", params: { name: "json" } },
      new AbortController().signal,
    ).catch((e) => e);
    await transport.close();
    release();
    const err = await pending;
    assert.ok(err instanceof McpError, String(err));
    assert.deepEqual(err.code, ErrorCode.ConnectionClosed);
    assert.deepEqual(srv.received.filter((m) => m.method === "tools/call").length, 0);
  } finally {
    release();
    await client.close();
    await srv.stop();
  }
});

Deno.test("BackendConnection: concurrent lean calls to a real SDK backend (JSON and SSE answers) each get their own answer", async () => {
  for (const jsonResponse of [true, false]) {
    const backend = await serveHttpBackend({ name: "real", jsonResponse });
    const conn = connection(backend.url);
    try {
      await conn.connect(30_000);
      const answers = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          conn.request("tools/call", {
            name: "echo",
            arguments: { message: `m${i}` },
          }, { timeoutMs: 30_000 })),
      );
      answers.forEach((a, i) =>
        assert.match(JSON.stringify(a), new RegExp(`"m${i}"`), `call ${i}`)
      );
      assert.equal(conn.busy, 0, "nothing left in flight");
    } finally {
      await conn.close();
      await backend.stop();
    }
  }
});

Deno.test("answeredRequest: a message on a request's SSE or JSON answer names that request on both paths; one on the GET stream names none", async () => {
  const srv = rawServer();
  const { client, transport, lean, sdk } = await connect(srv.url);
  const seen: [unknown, unknown][] = [];
  const inner = transport.onmessage!;
  transport.onmessage = (m) => {
    if ("method" in m) seen.push([(m.params as Msg).data, transport.answeredRequest()]);
    inner(m);
  };
  const nextId = () => (client as unknown as { _requestMessageId: number })._requestMessageId;
  try {
    for (const tool of ["sse", "batch"]) {
      const leanId = nextId();
      await lean(tool);
      const sdkId = nextId();
      await sdk(tool);
      const data = tool === "sse" ? "from sse" : 1;
      assert.deepEqual(seen.splice(0), [[data, leanId], [data, sdkId]], tool);
    }
    await lean("get_note");
    await sdk("get_note");
    assert.deepEqual(seen.splice(0), [["from GET", undefined], ["from GET", undefined]]);
  } finally {
    await client.close();
    await srv.stop();
  }
});

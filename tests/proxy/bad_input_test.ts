/** Bad client input gets the right HTTP status and JSON-RPC error; the proxy keeps serving. */
import assert from "node:assert/strict";
import { McpError } from "../../core/sdk.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { config, connect, post, proxy } from "./helpers.ts";

Deno.test("malformed JSON, missing or unknown session, oversized body and unknown names are rejected precisely", async () => {
  const web = await serveHttpBackend({ name: "web" });
  const p = await proxy(
    config({ server: { maxBodyBytes: 2048 }, backends: [{ name: "web", url: web.url }] }),
  );
  const c = await connect(p.url);
  try {
    const parse = await post(p.url, "{not json");
    assert.equal(parse.status, 400);
    assert.equal(parse.json.error?.code, -32700);

    const noSession = await post(
      p.url,
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    );
    assert.equal(noSession.status, 400);
    assert.match(noSession.json.error!.message, /Mcp-Session-Id/);

    const unknown = await post(
      p.url,
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      {
        "mcp-session-id": "no-such-session",
      },
    );
    assert.equal(unknown.status, 404);

    const big = await post(
      p.url,
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping", params: { x: "y".repeat(5000) } }),
      {
        "mcp-session-id": c.transport.sessionId!,
      },
    );
    assert.equal(big.status, 413);
    // The same without a declared length (a chunked body): counted as it streams in; a small
    // chunked body is read whole.
    const postChunked = (text: string) =>
      fetch(p.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-session-id": c.transport.sessionId!,
        },
        body: new ReadableStream({
          start(controller) {
            const bytes = new TextEncoder().encode(text);
            for (let at = 0; at < bytes.length; at += 1000) {
              controller.enqueue(bytes.slice(at, at + 1000));
            }
            controller.close();
          },
        }),
      });
    const chunked = await postChunked(
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping", params: { x: "y".repeat(5000) } }),
    );
    assert.equal(chunked.status, 413);
    await chunked.body?.cancel();
    const small = await postChunked(
      JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping", params: { x: "y".repeat(1500) } }),
    );
    assert.equal(small.status, 200);
    assert.equal((await small.json()).id, 2);

    await assert.rejects(
      c.client.callTool({ name: "nope", arguments: {} }),
      (e: unknown) =>
        e instanceof McpError && e.code === -32602 && /Unknown tool "nope"/.test(e.message),
    );
    await assert.rejects(
      c.client.getPrompt({ name: "nope" }),
      (e: unknown) =>
        e instanceof McpError && e.code === -32602 && /Unknown prompt "nope"/.test(e.message),
    );
    await assert.rejects(
      c.client.readResource({ uri: "test://nowhere/x" }),
      (e: unknown) =>
        e instanceof McpError && e.code === -32602 &&
        /Unknown resource "test:\/\/nowhere\/x"/.test(e.message),
    );
    await assert.rejects(
      c.client.listTools({ cursor: "garbage!" }),
      (e: unknown) => e instanceof McpError && e.code === -32602,
    );
    // The session still works after all that.
    const r = await c.client.callTool({ name: "web_echo", arguments: { message: "ok" } });
    assert.deepEqual(r.structuredContent, { message: "ok", backend: "web" });

    // A closed session is gone: 404.
    const id = c.transport.sessionId!;
    await c.transport.terminateSession();
    const gone = await post(
      p.url,
      JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
      {
        "mcp-session-id": id,
        "mcp-protocol-version": "2025-11-25",
      },
    );
    assert.equal(gone.status, 404);
    const health = await fetch(p.url.replace("/mcp", "/healthz"));
    assert.equal(health.status, 200);
    await health.body?.cancel();
  } finally {
    await c.close();
    await p.stop();
    await web.stop();
  }
});

Deno.test("/readyz, /status and /metrics describe the running proxy", async () => {
  const web = await serveHttpBackend({ name: "web" });
  const p = await proxy(config({ backends: [{ name: "web", url: web.url }] }));
  const c = await connect(p.url);
  try {
    await c.client.callTool({ name: "web_echo", arguments: { message: "m" } });
    const base = p.url.replace("/mcp", "");
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200);
    await ready.body?.cancel();
    const status = await (await fetch(`${base}/status`)).json();
    assert.equal(status.backends[0].name, "web");
    assert.equal(status.backends[0].status, "ready");
    assert.equal(status.backends[0].transport, "streamable-http");
    assert.ok(status.backends[0].toolCount > 5);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /vmcp_requests_total\{method="tools\/call",status="ok"\} 1/);
    assert.match(
      metrics,
      /vmcp_backend_request_duration_seconds_count\{backend="web",method="tools\/call",outcome="ok"\} 1/,
    );
    assert.match(metrics, /vmcp_active_sessions 1/);
    assert.match(metrics, /vmcp_backend_health\{backend="web"\} 1/);
  } finally {
    await c.close();
    await p.stop();
    await web.stop();
  }
});

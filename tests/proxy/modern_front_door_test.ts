/**
 * MCP 2026-07-28 requests on the proxy's one `/mcp`, as raw HTTP exchanges against a running
 * proxy in front of a real Streamable HTTP backend: `server/discover`, lists and calls served
 * without a session, the ladder's refusals (status, JSON-RPC code, `data`), removed methods,
 * notifications, an ignored `Mcp-Session-Id`, progress/log answers as SSE, and cancellation by
 * aborting the POST.
 */
import assert from "node:assert/strict";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { config, post, proxy, waitFor } from "./helpers.ts";

const V = "2026-07-28";
const PV = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";
const LOG = "io.modelcontextprotocol/logLevel";

interface Rpc {
  status: number;
  headers: Headers;
  text: string;
  json: {
    id?: unknown;
    result?: Record<string, unknown>;
    error?: { code: number; message: string; data?: Record<string, unknown> };
  };
}

let nextId = 1;

/** One modern request with the standard headers (overridable) and the envelope. */
async function modern(
  url: string,
  method: string,
  params: Record<string, unknown> = {},
  opts: { meta?: Record<string, unknown>; headers?: Record<string, string> } = {},
): Promise<Rpc> {
  const name = (params.name ?? params.uri) as string | undefined;
  const body = {
    jsonrpc: "2.0",
    id: nextId++,
    method,
    params: { ...params, _meta: { [PV]: V, [CAPS]: {}, ...opts.meta } },
  };
  return await post(url, JSON.stringify(body), {
    "mcp-protocol-version": V,
    "mcp-method": method,
    ...(name !== undefined ? { "mcp-name": name } : {}),
    ...opts.headers,
  }) as Rpc;
}

/** The JSON-RPC messages of an SSE body, in order. */
function sseMessages(text: string): Record<string, unknown>[] {
  return text.split("\n\n")
    .map((e) => e.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join(""))
    .filter((d) => d !== "")
    .map((d) => JSON.parse(d));
}

async function setup() {
  const web = await serveHttpBackend({ name: "web" });
  const p = await proxy(config({ backends: [{ name: "web", url: web.url }] }));
  return { web, p, stop: async () => (await p.stop(), await web.stop()) };
}

Deno.test("modern: server/discover answers versions, aggregated capabilities and cache hints", async () => {
  const s = await setup();
  try {
    const r = await modern(s.p.url, "server/discover");
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("mcp-session-id"), null);
    const d = r.json.result!;
    assert.deepEqual(d.supportedVersions, [V]);
    const caps = d.capabilities as Record<string, unknown>;
    assert.deepEqual(caps.tools, { listChanged: true });
    assert.ok(caps.resources && caps.prompts, JSON.stringify(caps));
    assert.equal(d.resultType, "complete");
    assert.equal(d.ttlMs, 0);
    assert.equal(d.cacheScope, "private");
    assert.deepEqual((d._meta as Record<string, unknown>)["io.modelcontextprotocol/serverInfo"], {
      name: "test-vmcp",
      version: "1.0.0",
    });
  } finally {
    await s.stop();
  }
});

Deno.test("modern: lists and calls are served without a session; a session id on them is ignored", async () => {
  const s = await setup();
  try {
    const list = await modern(s.p.url, "tools/list", {}, {
      headers: { "mcp-session-id": "not-a-session" },
    });
    assert.equal(list.status, 200);
    const names = (list.json.result!.tools as { name: string }[]).map((t) => t.name);
    assert.ok(names.includes("web_echo"), names.join(","));
    assert.equal(list.json.result!.resultType, "complete");
    assert.equal(list.json.result!.ttlMs, 0);
    assert.equal(list.json.result!.cacheScope, "private");

    const call = await modern(s.p.url, "tools/call", {
      name: "web_echo",
      arguments: { message: "hello" },
    }, { headers: { "mcp-session-id": "not-a-session" } });
    assert.equal(call.status, 200);
    assert.equal(call.headers.get("content-type"), "application/json");
    assert.deepEqual(call.json.result!.content, [{ type: "text", text: "hello" }]);
    assert.equal(call.json.result!.resultType, "complete");

    const read = await modern(s.p.url, "resources/list");
    const uri = (read.json.result!.resources as { uri: string }[])[0]!.uri;
    const got = await modern(s.p.url, "resources/read", { uri });
    assert.equal(got.status, 200, got.text);
    assert.equal(got.json.result!.cacheScope, "private");
    assert.equal(got.json.result!.ttlMs, 0);
    assert.ok(Array.isArray(got.json.result!.contents));

    const unknown = await modern(s.p.url, "tools/call", { name: "nope", arguments: {} });
    assert.equal(unknown.status, 200); // a handler's error is in-band
    assert.equal(unknown.json.error!.code, -32602);
    assert.match(unknown.json.error!.message, /Unknown tool "nope"/);
  } finally {
    await s.stop();
  }
});

Deno.test("modern: the ladder's refusals carry the SDK's status, code and data", async () => {
  const s = await setup();
  try {
    const old = await modern(s.p.url, "tools/list", {}, {
      meta: { [PV]: "2099-01-01" },
      headers: { "mcp-protocol-version": "2099-01-01" },
    });
    assert.equal(old.status, 400);
    assert.equal(old.json.error!.code, -32022);
    assert.deepEqual(old.json.error!.data, { supported: [V], requested: "2099-01-01" });

    const mismatch = await modern(s.p.url, "tools/list", {}, {
      headers: { "mcp-method": "prompts/list" },
    });
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.json.error!.code, -32020);
    const name = await modern(s.p.url, "tools/call", { name: "web_echo", arguments: {} }, {
      headers: { "mcp-name": "web_add" },
    });
    assert.equal(name.status, 400);
    assert.equal(name.json.error!.code, -32020);

    const noCaps = await modern(s.p.url, "tools/list", {}, { meta: { [CAPS]: "everything" } });
    assert.equal(noCaps.status, 400);
    assert.equal(noCaps.json.error!.code, -32602);
    assert.match(noCaps.json.error!.message, /clientCapabilities/);

    for (const method of ["GET", "DELETE"]) {
      const res = await fetch(s.p.url, { method, headers: { accept: "text/event-stream" } });
      await res.body?.cancel();
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get("allow"), "POST");
    }

    for (const removed of ["ping", "logging/setLevel", "resources/subscribe", "constructor"]) {
      const r = await modern(
        s.p.url,
        removed,
        removed === "resources/subscribe" ? { uri: "x:" } : {},
      );
      assert.equal(r.status, 404, removed);
      assert.equal(r.json.error!.code, -32601, removed);
    }

    const note = await post(
      s.p.url,
      JSON.stringify({
        jsonrpc: "2.0",
        method: "notifications/cancelled",
        params: { requestId: 1, _meta: { [PV]: V } },
      }),
      { "mcp-protocol-version": V, "mcp-method": "notifications/cancelled" },
    );
    assert.equal(note.status, 202);
  } finally {
    await s.stop();
  }
});

Deno.test("modern: a logLevel gets an SSE answer with the call's log messages at or above it", async () => {
  const s = await setup();
  try {
    const info = await modern(s.p.url, "tools/call", {
      name: "web_log",
      arguments: { message: "hi there", level: "warning" },
    }, { meta: { [LOG]: "info" } });
    assert.equal(info.status, 200);
    assert.match(info.headers.get("content-type") ?? "", /text\/event-stream/);
    const msgs = sseMessages(info.text);
    assert.equal(msgs.length, 2, info.text);
    assert.equal(msgs[0]!.method, "notifications/message");
    assert.equal((msgs[0]!.params as { data: string }).data, "hi there");
    assert.equal((msgs[1]!.result as { resultType: string }).resultType, "complete");

    const quiet = await modern(s.p.url, "tools/call", {
      name: "web_log",
      arguments: { message: "hi there", level: "info" },
    }, { meta: { [LOG]: "error" } });
    const only = sseMessages(quiet.text);
    assert.equal(only.length, 1, quiet.text);
    assert.deepEqual((only[0]!.result as { content: unknown }).content, [
      { type: "text", text: "logged" },
    ]);
  } finally {
    await s.stop();
  }
});

Deno.test("modern: a backend's request for client input is answered input_required", async () => {
  // (Retries, refusals and bounds: tests/proxy/mrtr_modern_*_test.ts.)
  const s = await setup();
  try {
    const r = await modern(s.p.url, "tools/call", { name: "web_elicit", arguments: {} }, {
      meta: { [CAPS]: { elicitation: {} } },
    });
    assert.equal(r.status, 200);
    const result = r.json.result!;
    assert.equal(result.resultType, "input_required", r.text);
    const reqs = result.inputRequests as Record<string, { method: string }>;
    assert.equal(reqs.v1?.method, "elicitation/create", r.text);
    assert.equal(typeof result.requestState, "string");
  } finally {
    await s.stop();
  }
});

Deno.test("modern: a client that goes away cancels the backend call", async () => {
  // An SSE answer (progress token): the proxy notices the client is gone when it writes the next
  // progress notification, and aborts the backend call (notifications/cancelled).
  const s = await setup();
  try {
    const ac = new AbortController();
    const body = {
      jsonrpc: "2.0",
      id: 99,
      method: "tools/call",
      params: {
        name: "web_slow",
        arguments: { ms: 120_000, steps: 1200 },
        _meta: { [PV]: V, [CAPS]: {}, progressToken: "p1" },
      },
    };
    const res = await fetch(s.p.url, {
      method: "POST",
      signal: ac.signal,
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": V,
        "mcp-method": "tools/call",
        "mcp-name": "web_slow",
      },
      body: JSON.stringify(body),
    });
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /notifications\/progress/);
    ac.abort();
    await reader.cancel().catch(() => {});
    await waitFor(() => s.web.state.cancellations === 1, undefined, "backend call cancelled");
  } finally {
    await s.stop();
  }
});

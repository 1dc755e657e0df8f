/**
 * The JSON-only fast path for a single `tools/call` (proxy/server/fast_call.ts, ADR 0004): the
 * same requests sent with the fast path on and off give byte-identical answers (modulo id),
 * the fast path is really taken for plain calls and never for progress tokens, batches or
 * odd requests, `_meta` reaches the backend the same way, and a client's cancellation still
 * aborts the backend call.
 */
import assert from "node:assert/strict";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { config, connect, PATIENCE_MS, post, proxy, waitFor } from "./helpers.ts";
import type { ProxySession } from "../../proxy/server/session.ts";
import { plainToolsCall } from "../../proxy/server/fast_call.ts";

type Handlers = Map<string, (...a: unknown[]) => Promise<unknown>>;

/** Counts requests the SDK `Server` dispatched itself (the slow path). */
function countSdkDispatch(session: ProxySession): { n: number } {
  const handlers = (session.server as unknown as { _requestHandlers: Handlers })._requestHandlers;
  const original = handlers.get("tools/call")!;
  const count = { n: 0 };
  handlers.set("tools/call", (...a) => (count.n++, original(...a)));
  return count;
}

async function setup() {
  const seen: unknown[] = [];
  const web = await serveHttpBackend({
    name: "web",
    onRequest: async (req) => {
      if (req.method !== "POST") return undefined;
      const body = JSON.parse(await req.clone().text());
      if (body?.method === "tools/call") seen.push(body.params);
      return undefined;
    },
  });
  const p = await proxy(config({ backends: [{ name: "web", url: web.url }] }));
  const c = await connect(p.url);
  const session = (await waitFor(
    () => {
      const s = [...p.endpoint.directory.cache.values()][0];
      return s?.transport.hasStandaloneStream ? s : undefined;
    },
    PATIENCE_MS,
    "the client's GET stream",
  ))!;
  const headers = {
    "mcp-session-id": c.transport.sessionId!,
    "mcp-protocol-version": c.transport.protocolVersion!,
  };
  return {
    web,
    p,
    c,
    session,
    seen,
    headers,
    async stop() {
      await c.close();
      await p.stop();
      await web.stop();
    },
  };
}

const CASES: { what: string; params: unknown }[] = [
  { what: "a result", params: { name: "web_echo", arguments: { message: "hi" } } },
  {
    what: "_meta passed through (reserved keys dropped)",
    params: {
      name: "web_echo",
      arguments: { message: "m" },
      _meta: { trace: "t-1", nested: { a: [1, 2] }, "io.modelcontextprotocol/x": 1 },
    },
  },
  { what: "an isError result", params: { name: "web_fail", arguments: { message: "nope" } } },
  { what: "a backend JSON-RPC error", params: { name: "web_throw", arguments: { code: -32001 } } },
  { what: "an unknown tool", params: { name: "nope" } },
  { what: "a name that is not a string", params: { name: 42 } },
  { what: "no arguments", params: { name: "web_add" } },
];

Deno.test("fast and SDK paths answer every tools/call byte for byte the same (modulo id)", async () => {
  const s = await setup();
  try {
    const sdk = countSdkDispatch(s.session);
    let id = 100;
    for (const { what, params } of CASES) {
      const answers: { status: number; text: string; type: string | null; sid: string | null }[] =
        [];
      const forwarded: unknown[] = [];
      for (const fast of [true, false]) {
        s.p.endpoint.fastToolsCall = fast;
        const before = sdk.n;
        const seen = s.seen.length;
        for (const rid of [id++, `s-${id++}`]) {
          const res = await post(
            s.p.url,
            JSON.stringify({ jsonrpc: "2.0", id: rid, method: "tools/call", params }),
            s.headers,
          );
          const idText = JSON.stringify(rid);
          assert.ok(res.text.includes(`"id":${idText}`), `${what}: id ${idText} in ${res.text}`);
          answers.push({
            status: res.status,
            text: res.text.replace(`"id":${idText}`, `"id":0`),
            type: res.headers.get("content-type"),
            sid: res.headers.get("mcp-session-id"),
          });
        }
        assert.equal(sdk.n - before, fast ? 0 : 2, `${what}: fast=${fast} SDK dispatches`);
        forwarded.push(JSON.stringify(s.seen.slice(seen)));
      }
      for (const a of answers.slice(1)) assert.deepEqual(a, answers[0], what);
      assert.equal(answers[0]!.status, 200, what);
      assert.equal(forwarded[0], forwarded[1], `${what}: what the backend got`);
    }
    // _meta reached the backend without the reserved key, on both paths.
    const withMeta = s.seen.filter((x) => (x as { _meta?: unknown })._meta) as {
      _meta: unknown;
    }[];
    assert.equal(withMeta.length, 4);
    for (const x of withMeta) assert.deepEqual(x._meta, { trace: "t-1", nested: { a: [1, 2] } });
  } finally {
    await s.stop();
  }
});

Deno.test("progress tokens, batches and unusual requests take the SDK path", async () => {
  const s = await setup();
  try {
    const sdk = countSdkDispatch(s.session);
    const call = (extra: Record<string, unknown>, params: unknown = { name: "web_add" }) =>
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params, ...extra });
    const slowPath: [string, string, Record<string, string>?][] = [
      ["progress token", call({}, { name: "web_add", _meta: { progressToken: 5 } })],
      ["batch", `[${call({})}]`],
      ["extra envelope key", call({ extra: 1 })],
      ["fractional id", call({ id: 1.5 })],
      ["no params", call({ params: undefined })],
      ["task params", call({}, { name: "web_add", task: { ttl: 1 } })],
      ["content-type with charset", call({}), {
        "content-type": "application/json; charset=utf-8",
      }],
    ];
    for (const [what, body, headers] of slowPath) {
      const before = sdk.n;
      const res = await post(s.p.url, body, { ...s.headers, ...headers });
      assert.ok(res.status === 200 || res.status === 400, `${what}: ${res.status} ${res.text}`);
      assert.ok(sdk.n - before <= 1, what);
      if (!headers) assert.equal(plainToolsCall(JSON.parse(body)), undefined, what);
    }
    // The SDK client's own calls (no progress handler) take the fast path.
    const before = sdk.n;
    const r = await s.c.client.callTool({ name: "web_add", arguments: { a: 1, b: 2 } });
    assert.deepEqual(r.structuredContent, { sum: 3 });
    assert.equal(sdk.n, before);
  } finally {
    await s.stop();
  }
});

Deno.test("cancelling a fast-path call aborts the backend call and leaves nothing in flight", async () => {
  const s = await setup();
  try {
    const sdk = countSdkDispatch(s.session);
    const ac = new AbortController();
    const call = s.c.client.callTool(
      { name: "web_slow", arguments: { ms: 120_000, steps: 50 } }, // only the cancel ends it
      undefined,
      { signal: ac.signal },
    );
    await waitFor(() => s.web.state.calls.some((x) => x.tool === "slow"), PATIENCE_MS, "the call");
    const inflight =
      (s.session.server as unknown as { _requestHandlerAbortControllers: Map<unknown, unknown> })
        ._requestHandlerAbortControllers;
    assert.equal(inflight.size, 1);
    ac.abort(new Error("user cancelled"));
    await assert.rejects(call);
    await waitFor(() => s.web.state.cancellations === 1, PATIENCE_MS, "backend cancellation");
    await waitFor(() => inflight.size === 0, PATIENCE_MS, "the in-flight entry to go");
    assert.equal(sdk.n, 0, "the call took the fast path");
  } finally {
    await s.stop();
  }
});

Deno.test("a cancelled call's HTTP exchange ends with 202 and no body, on the fast path, the SDK JSON path and an SSE answer", async () => {
  const s = await setup();
  try {
    const cases = [
      { what: "fast path", fast: true, meta: undefined },
      { what: "SDK path, JSON answer", fast: false, meta: undefined },
      { what: "SDK path, SSE answer", fast: true, meta: { progressToken: "p1" } },
    ];
    let id = 1000;
    for (const { what, fast, meta } of cases) {
      s.p.endpoint.fastToolsCall = fast;
      const callId = ++id;
      const before = s.web.state.cancellations;
      const slowCalls = () => s.web.state.calls.filter((c) => c.tool === "slow").length;
      const slowBefore = slowCalls();
      const pending = post(
        s.p.url,
        JSON.stringify({
          jsonrpc: "2.0",
          id: callId,
          method: "tools/call",
          params: {
            name: "web_slow",
            arguments: { ms: 120_000, steps: 50 },
            ...(meta ? { _meta: meta } : {}),
          },
        }),
        s.headers,
      );
      await waitFor(
        () => slowCalls() > slowBefore,
        PATIENCE_MS,
        `${what}: the call at the backend`,
      );
      const cancel = await post(
        s.p.url,
        JSON.stringify({
          jsonrpc: "2.0",
          method: "notifications/cancelled",
          params: { requestId: callId, reason: "user cancelled" },
        }),
        s.headers,
      );
      assert.equal(cancel.status, 202, `${what}: the cancellation is accepted`);
      // Before, the cancelled POST never ended: it held its connection busy for ever.
      const ended = await Promise.race([
        pending,
        new Promise<"hung">((r) => setTimeout(() => r("hung"), PATIENCE_MS)),
      ]);
      assert.notEqual(ended, "hung", `${what}: the cancelled POST never ended`);
      if (ended === "hung") continue;
      if (meta) {
        // An SSE answer: the stream closes without a response to the cancelled request.
        assert.equal(ended.status, 200, what);
        assert.doesNotMatch(ended.text, new RegExp(`"id":${callId}`), what);
      } else {
        assert.equal(ended.status, 202, what);
        assert.equal(ended.text, "", what);
      }
      await waitFor(
        () => s.web.state.cancellations === before + 1,
        PATIENCE_MS,
        `${what}: backend cancellation`,
      );
    }
  } finally {
    await s.stop();
  }
});

/**
 * Resumable answer streams (`PooledStreamableHTTPClientTransport`, issue #17 item 1): a
 * backend may end a call's SSE answer after an event id and let the client resume it with
 * `Last-Event-ID` (its answer then comes on the resumed stream). When the resumption fails
 * (the backend is gone), the call fails at once naming the backend, on the lean path and on
 * the SDK path (with a progress callback), instead of waiting for its deadline (120 s here).
 * A resumption that works still delivers the answer.
 */
import assert from "node:assert/strict";
import { createLogger } from "../../core/log.ts";
import { BackendConnection } from "./connection.ts";
import { BackendUnavailableError } from "./errors.ts";

type Msg = Record<string, unknown>;
const enc = new TextEncoder();

/**
 * A Streamable HTTP backend whose `tools/call` answer is one event with an id and `retry: 10`,
 * then the end of the stream; a GET with `Last-Event-ID` resumes it with the answer when
 * `resumes` is set, else is answered 503.
 */
function resumingBackend(resumes: boolean) {
  const abort = new AbortController();
  const pending = new Map<string, unknown>();
  let n = 0;
  const sse = (text: string) =>
    new Response(enc.encode(text), { headers: { "content-type": "text/event-stream" } });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: abort.signal, onListen: () => {} },
    async (req) => {
      if (req.method === "GET") {
        const last = req.headers.get("last-event-id");
        if (last === null) return new Response(null, { status: 405 }); // no standalone stream
        if (!resumes || !pending.has(last)) return new Response("gone", { status: 503 });
        const answer = { jsonrpc: "2.0", id: pending.get(last), result: { content: [] } };
        return sse(`id: ${last}-2\ndata: ${JSON.stringify(answer)}\n\n`);
      }
      if (req.method === "DELETE") return new Response(null, { status: 200 });
      const m = await req.json() as Msg;
      if (m.method === "initialize") {
        return Response.json({
          jsonrpc: "2.0",
          id: m.id,
          result: {
            protocolVersion: (m.params as Msg).protocolVersion,
            capabilities: { tools: {} },
            serverInfo: { name: "resuming", version: "1" },
          },
        }, { headers: { "mcp-session-id": "s1" } });
      }
      if (!("id" in m)) return new Response(null, { status: 202 });
      const event = `e${++n}`;
      pending.set(event, m.id);
      return sse(`id: ${event}\nretry: 10\ndata: \n\n`); // priming event, then the end
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/mcp`,
    stop: async () => {
      abort.abort();
      await server.finished;
    },
  };
}

function connection(url: string): BackendConnection {
  return new BackendConnection(
    { name: "resuming", transport: "streamable-http", url } as never,
    undefined,
    { onListChanged() {}, onResourceUpdated() {}, onClosed() {} },
    createLogger({ level: "error" }),
  );
}

const CALL = { name: "work", arguments: {} };
const LONG_DEADLINE_MS = 120_000;

Deno.test("resumable answer stream: a failed resumption fails the call naming the backend (lean and SDK paths)", async () => {
  const backend = resumingBackend(false);
  try {
    // A connection each: the lean path's failure closes its connection (a transport failure).
    for (const onprogress of [undefined, () => {}]) {
      const conn = connection(backend.url);
      try {
        await conn.connect(30_000);
        const err = await conn.request("tools/call", CALL, {
          timeoutMs: LONG_DEADLINE_MS,
          ...(onprogress ? { onprogress } : {}),
        }).then(() => undefined, (e) => e);
        const path = onprogress ? "SDK path" : "lean path";
        assert.ok(err instanceof BackendUnavailableError, `${path}: ${err}`);
        assert.match(err.message, /Backend "resuming" is unavailable/, path);
        assert.match(err.message, /resuming it failed/, path);
        assert.equal(err.outcome, "unknown", path);
      } finally {
        await conn.close();
      }
    }
  } finally {
    await backend.stop();
  }
});

Deno.test("resumable answer stream: a resumption that works delivers the answer (lean and SDK paths)", async () => {
  const backend = resumingBackend(true);
  const conn = connection(backend.url);
  try {
    await conn.connect(30_000);
    for (const onprogress of [undefined, () => {}]) {
      const r = await conn.request("tools/call", CALL, {
        timeoutMs: LONG_DEADLINE_MS,
        ...(onprogress ? { onprogress } : {}),
      });
      assert.deepEqual(r.content, [], onprogress ? "SDK path" : "lean path");
    }
  } finally {
    await conn.close();
    await backend.stop();
  }
});

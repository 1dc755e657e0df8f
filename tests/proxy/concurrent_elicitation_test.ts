/**
 * Two calls in flight on one backend session, both asking the client for input (ADR 0010 §7,
 * invariant 1). A legacy Streamable HTTP backend sends a call's `elicitation/create` on that
 * call's POST answer, so vmcp knows which call it belongs to however many are in flight. Real
 * parts: server-everything over its own Streamable HTTP transport behind vmcp, and raw HTTP
 * clients of both eras. Each call gets its own question and, after its answer, its own result.
 */
import assert from "node:assert/strict";
import { startEverythingHttp } from "../harness/everything_http.ts";
import { SseReader } from "../harness/sse_reader.ts";
import { config, proxy } from "./helpers.ts";
import { ELICIT, V } from "./mrtr_helpers.ts";

type AnyObject = Record<string, unknown>;
type Message = AnyObject & { id?: number; method?: string; params?: AnyObject };

const PV = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";

let nextId = 1000;

/** POSTs `body` and answers the JSON-RPC message with `id` (a JSON body or on its SSE answer). */
async function rpc(
  url: string,
  body: Message,
  headers: Record<string, string>,
): Promise<Message> {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
    body: JSON.stringify(body),
  });
  if (!(res.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    return await res.json();
  }
  const sse = new SseReader(res);
  for (;;) {
    const m = await sse.message() as Message;
    if (m.id === body.id && !("method" in m)) {
      await sse.cancel().catch(() => {});
      return m;
    }
  }
}

/** A 2026-07-28 call of the elicitation tool (optionally with a progress token). */
function modernElicit(
  url: string,
  extra: AnyObject = {},
  progressToken?: string,
): Promise<Message> {
  const meta: AnyObject = { [PV]: V, [CAPS]: { elicitation: {} } };
  if (progressToken) meta.progressToken = progressToken;
  return rpc(url, {
    jsonrpc: "2.0",
    id: nextId++,
    method: "tools/call",
    params: { name: ELICIT, arguments: {}, ...extra, _meta: meta },
  }, { "mcp-protocol-version": V, "mcp-method": "tools/call", "mcp-name": ELICIT });
}

function inputRequired(r: Message): { question: AnyObject; state: string } {
  const result = r.result as AnyObject | undefined;
  assert.equal(result?.resultType, "input_required", JSON.stringify(r));
  const reqs = result!.inputRequests as Record<string, { method: string; params: AnyObject }>;
  assert.deepEqual(Object.keys(reqs), ["v1"]);
  assert.equal(reqs.v1!.method, "elicitation/create");
  return { question: reqs.v1!.params, state: result!.requestState as string };
}

async function everythingBehindVmcp() {
  const every = await startEverythingHttp();
  const p = await proxy(config({
    operational: { timeouts: { default: "60s" } },
    backends: [{ name: "every", url: every.url }],
  }));
  return {
    url: p.url,
    p,
    stop: async () => {
      await p.stop();
      await every.stop();
    },
  };
}

Deno.test("2026-07-28 client: three calls waiting for input on one pooled legacy backend session each get their own input_required and complete with their own answers", async () => {
  const s = await everythingBehindVmcp();
  try {
    // A parks on its elicitation: its backend call stays in flight on the identity's session.
    const a = inputRequired(await modernElicit(s.url));
    // B and C run on the same backend session while A waits; their elicitations are theirs, not
    // refused. B carries a progress token: the SDK path of the backend connection; A and C take
    // the lean path.
    const b = inputRequired(await modernElicit(s.url, {}, "progress-b"));
    const c = inputRequired(await modernElicit(s.url));
    assert.match(String(b.question.message), /Please provide inputs/);
    assert.equal(new Set([a.state, b.state, c.state]).size, 3);

    // C answers first, then B, then A: each call completes with its own answer.
    const answer = (state: string, name: string, progress?: string) =>
      modernElicit(s.url, {
        inputResponses: { v1: { action: "accept", content: { name } } },
        requestState: state,
      }, progress);
    for (
      const [state, name, progress] of [
        [c.state, "Cid", undefined],
        [b.state, "Bea", "progress-b"],
        [a.state, "Abe", undefined],
      ] as const
    ) {
      const done = await answer(state, name, progress);
      const text = JSON.stringify(done.result);
      assert.equal((done.result as AnyObject)?.resultType, "complete", JSON.stringify(done));
      assert.match(text, new RegExp(`Name: ${name}`));
      for (const other of ["Cid", "Bea", "Abe"]) {
        if (other !== name) assert.doesNotMatch(text, new RegExp(other));
      }
    }
    assert.equal(s.p.endpoint.modern.input?.remembered, 0, "no call left remembered");
  } finally {
    await s.stop();
  }
});

/** A legacy (2025-11-25) raw client session without a GET stream. */
async function legacySession(url: string) {
  let session = "";
  const headers = () => ({
    "mcp-protocol-version": "2025-11-25",
    ...(session ? { "mcp-session-id": session } : {}),
  });
  const init = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: { elicitation: {} },
        clientInfo: { name: "raw-legacy", version: "1.0.0" },
      },
    }),
  });
  session = init.headers.get("mcp-session-id") ?? "";
  await init.body?.cancel();
  assert.ok(session, `no session (HTTP ${init.status})`);
  const note = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers(),
    },
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  await note.body?.cancel();
  const send = (body: Message) =>
    fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...headers(),
      },
      body: JSON.stringify(body),
    });
  return {
    /** Starts a call; its SSE answer is read with the returned reader. */
    async call(id: number): Promise<SseReader> {
      const res = await send({
        jsonrpc: "2.0",
        id,
        method: "tools/call",
        params: { name: ELICIT, arguments: {} },
      });
      assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
      return new SseReader(res);
    },
    async answer(id: unknown, result: AnyObject): Promise<void> {
      const res = await send({ jsonrpc: "2.0", id: id as number, result });
      await res.body?.cancel();
    },
    close: async () => {
      await fetch(url, { method: "DELETE", headers: headers() }).then((r) => r.body?.cancel());
    },
  };
}

/** The next request on `sse` (a server-to-client request related to that call). */
async function nextRequest(sse: SseReader): Promise<Message> {
  for (;;) {
    const m = await sse.message() as Message;
    if (m.method && m.id !== undefined) return m;
    assert.ok(m.method, `a response came before the call's request: ${JSON.stringify(m)}`);
  }
}

async function finalResult(sse: SseReader, id: number): Promise<string> {
  for (;;) {
    const m = await sse.message() as Message;
    if (m.id === id && !m.method) return JSON.stringify(m);
  }
}

Deno.test("legacy client: two concurrent calls on one session each get their own elicitation on their own response stream and complete with their own answers", async () => {
  const s = await everythingBehindVmcp();
  const c = await legacySession(s.url);
  try {
    const a = await c.call(11);
    const askA = await nextRequest(a);
    assert.equal(askA.method, "elicitation/create");
    // B while A waits for its answer: both calls are in flight on the session's backend session.
    const b = await c.call(12);
    const askB = await nextRequest(b);
    assert.equal(askB.method, "elicitation/create");
    assert.notEqual(askA.id, askB.id);

    await c.answer(askB.id, { action: "accept", content: { name: "Bea" } });
    assert.match(await finalResult(b, 12), /Name: Bea/);
    await c.answer(askA.id, { action: "accept", content: { name: "Abe" } });
    const resultA = await finalResult(a, 11);
    assert.match(resultA, /Name: Abe/);
    assert.doesNotMatch(resultA, /Bea/);
  } finally {
    await c.close().catch(() => {});
    await s.stop();
  }
});

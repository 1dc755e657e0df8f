import assert from "node:assert/strict";
import { z } from "zod";
import { ManualClock } from "../../core/clock.ts";
import {
  ClientV2,
  createMcpHandlerV2,
  inputRequiredV2,
  McpServerV2,
  StreamableHTTPClientTransportV2,
} from "../../core/sdk.ts";
import { RpcError } from "../backends/errors.ts";
import { driveInputRequired, type InputPeer, type RoundParams } from "./drive.ts";

type AnyObject = Record<string, unknown>;

/** A peer that answers like a legacy client would, recording what it was asked. */
function fakePeer(answer: (method: string, params?: AnyObject) => AnyObject, roots = true) {
  const asked: { method: string; params?: AnyObject; related?: string | number }[] = [];
  const peer: InputPeer = {
    request: (req, opts) => {
      asked.push({
        method: req.method,
        ...(req.params ? { params: req.params } : {}),
        ...(opts.relatedRequestId !== undefined ? { related: opts.relatedRequestId } : {}),
      });
      return Promise.resolve(answer(req.method, req.params));
    },
    clientCapabilities: () => (roots ? { roots: {} } : {}),
  };
  return { peer, asked };
}

const signal = new AbortController().signal;

Deno.test("a complete result is answered after one call", async () => {
  const { peer, asked } = fakePeer(() => ({}));
  const calls: RoundParams[] = [];
  const r = await driveInputRequired(
    (p) => (calls.push(p), Promise.resolve({ content: [] })),
    peer,
    {
      signal,
    },
  );
  assert.deepEqual(r, { content: [] });
  assert.deepEqual(calls, [{}]);
  assert.deepEqual(asked, []);
});

Deno.test("each embedded request goes to the peer; the retry carries inputResponses and the state byte for byte", async () => {
  const { peer, asked } = fakePeer((m) =>
    m === "elicitation/create"
      ? { action: "accept", content: { ok: true } }
      : m === "roots/list"
      ? { roots: [{ uri: "file:///x" }] }
      : { role: "assistant", content: { type: "text", text: "hi" }, model: "m" }
  );
  const calls: RoundParams[] = [];
  const answers: AnyObject[] = [
    {
      resultType: "input_required",
      inputRequests: {
        a: { method: "elicitation/create", params: { message: "ok?", requestedSchema: {} } },
        b: { method: "sampling/createMessage", params: { messages: [], maxTokens: 1 } },
      },
      requestState: "opaque-1 é",
    },
    {
      resultType: "input_required",
      inputRequests: { c: { method: "roots/list" } },
      requestState: "opaque-2",
    },
    { resultType: "complete", content: [{ type: "text", text: "done" }] },
  ];
  const r = await driveInputRequired(
    (p) => (calls.push(p), Promise.resolve(answers.shift()!)),
    peer,
    { signal, relatedRequestId: 7 },
  );
  assert.deepEqual(r, { resultType: "complete", content: [{ type: "text", text: "done" }] });
  assert.deepEqual(asked.map((a) => [a.method, a.related]), [
    ["elicitation/create", 7],
    ["sampling/createMessage", 7],
    ["roots/list", 7],
  ]);
  assert.deepEqual(asked[0]!.params, { message: "ok?", requestedSchema: {} });
  assert.deepEqual(calls, [
    {},
    {
      inputResponses: {
        a: { action: "accept", content: { ok: true } },
        b: { role: "assistant", content: { type: "text", text: "hi" }, model: "m" },
      },
      requestState: "opaque-1 é",
    },
    { inputResponses: { c: { roots: [{ uri: "file:///x" }] } }, requestState: "opaque-2" },
  ]);
});

Deno.test("roots/list for a client without roots gets no roots, without asking it", async () => {
  const { peer, asked } = fakePeer(() => ({ roots: [{ uri: "file:///secret" }] }), false);
  const answers: AnyObject[] = [
    { resultType: "input_required", inputRequests: { r: { method: "roots/list" } } },
    { content: [] },
  ];
  const calls: RoundParams[] = [];
  await driveInputRequired((p) => (calls.push(p), Promise.resolve(answers.shift()!)), peer, {
    signal,
  });
  assert.deepEqual(asked, []);
  assert.deepEqual(calls[1], { inputResponses: { r: { roots: [] } } });
});

Deno.test("after 10 rounds the call fails with -32603", async () => {
  const { peer, asked } = fakePeer(() => ({ action: "decline" }));
  let calls = 0;
  await assert.rejects(
    driveInputRequired(
      () => (calls++,
        Promise.resolve({
          resultType: "input_required",
          inputRequests: { x: { method: "elicitation/create", params: { message: "again" } } },
        })),
      peer,
      { signal },
    ),
    (e: unknown) => e instanceof RpcError && e.code === -32603 && /after 10 rounds/.test(e.message),
  );
  assert.equal(calls, 11);
  assert.equal(asked.length, 10);
});

Deno.test("unknown embedded methods and malformed input_required fail with -32603; peer errors pass through", async () => {
  const { peer } = fakePeer(() => ({}));
  const once = (r: AnyObject) => () => Promise.resolve(r);
  await assert.rejects(
    driveInputRequired(
      once({ resultType: "input_required", inputRequests: { x: { method: "tools/call" } } }),
      peer,
      { signal },
    ),
    /asks for tools\/call; allowed: elicitation\/create/,
  );
  await assert.rejects(
    driveInputRequired(once({ resultType: "input_required" }), peer, { signal }),
    /neither inputRequests nor requestState/,
  );
  const refusing: InputPeer = {
    request: () => Promise.reject(new RpcError(-32600, "client said no")),
  };
  await assert.rejects(
    driveInputRequired(
      once({
        resultType: "input_required",
        inputRequests: { x: { method: "elicitation/create" } },
      }),
      refusing,
      { signal },
    ),
    /client said no/,
  );
});

Deno.test("a requestState-only round is paced by the clock, then retried with the state", async () => {
  const clock = new ManualClock();
  const { peer } = fakePeer(() => ({}));
  const answers: AnyObject[] = [{ resultType: "input_required", requestState: "s" }, { ok: 1 }];
  const calls: RoundParams[] = [];
  const done = driveInputRequired((p) => (calls.push(p), Promise.resolve(answers.shift()!)), peer, {
    signal,
    clock,
  });
  for (let i = 0; i < 10; i++) await Promise.resolve();
  assert.equal(calls.length, 1);
  clock.advance(250);
  assert.deepEqual(await done, { ok: 1 });
  assert.deepEqual(calls[1], { requestState: "s" });
});

/** A real 2026-07-28 server whose tool asks for a name through `input_required`. */
function serveModernBackend() {
  const handler = createMcpHandlerV2(() => {
    const server = new McpServerV2({ name: "modern", version: "1.0.0" });
    server.registerTool(
      "greet",
      { inputSchema: z.object({ greeting: z.string() }) },
      (args: { greeting: string }, ctx: { mcpReq: { inputResponses?: AnyObject } }) => {
        const answer = ctx.mcpReq.inputResponses?.who as
          | { action?: string; content?: { name?: string } }
          | undefined;
        if (answer?.action !== "accept" || !answer.content?.name) {
          return inputRequiredV2({
            inputRequests: {
              who: inputRequiredV2.elicit({
                message: "Who is there?",
                requestedSchema: z.object({ name: z.string() }),
              }),
            },
            requestState: `asked:${args.greeting}`,
          });
        }
        return { content: [{ type: "text", text: `${args.greeting}, ${answer.content.name}` }] };
      },
    );
    return server;
  }, { legacy: "reject" });
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    (req) => handler.fetch(req),
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/mcp`,
    stop: async () => {
      await handler.close();
      ac.abort();
      await server.finished;
    },
  };
}

Deno.test("a real v2 backend's input_required is answered through the peer and the call completes", async () => {
  const backend = serveModernBackend();
  const client = new ClientV2(
    { name: "vmcp", version: "1.0.0" },
    {
      versionNegotiation: { mode: { pin: "2026-07-28" } },
      capabilities: { elicitation: { form: {} } },
      inputRequired: { autoFulfill: false },
    } as ConstructorParameters<typeof ClientV2>[1],
  );
  await client.connect(new StreamableHTTPClientTransportV2(new URL(backend.url)));
  try {
    const { peer, asked } = fakePeer(() => ({ action: "accept", content: { name: "Zoe" } }));
    const seenStates: (string | undefined)[] = [];
    const result = await driveInputRequired(
      (round) => {
        seenStates.push(round.requestState);
        return client.request(
          {
            method: "tools/call",
            params: { name: "greet", arguments: { greeting: "Hello" }, ...round },
          },
          { allowInputRequired: true },
        ) as Promise<AnyObject>;
      },
      peer,
      { signal },
    );
    assert.deepEqual((result as { content: unknown }).content, [{
      type: "text",
      text: "Hello, Zoe",
    }]);
    assert.equal(asked.length, 1);
    assert.equal(asked[0]!.method, "elicitation/create");
    assert.equal((asked[0]!.params as { message: string }).message, "Who is there?");
    assert.deepEqual(seenStates, [undefined, "asked:Hello"]);
  } finally {
    await client.close();
    await backend.stop();
  }
});

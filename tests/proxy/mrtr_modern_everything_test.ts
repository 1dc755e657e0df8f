/**
 * MRTR through vmcp (ADR 0010 §4, "modern client, legacy backend: park"): a 2026-07-28 client
 * calls the third-party reference server-everything (a legacy stdio server) whose tools ask the
 * client for elicitation and sampling. The client gets `input_required`, answers by retrying
 * with `inputResponses` + `requestState`, and gets the tool's final result: with the v2
 * TypeScript client's auto-fulfilment, and with raw HTTP exchanges. Tampered, replayed and
 * other-tool states are refused with -32602 and leave the parked call waiting for its real
 * retry.
 */
import assert from "node:assert/strict";
import { ClientV2, StreamableHTTPClientTransportV2 } from "../../core/sdk.ts";
import { ELICIT, everythingBehindVmcp, modernCall, V } from "./mrtr_helpers.ts";

type AnyObject = Record<string, unknown>;

Deno.test("MRTR: a v2 client answers server-everything's elicitation and sampling through vmcp with its handlers and gets the tools' results", async () => {
  const p = await everythingBehindVmcp();
  const client = new ClientV2({ name: "mrtr-v2", version: "1.0.0" }, {
    versionNegotiation: { mode: "auto" },
    capabilities: { elicitation: { form: {} }, sampling: {} },
    inputRequired: { autoFulfill: true },
  });
  const asked: AnyObject[] = [];
  client.setRequestHandler("elicitation/create", (req) => {
    asked.push(req.params as AnyObject);
    return Promise.resolve({ action: "accept", content: { name: "Ada", check: true } });
  });
  client.setRequestHandler("sampling/createMessage", (req) => {
    asked.push(req.params as AnyObject);
    return Promise.resolve({
      role: "assistant",
      model: "test-model",
      content: { type: "text", text: "sampled by the v2 client" },
    });
  });
  const sent: AnyObject[] = [];
  const transport = new StreamableHTTPClientTransportV2(new URL(p.url), {
    fetch: async (u, init) => {
      if (typeof init?.body === "string") sent.push(JSON.parse(init.body));
      return await fetch(u, init);
    },
  });
  try {
    await client.connect(transport);
    assert.equal(client.getNegotiatedProtocolVersion(), V);

    const r = await client.callTool({ name: ELICIT, arguments: {} });
    const text = JSON.stringify(r.content);
    assert.match(text, /Name: Ada/, text);
    assert.match(text, /Agreed to terms: true/, text);
    assert.equal(asked.length, 1);
    assert.match(String(asked[0]!.message), /Please provide inputs/);
    // The retry carried the answer and the state vmcp handed out.
    const retry = sent.find((m) => (m.params as AnyObject | undefined)?.requestState);
    assert.ok(retry, JSON.stringify(sent.map((m) => m.method)));
    assert.deepEqual(Object.keys((retry.params as AnyObject).inputResponses as AnyObject), ["v1"]);

    const s = await client.callTool({
      name: "every_trigger-sampling-request",
      arguments: { prompt: "hello", maxTokens: 5 },
    });
    assert.match(JSON.stringify(s.content), /sampled by the v2 client/);
    assert.equal(asked.length, 2);
    assert.match(JSON.stringify(asked[1]!.messages), /hello/);
    assert.equal(p.endpoint.modern.input?.remembered, 0, "no call left remembered");
  } finally {
    await client.close().catch(() => {});
    await p.stop();
  }
});

Deno.test("MRTR: raw exchanges: input_required, tampered, replayed and other-tool states refused with -32602, the real retry completes", async () => {
  const p = await everythingBehindVmcp();
  try {
    const first = await modernCall(p.url, "tools/call", { name: ELICIT, arguments: {} });
    assert.equal(first.status, 200);
    const ir = first.result!;
    assert.equal(ir.resultType, "input_required", JSON.stringify(first));
    const reqs = ir.inputRequests as Record<string, { method: string; params: AnyObject }>;
    assert.deepEqual(Object.keys(reqs), ["v1"]);
    assert.equal(reqs.v1!.method, "elicitation/create");
    assert.ok((reqs.v1!.params.requestedSchema as AnyObject).properties);
    const state = ir.requestState as string;
    assert.match(state, /^v1\.[0-9a-f]{8}\./);
    assert.ok(!("ttlMs" in ir), "no cache hints on input_required");

    const answer = { v1: { action: "accept", content: { name: "Raw Retry" } } };
    const refusedWith = async (
      params: AnyObject,
      what: string,
      message = "Invalid or expired requestState",
    ) => {
      const r = await modernCall(p.url, "tools/call", params);
      assert.equal(r.status, 200, what);
      assert.deepEqual(r.error, {
        code: -32602,
        message,
        data: { reason: "invalid_request_state" },
      }, `${what}: ${JSON.stringify(r)}`);
    };
    // Tampered: one character of the payload changed.
    const parts = state.split(".");
    const body = parts[2]!;
    const flipped = body.slice(0, 10) + (body[10] === "A" ? "B" : "A") + body.slice(11);
    await refusedWith({
      name: ELICIT,
      arguments: {},
      inputResponses: answer,
      requestState: [parts[0], parts[1], flipped, parts[3]].join("."),
    }, "tampered");
    // Another tool with this state.
    await refusedWith(
      {
        name: "every_echo",
        arguments: { message: "x" },
        inputResponses: answer,
        requestState: state,
      },
      "other tool",
    );
    // Not a state at all.
    await refusedWith(
      { name: ELICIT, arguments: {}, inputResponses: answer, requestState: "nonsense" },
      "malformed",
    );

    // The refusals left the call parked: the real retry completes it.
    const done = await modernCall(p.url, "tools/call", {
      name: ELICIT,
      arguments: {},
      inputResponses: answer,
      requestState: state,
    });
    assert.equal(done.result?.resultType, "complete", JSON.stringify(done));
    assert.match(JSON.stringify(done.result!.content), /Name: Raw Retry/);

    // Replayed: the same state again. The call is over, which the message says (a replayed
    // round of a call still waiting is tests/composite/modern_test.ts's).
    await refusedWith(
      { name: ELICIT, arguments: {}, inputResponses: answer, requestState: state },
      "replayed",
      "The call this input answers is no longer pending; call again without requestState",
    );

    // Sampling by hand: the request vmcp relays is the backend's, the answer reaches it.
    const caps = { sampling: {} };
    const s1 = await modernCall(p.url, "tools/call", {
      name: "every_trigger-sampling-request",
      arguments: { prompt: "raw prompt", maxTokens: 5 },
    }, { caps });
    const sreq = (s1.result!.inputRequests as Record<string, { method: string; params: AnyObject }>)
      .v1!;
    assert.equal(sreq.method, "sampling/createMessage");
    assert.match(JSON.stringify(sreq.params.messages), /raw prompt/);
    const s2 = await modernCall(p.url, "tools/call", {
      name: "every_trigger-sampling-request",
      arguments: { prompt: "raw prompt", maxTokens: 5 },
      inputResponses: {
        v1: { role: "assistant", model: "m", content: { type: "text", text: "raw sample" } },
      },
      requestState: s1.result!.requestState,
    }, { caps });
    assert.match(JSON.stringify(s2.result?.content), /raw sample/, JSON.stringify(s2));
    assert.equal(p.endpoint.modern.input?.remembered, 0);
  } finally {
    await p.stop();
  }
});

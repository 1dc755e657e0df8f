/**
 * MRTR with a 2026-07-28 backend behind vmcp (ADR 0010 §4): our conformance fixture (a v2 SDK
 * `McpServer`, stateless, `requestState` sealed by the fixture) answers `input_required`.
 *
 * - A 2025-11-25 client gets each embedded request as an ordinary `elicitation/create` or
 *   `sampling/createMessage` on its session; vmcp sends the call again with the answers and the
 *   backend's own state until the backend completes (proxy/mrtr/drive.ts).
 * - A 2026-07-28 client gets the backend's `input_required` passed through: the backend's own
 *   keys and requests, and its `requestState` wrapped in vmcp's sealed state (bound to the
 *   caller, the tool and the backend); tampered or other-tool states are refused, and the retry
 *   hands the backend its answers and its own state.
 */
import assert from "node:assert/strict";
import {
  ClientV2,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  StreamableHTTPClientTransportV2,
} from "../../core/sdk.ts";
import { serveConformanceBackend } from "../fixtures/conformance_backend.ts";
import { config, connect, proxy } from "./helpers.ts";
import { inputRequired, INVALID_STATE, modernCall } from "./mrtr_helpers.ts";

type AnyObject = Record<string, unknown>;

async function modernBackendBehindVmcp() {
  const backend = await serveConformanceBackend();
  const p = await proxy(config({
    aggregation: { conflictResolution: "priority" },
    operational: { timeouts: { default: "60s" } },
    backends: [{ name: "conformance", url: backend.url, protocol: "modern" }],
  }));
  return {
    url: p.url,
    stop: async () => {
      await p.stop();
      await backend.stop();
    },
  };
}

const textOf = (r: unknown) => JSON.stringify((r as { content?: unknown }).content);

Deno.test("MRTR: a 2025-11-25 client answers a 2026-07-28 backend's input_required as elicitation/create and sampling/createMessage", async () => {
  const s = await modernBackendBehindVmcp();
  const c = await connect(s.url, { capabilities: { elicitation: {}, sampling: {} } });
  const asked: string[] = [];
  c.client.setRequestHandler(ElicitRequestSchema, (req) => {
    asked.push(req.params.message);
    if (/color/.test(req.params.message)) return { action: "accept", content: { color: "teal" } };
    return { action: "accept", content: { name: "Ada" } };
  });
  c.client.setRequestHandler(CreateMessageRequestSchema, (req) => {
    asked.push(JSON.stringify(req.params.messages));
    return { role: "assistant", model: "m", content: { type: "text", text: "Paris" } };
  });
  try {
    const e = await c.client.callTool({
      name: "test_input_required_result_elicitation",
      arguments: {},
    });
    assert.match(textOf(e), /Hello, Ada!/, JSON.stringify(e));
    const sm = await c.client.callTool({
      name: "test_input_required_result_sampling",
      arguments: {},
    });
    assert.match(textOf(sm), /The model answered: Paris/, JSON.stringify(sm));
    // Two rounds with the backend's own requestState in between.
    const multi = await c.client.callTool({
      name: "test_input_required_result_multi_round",
      arguments: {},
    });
    assert.match(textOf(multi), /All steps done; favorite color teal/, JSON.stringify(multi));
    assert.deepEqual(asked.slice(2), [
      "Step 1: What is your name?",
      "Step 2: What is your favorite color?",
    ]);
    assert.equal(asked[0], "What is your name?");
    assert.match(asked[1]!, /capital of France/);
  } finally {
    await c.close();
    await s.stop();
  }
});

Deno.test("MRTR: a 2026-07-28 client answers a 2026-07-28 backend's input_required through vmcp", async () => {
  const s = await modernBackendBehindVmcp();
  const client = new ClientV2({ name: "mrtr-modern-both", version: "1.0.0" }, {
    versionNegotiation: { mode: "auto" },
    capabilities: { elicitation: { form: {} }, sampling: {} },
  });
  const asked: AnyObject[] = [];
  client.setRequestHandler("elicitation/create", (req) => {
    asked.push(req.params as AnyObject);
    return Promise.resolve({ action: "accept", content: { name: "Grace" } });
  });
  client.setRequestHandler("sampling/createMessage", () =>
    Promise.resolve({
      role: "assistant",
      model: "m",
      content: { type: "text", text: "Paris" },
    }));
  try {
    await client.connect(new StreamableHTTPClientTransportV2(new URL(s.url)));
    assert.equal(client.getNegotiatedProtocolVersion(), "2026-07-28");
    const e = await client.callTool({
      name: "test_input_required_result_elicitation",
      arguments: {},
    });
    assert.match(textOf(e), /Hello, Grace!/, JSON.stringify(e));
    assert.equal(asked.length, 1);
    const sm = await client.callTool({
      name: "test_input_required_result_sampling",
      arguments: {},
    });
    assert.match(textOf(sm), /The model answered: Paris/, JSON.stringify(sm));
  } finally {
    await client.close().catch(() => {});
    await s.stop();
  }
});

Deno.test("MRTR: raw 2026-07-28 exchanges pass a 2026-07-28 backend's input_required through with its own keys and a sealed state", async () => {
  const s = await modernBackendBehindVmcp();
  const tool = "test_input_required_result_multiple_inputs";
  const caps = { elicitation: {}, sampling: {}, roots: {} };
  try {
    const first = inputRequired(
      await modernCall(s.url, "tools/call", { name: tool, arguments: {} }, { caps }),
    );
    // The backend's keys, not vmcp's park keys.
    assert.ok(!("v1" in first.inputRequests), JSON.stringify(first));
    const keys = Object.keys(first.inputRequests).sort();
    assert.deepEqual(keys, ["client_roots", "greeting", "user_name"]);
    assert.match(first.requestState, /^v1\.[0-9a-f]{8}\./, "vmcp's sealed state");

    const answers: Record<string, unknown> = {};
    for (const [key, req] of Object.entries(first.inputRequests)) {
      answers[key] = req.method === "elicitation/create"
        ? { action: "accept", content: { name: "Pass" } }
        : req.method === "roots/list"
        ? { roots: [{ uri: "file:///tmp/pass", name: "pass" }] }
        : { role: "assistant", model: "m", content: { type: "text", text: "hi" } };
    }
    const retry = { name: tool, arguments: {}, inputResponses: answers };
    const [v, kid, body, mac] = first.requestState.split(".");
    const tampered = body!.slice(0, 12) + (body![12] === "A" ? "B" : "A") + body!.slice(13);
    const bad = await modernCall(s.url, "tools/call", {
      ...retry,
      requestState: [v, kid, tampered, mac].join("."),
    }, { caps });
    assert.deepEqual(bad.error, INVALID_STATE, JSON.stringify(bad));
    const other = await modernCall(s.url, "tools/call", {
      ...retry,
      name: "test_input_required_result_elicitation",
      requestState: first.requestState,
    }, { caps });
    assert.deepEqual(other.error, INVALID_STATE, JSON.stringify(other));

    const done = await modernCall(s.url, "tools/call", {
      ...retry,
      requestState: first.requestState,
    }, { caps });
    assert.equal(done.result?.resultType, "complete", JSON.stringify(done));
    assert.match(
      JSON.stringify(done.result?.content),
      /name=Pass; greeting=hi; roots=1/,
      JSON.stringify(done),
    );
  } finally {
    await s.stop();
  }
});

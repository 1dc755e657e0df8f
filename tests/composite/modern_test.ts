/**
 * Composite tools with elicitation for clients of both eras (ADR 0010 §4: "composite tools need
 * no special case"). The workflow asks the client itself (an elicitation step), then calls a
 * backend tool that asks the client too (a legacy backend's `elicitation/create`). For a
 * 2026-07-28 client both surface as the composite call's own `input_required` rounds; for a
 * 2025-11-25 client they are ordinary server-to-client requests on its session. A step on a
 * 2026-07-28 backend that answers `input_required` is driven through the same caller.
 */
import assert from "node:assert/strict";
import { ClientV2, ElicitRequestSchema, StreamableHTTPClientTransportV2 } from "../../core/sdk.ts";
import { inputRequired, INVALID_STATE, modernCall } from "../proxy/mrtr_helpers.ts";
import { serveConformanceBackend } from "../fixtures/conformance_backend.ts";
import { config, connect, serveComposites, setup, textOf } from "./helpers.ts";
import { proxy } from "../proxy/helpers.ts";

const askThenConfirm = {
  name: "ask_confirm",
  description: "Asks for a name, has the backend confirm it, then echoes both",
  steps: [
    {
      id: "ask",
      type: "elicitation" as const,
      message: "Who is {{.params.role}}?",
      schema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
    },
    {
      id: "confirm",
      tool: "alpha_elicit",
      arguments: { message: "Really {{.steps.ask.output.content.name}}?" },
      dependsOn: ["ask"],
    },
    {
      id: "say",
      tool: "alpha_echo",
      arguments: {
        message: "{{.steps.ask.output.content.name}}/{{.steps.confirm.output.content.name}}",
      },
      dependsOn: ["confirm"],
    },
  ],
  parameters: { type: "object", properties: { role: { type: "string", default: "in charge" } } },
};

/** The answer a client gives to each question, by its message. */
function answerTo(message: string): { action: "accept"; content: { name: string } } {
  if (message === "Who is the admin?") return { action: "accept", content: { name: "Ada" } };
  if (message === "Really Ada?") return { action: "accept", content: { name: "Ada Lovelace" } };
  throw new Error(`unexpected question: ${message}`);
}

Deno.test("composite: a v2 client answers a workflow's elicitation step and its backend's elicitation as input_required rounds", async () => {
  const s = await setup({ backends: [{ name: "alpha" }], compositeTools: [askThenConfirm] });
  const client = new ClientV2({ name: "composite-v2", version: "1.0.0" }, {
    versionNegotiation: { mode: "auto" },
    capabilities: { elicitation: { form: {} } },
  });
  const asked: string[] = [];
  client.setRequestHandler("elicitation/create", (req) => {
    const message = String((req.params as { message?: unknown }).message);
    asked.push(message);
    return Promise.resolve(answerTo(message));
  });
  try {
    await client.connect(new StreamableHTTPClientTransportV2(new URL(s.proxy.url)));
    assert.equal(client.getNegotiatedProtocolVersion(), "2026-07-28");
    const r = await client.callTool({ name: "ask_confirm", arguments: { role: "the admin" } });
    assert.equal(textOf(r), "Ada/Ada Lovelace", JSON.stringify(r));
    assert.deepEqual(asked, ["Who is the admin?", "Really Ada?"]);
  } finally {
    await client.close().catch(() => {});
    await s.close();
  }
});

Deno.test("composite: raw 2026-07-28 rounds: each question is a round with its own state; a replayed earlier round is refused", async () => {
  const s = await setup({ backends: [{ name: "alpha" }], compositeTools: [askThenConfirm] });
  const url = s.proxy.url;
  const call = { name: "ask_confirm", arguments: { role: "the admin" } };
  try {
    const round1 = inputRequired(await modernCall(url, "tools/call", call));
    assert.equal(round1.inputRequests.v1!.method, "elicitation/create");
    assert.equal(round1.inputRequests.v1!.params.message, "Who is the admin?");

    const round2 = inputRequired(
      await modernCall(url, "tools/call", {
        ...call,
        inputResponses: { v1: answerTo("Who is the admin?") },
        requestState: round1.requestState,
      }),
    );
    const [key] = Object.keys(round2.inputRequests);
    assert.equal(round2.inputRequests[key!]!.params.message, "Really Ada?");
    assert.notEqual(round2.requestState, round1.requestState);

    // The first round again, while the call waits in the second: refused, the call unharmed.
    const replay = await modernCall(url, "tools/call", {
      ...call,
      inputResponses: { v1: answerTo("Who is the admin?") },
      requestState: round1.requestState,
    });
    assert.deepEqual(replay.error, INVALID_STATE, JSON.stringify(replay));

    const done = await modernCall(url, "tools/call", {
      ...call,
      inputResponses: { [key!]: answerTo("Really Ada?") },
      requestState: round2.requestState,
    });
    assert.equal(done.result?.resultType, "complete", JSON.stringify(done));
    assert.equal(textOf(done.result), "Ada/Ada Lovelace");
  } finally {
    await s.close();
  }
});

Deno.test("composite: the same workflow still asks a 2025-11-25 client on its session", async () => {
  const s = await setup({ backends: [{ name: "alpha" }], compositeTools: [askThenConfirm] });
  try {
    const c = await s.connect({ capabilities: { elicitation: {} } });
    const asked: string[] = [];
    c.client.setRequestHandler(ElicitRequestSchema, (req) => {
      asked.push(req.params.message);
      return answerTo(req.params.message);
    });
    const r = await c.client.callTool({ name: "ask_confirm", arguments: { role: "the admin" } });
    assert.equal(textOf(r), "Ada/Ada Lovelace", JSON.stringify(r));
    assert.deepEqual(asked, ["Who is the admin?", "Really Ada?"]);
  } finally {
    await s.close();
  }
});

Deno.test("composite: a step on a 2026-07-28 backend that answers input_required asks the composite's caller, of either era", async () => {
  const backend = await serveConformanceBackend();
  const p = await proxy(config({
    backends: [{ name: "c", url: backend.url, protocol: "modern" }],
    compositeTools: [{
      name: "greet_flow",
      description: "Greets whoever the backend's question names",
      steps: [{ id: "greet", tool: "c_test_input_required_result_elicitation", arguments: {} }],
    }],
  }));
  serveComposites(p);
  const modern = new ClientV2({ name: "composite-v2", version: "1.0.0" }, {
    versionNegotiation: { mode: "auto" },
    capabilities: { elicitation: { form: {} } },
  });
  modern.setRequestHandler(
    "elicitation/create",
    () => Promise.resolve({ action: "accept", content: { name: "Modern" } }),
  );
  const legacy = await connect(p.url, { capabilities: { elicitation: {} } });
  legacy.client.setRequestHandler(
    ElicitRequestSchema,
    () => ({ action: "accept", content: { name: "Legacy" } }),
  );
  try {
    await modern.connect(new StreamableHTTPClientTransportV2(new URL(p.url)));
    const m = await modern.callTool({ name: "greet_flow", arguments: {} });
    assert.match(textOf(m), /Hello, Modern!/, JSON.stringify(m));
    const l = await legacy.client.callTool({ name: "greet_flow", arguments: {} });
    assert.match(textOf(l), /Hello, Legacy!/, JSON.stringify(l));
  } finally {
    await modern.close().catch(() => {});
    await legacy.close();
    await p.stop();
    await backend.stop();
  }
});

import assert from "node:assert/strict";
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { AsyncLocalStorageContextManager, context } from "../../core/telemetry.ts";
import { describeCall, Instrumentation } from "./instrument.ts";
import { samplerFor } from "./setup.ts";

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

function tracing(rate = 1) {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    sampler: samplerFor(rate),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const t = new Instrumentation({ tracer: provider.getTracer("test") });
  return { t, exporter, provider };
}

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const PARENT = "b7ad6b7169203331";
const post = (body: unknown, traceparent = `00-${TRACE}-${PARENT}-01`) =>
  new Request("http://vmcp/mcp", {
    method: "POST",
    headers: { traceparent, "mcp-session-id": "s-1", "mcp-protocol-version": "2025-11-25" },
    body: JSON.stringify(body),
  });

Deno.test("describeCall() names spans after the method and its target, never arguments", () => {
  assert.deepEqual(describeCall("tools/call", { name: "a_echo", arguments: { secret: "x" } }), {
    name: "tools/call a_echo",
    attributes: { "mcp.method.name": "tools/call", "gen_ai.tool.name": "a_echo" },
  });
  assert.equal(describeCall("prompts/get", { name: "p" }).name, "prompts/get p");
  assert.equal(
    describeCall("resources/read", { uri: "file:///x" }).attributes["mcp.resource.uri"],
    "file:///x",
  );
  assert.equal(describeCall("tools/list", undefined).name, "tools/list");
});

Deno.test("serve() continues the client's trace; a backend call inside it is a child whose traceparent is injected", async () => {
  const { t, exporter } = tracing();
  const req = post({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "a_echo" } });
  let injected: Record<string, string> | undefined;
  await t.serve(req, async () => {
    t.describe(req, await req.clone().json());
    await t.backendCall("a", "tools/call", { name: "echo" }, async () => {
      await new Promise((r) => setTimeout(r, 1)); // the context survives awaits
      injected = t.inject({ authorization: "x" });
      return { content: [] };
    });
    return new Response("{}", { headers: { "content-type": "application/json" } });
  });
  const spans = exporter.getFinishedSpans();
  const server = spans.find((s) => s.name === "tools/call a_echo")!;
  const client = spans.find((s) => s.name === "tools/call echo")!;
  assert.equal(server.spanContext().traceId, TRACE);
  assert.equal(server.parentSpanContext?.spanId, PARENT);
  assert.equal(server.attributes["mcp.session.id"], "s-1");
  assert.equal(server.attributes["jsonrpc.request.id"], "7");
  assert.equal(server.attributes["mcp.protocol.version"], "2025-11-25");
  assert.equal(client.parentSpanContext?.spanId, server.spanContext().spanId);
  assert.equal(client.attributes["vmcp.backend.name"], "a");
  assert.equal(injected?.authorization, "x");
  assert.equal(injected?.traceparent, `00-${TRACE}-${client.spanContext().spanId}-01`);
});

Deno.test("failed() records the JSON-RPC code and a tool result with isError is a tool_error", async () => {
  const { t, exporter } = tracing();
  const req = post({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "x" } });
  await t.serve(req, () => {
    t.describe(req, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "x" } });
    t.failed(Object.assign(new Error("Unknown tool"), { code: -32602 }));
    return Promise.resolve(new Response("{}"));
  });
  const req2 = post({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "y" } });
  await t.serve(req2, () => {
    t.toolError();
    return Promise.resolve(new Response("{}"));
  });
  const [a, b] = exporter.getFinishedSpans();
  assert.equal(a?.attributes["rpc.response.status_code"], "-32602");
  assert.equal(a?.attributes["error.type"], "-32602");
  assert.equal(b?.attributes["error.type"], "tool_error");
});

Deno.test("a streamed answer ends the server span when its stream ends", async () => {
  const { t, exporter } = tracing();
  const res = await t.serve(post({}), () =>
    Promise.resolve(
      new Response("event: message\ndata: {}\n\n", {
        headers: { "content-type": "text/event-stream" },
      }),
    ));
  assert.equal(exporter.getFinishedSpans().length, 0, "open while the stream is");
  assert.equal(await res.text(), "event: message\ndata: {}\n\n");
  assert.equal(exporter.getFinishedSpans().length, 1);
});

Deno.test("rate 0 records nothing even for a sampled client parent, yet the trace id is propagated unsampled", async () => {
  const { t, exporter } = tracing(0);
  let injected: Record<string, string> | undefined;
  await t.serve(post({}), async () => {
    await t.backendCall("a", "tools/call", {}, () => {
      injected = t.inject(undefined);
      return Promise.resolve({});
    });
    return new Response("{}");
  });
  assert.equal(exporter.getFinishedSpans().length, 0);
  assert.match(injected?.traceparent ?? "", new RegExp(`^00-${TRACE}-[0-9a-f]{16}-00$`));
});

Deno.test("a backend call outside a client request gets no span and no traceparent", async () => {
  const { t, exporter } = tracing();
  let injected: Record<string, string> | undefined = { a: "b" };
  await t.backendCall("a", "ping", {}, () => {
    injected = t.inject(injected);
    return Promise.resolve({});
  });
  assert.equal(exporter.getFinishedSpans().length, 0);
  assert.deepEqual(injected, { a: "b" });
});

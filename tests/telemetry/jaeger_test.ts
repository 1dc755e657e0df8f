/**
 * OpenTelemetry end to end: a real proxy process with `telemetry` on sends its spans over OTLP to
 * a real Jaeger all-in-one, and the tests read them back through Jaeger's query API. The backend
 * is a real Streamable HTTP MCP server that records the `traceparent` it receives; the client is
 * the real SDK client (legacy era) or a raw 2026-07-28 request (modern era), each sending its own
 * `traceparent`.
 *
 * Without the Jaeger binary (scripts/build-jaeger.sh could not build it) the tests are ignored
 * with the reason in their names.
 * @module
 */
import assert from "node:assert/strict";
import { Client, StreamableHTTPClientTransport } from "../../core/sdk.ts";
import { createBackendFetch } from "../../core/http_client.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { spawnProxy } from "../auth/process.ts";
import {
  ensureJaeger,
  type Jaeger,
  type JaegerSpan,
  parentOf,
  startJaeger,
  tagOf,
} from "../harness/jaeger.ts";
import { until } from "../harness/until.ts";
import { post } from "../proxy/helpers.ts";

const jaeger = await ensureJaeger();
const ignoreReason = jaeger.ok ? "" : ` (ignored: ${jaeger.reason.slice(0, 200)})`;
const PATIENCE_MS = 60_000;

function hex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A sampled W3C traceparent with a fresh trace id. */
function newTraceparent(): { traceId: string; spanId: string; header: string } {
  const traceId = hex(16);
  const spanId = hex(8);
  return { traceId, spanId, header: `00-${traceId}-${spanId}-01` };
}

/** A backend that records the `traceparent` of every `tools/call` POST it receives. */
async function recordingBackend(name: string) {
  const seen: string[] = [];
  const backend = await serveHttpBackend({
    name,
    onRequest: async (req) => {
      if (req.method !== "POST") return undefined;
      const body = await req.clone().json().catch(() => undefined);
      const tp = req.headers.get("traceparent");
      if (body?.method === "tools/call" && tp) seen.push(tp);
      return undefined;
    },
  });
  return { backend, seen };
}

/** An SDK client whose every request carries `traceparent()`'s current value. */
async function tracingClient(url: string, traceparent: () => string | undefined) {
  const base = createBackendFetch();
  const client = new Client({ name: "otel-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: (input, init) => {
      const headers = new Headers(init?.headers);
      const tp = traceparent();
      if (tp) headers.set("traceparent", tp);
      return base(input, { ...init, headers });
    },
  });
  await client.connect(transport);
  return {
    client,
    close: async () => {
      await transport.terminateSession().catch(() => {});
      await client.close();
    },
  };
}

function proxyConfig(service: string, backendUrl: string, telemetry: Record<string, unknown>) {
  return {
    name: service,
    groupRef: { name: "g" },
    backends: [{ name: "alpha", url: backendUrl }],
    compositeTools: [{
      name: "echo_twice",
      description: "Echoes twice, one step after the other",
      parameters: { type: "object", properties: { message: { type: "string" } } },
      steps: [
        { id: "first", tool: "alpha_echo", arguments: { message: "{{.params.message}}" } },
        {
          id: "second",
          tool: "alpha_echo",
          dependsOn: ["first"],
          arguments: { message: "again" },
        },
      ],
    }],
    telemetry,
  };
}

const byName = (spans: JaegerSpan[], name: string) => spans.filter((s) => s.operationName === name);

/**
 * The trace `traceId` once Jaeger holds `counts[name]` spans of each name: the spans of one
 * request may come in separate OTLP batches, so every span asserted on is waited for.
 */
function traceWith(j: Jaeger, what: string, traceId: string, counts: Record<string, number>) {
  return until(what, async () => {
    const t = await j.trace(traceId);
    const short = Object.entries(counts).filter(([n, k]) => byName(t?.spans ?? [], n).length < k);
    if (t && short.length === 0) return t;
    throw new Error(
      `services ${await j.services()}; spans ${t?.spans.map((s) => s.operationName)}`,
    );
  }, PATIENCE_MS);
}

Deno.test({
  name: "a client's traceparent starts the proxy's trace: server span, backend child span, " +
    "the same trace id at the backend, workflow and step spans" + ignoreReason,
  ignore: !jaeger.ok,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    if (!jaeger.ok) return;
    await using j = await startJaeger(jaeger.bin);
    const { backend, seen } = await recordingBackend("alpha");
    const service = `vmcp-otel-${hex(4)}`;
    const proxy = await spawnProxy(
      proxyConfig(service, backend.url, {
        endpoint: j.otlpUrl,
        serviceName: service,
        tracingEnabled: true,
        samplingRate: 1,
      }),
      {},
      { logLevel: "info" },
    );
    let current: string | undefined;
    const c = await tracingClient(proxy.url, () => current);
    try {
      // Legacy era (SDK client, the JSON fast path or the SDK path): one tool call.
      const call = newTraceparent();
      current = call.header;
      const result = await c.client.callTool({ name: "alpha_echo", arguments: { message: "hi" } });
      assert.equal(result.isError, undefined, JSON.stringify(result));
      // A composite workflow: workflow span with one span per step.
      const wf = newTraceparent();
      current = wf.header;
      await c.client.callTool({ name: "echo_twice", arguments: { message: "x" } });
      // The legacy SDK path with an SSE answer (a progressToken takes it off the fast path).
      const sse = newTraceparent();
      current = sse.header;
      await c.client.callTool({ name: "alpha_echo", arguments: { message: "p" } }, undefined, {
        onprogress: () => {},
      });
      const list = newTraceparent();
      current = list.header;
      await c.client.listTools();
      current = undefined;
      // Modern era (2026-07-28, stateless).
      const modern = newTraceparent();
      const answer = await modernPost(proxy.url, modern.header);
      assert.ok(answer.result, JSON.stringify(answer));

      // The backend saw the client's trace id, each time with a span id of vmcp's.
      assert.ok(seen.some((tp) => tp.split("-")[1] === call.traceId), seen.join(", "));
      assert.ok(!seen.some((tp) => tp.split("-")[2] === call.spanId), "no fresh span id");

      const trace = await traceWith(j, "the tool call's trace in jaeger", call.traceId, {
        "tools/call alpha_echo": 1,
        "tools/call echo": 1,
      });
      const server = byName(trace.spans, "tools/call alpha_echo")[0]!;
      const client = byName(trace.spans, "tools/call echo")[0]!;
      assert.equal(parentOf(server), call.spanId, "server span's parent is the client's span");
      assert.equal(tagOf(server, "span.kind"), "server");
      assert.equal(tagOf(server, "mcp.method.name"), "tools/call");
      assert.equal(tagOf(server, "gen_ai.tool.name"), "alpha_echo");
      assert.ok(tagOf(server, "mcp.session.id"), "the session id is on the server span");
      assert.equal(parentOf(client), server.spanID, "backend span is the server span's child");
      assert.equal(tagOf(client, "span.kind"), "client");
      assert.equal(tagOf(client, "gen_ai.tool.name"), "echo", "the backend's own tool name");
      assert.equal(tagOf(client, "vmcp.backend.name"), "alpha");
      assert.ok(
        seen.includes(`00-${call.traceId}-${client.spanID}-01`),
        `the backend got the backend span as parent: ${seen.join(", ")}`,
      );
      const names = trace.spans.flatMap((s) => s.tags.map((t) => String(t.value)));
      assert.ok(!names.includes("hi"), "no argument is recorded");
      assert.equal(trace.processes[server.processID]?.serviceName, service);

      const wfTrace = await traceWith(j, "the workflow's trace in jaeger", wf.traceId, {
        "tools/call echo_twice": 1,
        "workflow echo_twice": 1,
        "step first": 1,
        "step second": 1,
        "tools/call echo": 2,
      });
      const wfServer = byName(wfTrace.spans, "tools/call echo_twice")[0]!;
      const workflow = byName(wfTrace.spans, "workflow echo_twice")[0]!;
      assert.equal(parentOf(workflow), wfServer.spanID, "workflow span under the server span");
      assert.equal(tagOf(workflow, "vmcp.workflow.status"), "completed");
      const steps = ["first", "second"].map((id) => byName(wfTrace.spans, `step ${id}`)[0]!);
      for (const step of steps) {
        assert.equal(parentOf(step), workflow.spanID, "step span under the workflow span");
        assert.equal(tagOf(step, "vmcp.workflow.step.status"), "completed");
      }
      const stepIds = new Set(steps.map((s) => s.spanID));
      for (const backendSpan of byName(wfTrace.spans, "tools/call echo")) {
        assert.ok(stepIds.has(parentOf(backendSpan)!), "a step's backend call is its child");
      }

      const sseTrace = await traceWith(j, "the SSE-answered call's trace in jaeger", sse.traceId, {
        "tools/call alpha_echo": 1,
        "tools/call echo": 1,
      });
      const sseServer = sseTrace.spans.find((s) => parentOf(s) === sse.spanId)!;
      assert.equal(sseServer.operationName, "tools/call alpha_echo");
      assert.ok(
        sseTrace.spans.some((s) => parentOf(s) === sseServer.spanID),
        "the SSE-answered call's backend span is the server span's child",
      );
      const listTrace = await traceWith(j, "the tools/list trace in jaeger", list.traceId, {
        "tools/list": 1,
      });
      assert.equal(parentOf(listTrace.spans[0]!), list.spanId);
      const all = await until("the initialize span in jaeger", async () => {
        const ts = await j.traces(service);
        return ts.some((t) => byName(t.spans, "initialize").length > 0) ? ts : undefined;
      }, PATIENCE_MS);
      assert.ok(all.length >= 5, `${all.length} traces`);

      const modernTrace = await traceWith(j, "the modern call's trace in jaeger", modern.traceId, {
        "tools/call alpha_echo": 1,
        "tools/call echo": 1,
      });
      const modernServer = modernTrace.spans.find((s) => parentOf(s) === modern.spanId)!;
      assert.equal(modernServer.operationName, "tools/call alpha_echo");
      assert.equal(tagOf(modernServer, "mcp.protocol.version"), "2026-07-28");
      assert.ok(
        modernTrace.spans.some((s) =>
          parentOf(s) === modernServer.spanID && tagOf(s, "span.kind") === "client"
        ),
        "the modern call's backend span is the server span's child",
      );
    } finally {
      await c.close();
      await proxy.stop();
      await backend.stop();
    }
  },
});

/** A raw 2026-07-28 tools/call (stateless, no session) with a traceparent. */
async function modernPost(url: string, traceparent: string) {
  const params = {
    name: "alpha_echo",
    arguments: { message: "m" },
    _meta: {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientCapabilities": {},
    },
  };
  const r = await post(
    url,
    JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params }),
    {
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": "alpha_echo",
      traceparent,
    },
  );
  return r.json as { result?: unknown; error?: unknown };
}

Deno.test({
  name: "samplingRate 0 sends no spans while a sampled proxy's spans arrive" + ignoreReason,
  ignore: !jaeger.ok,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    if (!jaeger.ok) return;
    await using j = await startJaeger(jaeger.bin);
    const { backend } = await recordingBackend("alpha");
    const quiet = `vmcp-quiet-${hex(4)}`;
    const loud = `vmcp-loud-${hex(4)}`;
    const telemetry = (service: string, samplingRate: number) => ({
      endpoint: j.otlpUrl,
      serviceName: service,
      tracingEnabled: true,
      samplingRate,
    });
    const [p0, p1] = await Promise.all([
      spawnProxy(proxyConfig(quiet, backend.url, telemetry(quiet, 0)), {}, { logLevel: "info" }),
      spawnProxy(proxyConfig(loud, backend.url, telemetry(loud, 1)), {}, { logLevel: "info" }),
    ]);
    try {
      for (const p of [p0, p1]) {
        const tp = newTraceparent().header; // sampled: still not recorded at rate 0
        const c = await tracingClient(p.url, () => tp);
        await c.client.callTool({ name: "alpha_echo", arguments: { message: "m" } });
        await c.client.callTool({ name: "echo_twice", arguments: { message: "m" } });
        await c.close();
      }
    } finally {
      // Stopping flushes what each proxy buffered: the quiet one first, so the loud one's spans
      // reach Jaeger after anything the quiet one sent (their arrival is the marker below).
      await p0.stop();
      await p1.stop();
      await backend.stop();
    }
    await until("the sampled proxy's traces in jaeger", async () => {
      const got = await j.traces(loud);
      if (got.some((t) => byName(t.spans, "workflow echo_twice").length === 1)) return true;
      throw new Error(`services ${await j.services()}; ${got.length} traces of ${loud}`);
    }, PATIENCE_MS);
    assert.deepEqual(await j.traces(quiet), []);
    assert.ok(!(await j.services()).includes(quiet), "the unsampled proxy never reported");
  },
});

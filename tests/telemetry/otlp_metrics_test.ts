/**
 * OTLP metrics from a real proxy process: with `metricsEnabled` (and tracing off) the proxy sends
 * the MCP operation-duration histograms of client and backend requests to the collector's
 * `/v1/metrics` (here a real HTTP server recording what it receives), and no spans at all.
 * @module
 */
import assert from "node:assert/strict";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { spawnProxy } from "../auth/process.ts";
import { connect } from "../proxy/helpers.ts";
import { until } from "../harness/until.ts";

/** An OTLP/HTTP collector stand-in: records each POST's path and body (as text). */
function captureCollector() {
  const posts: { path: string; text: string }[] = [];
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    async (req) => {
      const bytes = new Uint8Array(await req.arrayBuffer());
      // JSON or protobuf: metric names and attribute values are plain text in both.
      posts.push({
        path: new URL(req.url).pathname,
        text: new TextDecoder("latin1").decode(bytes),
      });
      return new Response("{}", { headers: { "content-type": "application/json" } });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    posts,
    stop: async () => {
      ac.abort();
      await server.finished;
    },
  };
}

Deno.test("metricsEnabled sends the server and client operation-duration histograms over OTLP, and no spans while tracing is off", async () => {
  const collector = captureCollector();
  const backend = await serveHttpBackend({ name: "alpha" });
  const proxy = await spawnProxy(
    {
      name: "vmcp-metrics",
      groupRef: { name: "g" },
      backends: [{ name: "alpha", url: backend.url }],
      telemetry: { endpoint: collector.url, metricsEnabled: true, tracingEnabled: false },
    },
    {},
    { logLevel: "info" },
  );
  try {
    const c = await connect(proxy.url);
    await c.client.callTool({ name: "alpha_echo", arguments: { message: "secret-argument" } });
    await c.client.listTools();
    await c.close();
  } finally {
    await proxy.stop(); // shutting down exports what the meter holds
    await backend.stop();
  }
  try {
    const metrics = await until("OTLP metrics at the collector", () => {
      const got = collector.posts.filter((p) => p.path === "/v1/metrics");
      return Promise.resolve(got.length > 0 ? got.map((p) => p.text).join("\n") : undefined);
    });
    assert.match(metrics, /mcp\.server\.operation\.duration/);
    assert.match(metrics, /mcp\.client\.operation\.duration/);
    assert.match(metrics, /tools\/call/);
    assert.match(metrics, /tools\/list/);
    assert.match(metrics, /vmcp-metrics/, "service.name defaults to the config's name");
    assert.doesNotMatch(metrics, /secret-argument/);
    assert.deepEqual(collector.posts.filter((p) => p.path === "/v1/traces"), [], "no spans");
  } finally {
    await collector.stop();
  }
});

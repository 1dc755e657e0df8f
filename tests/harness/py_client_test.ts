/**
 * The Python client (official `mcp` SDK, default `auto` negotiation) against servers nobody here
 * wrote the protocol side of: server-everything (v1 SDK, 2025-11-25, sessionful) and a v2-SDK
 * server that speaks only 2026-07-28 (our conformance fixture's modern leg).
 */
import assert from "node:assert/strict";
import { provisionPythonMcp } from "./python.ts";
import { describeRun, runPythonClient } from "./py_client.ts";
import { startEverythingHttp } from "./everything_http.ts";
import { serveConformanceBackend } from "../fixtures/conformance_backend.ts";
import { createMcpHandlerV2, McpServerV2 } from "../../core/sdk.ts";

const py = await provisionPythonMcp();
const ignoreReason = py.ok ? "" : ` (ignored: ${py.reason.slice(0, 200)})`;
const python = py.ok ? py.python : "";

Deno.test({
  name:
    "the Python client falls back to 2025-11-25 on server-everything and calls, sees progress " +
    "and answers elicitation" + ignoreReason,
  ignore: !py.ok,
  async fn() {
    const everything = await startEverythingHttp();
    try {
      const run = await runPythonClient({
        python,
        url: everything.url,
        calls: [
          { name: "echo", arguments: { message: "hi" } },
          { name: "trigger-long-running-operation", arguments: { duration: 1, steps: 2 } },
          { name: "trigger-elicitation-request" },
        ],
        elicit: { action: "accept", content: { name: "Bob", check: true } },
      });
      const why = describeRun(run);
      assert.equal(run.code, 0, why);
      assert.equal(run.first("connected")?.protocolVersion, "2025-11-25", why);
      assert.equal(run.first("connected")?.era, "legacy", why);
      assert.ok((run.first("tools")?.names as string[]).includes("echo"), why);
      const results = run.all("result");
      assert.match(JSON.stringify(results[0]?.result), /Echo: hi/, why);
      assert.deepEqual(run.all("progress").map((p) => p.progress), [1, 2], why);
      assert.equal(run.all("elicitation").length, 1, why);
      assert.match(JSON.stringify(results[2]?.result), /Name: Bob/, why);
      assert.equal(run.all("error").length, 0, why);
    } finally {
      await everything.stop();
    }
  },
});

Deno.test({
  name: "the Python client negotiates 2026-07-28 with a modern-only v2 server and lists and calls" +
    ignoreReason,
  ignore: !py.ok,
  async fn() {
    const handler = createMcpHandlerV2(() => {
      const s = new McpServerV2({ name: "inline-v2", version: "1.0.0" }, {
        capabilities: { tools: {} },
      });
      s.registerTool(
        "shout",
        { description: "Upper-cases text", inputSchema: {} },
        () => ({ content: [{ type: "text" as const, text: "HELLO" }] }),
      );
      return s;
    }, { legacy: "reject", keepAliveMs: 0 });
    const abort = new AbortController();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: abort.signal, onListen: () => {} },
      (req) => handler.fetch(req),
    );
    try {
      const run = await runPythonClient({
        python,
        url: `http://127.0.0.1:${server.addr.port}/mcp`,
        calls: [{ name: "shout" }],
      });
      const why = describeRun(run);
      assert.equal(run.code, 0, why);
      assert.equal(run.first("connected")?.protocolVersion, "2026-07-28", why);
      assert.equal(run.first("connected")?.era, "modern", why);
      assert.deepEqual(run.first("tools")?.names, ["shout"], why);
      assert.match(JSON.stringify(run.first("result")?.result), /HELLO/, why);
    } finally {
      await handler.close();
      abort.abort();
      await server.finished;
    }
  },
});

Deno.test({
  name: "the Python client answers input_required through its elicitation callback and sees " +
    "progress on 2026-07-28" + ignoreReason,
  ignore: !py.ok,
  async fn() {
    const backend = await serveConformanceBackend();
    try {
      const run = await runPythonClient({
        python,
        url: backend.url,
        calls: [
          { name: "test_input_required_result_elicitation" },
          { name: "test_tool_with_progress" },
        ],
        elicit: { action: "accept", content: { name: "Ada" } },
      });
      const why = describeRun(run);
      assert.equal(run.code, 0, why);
      assert.equal(run.first("connected")?.protocolVersion, "2026-07-28", why);
      assert.equal(run.all("elicitation").length, 1, why);
      assert.match(JSON.stringify(run.first("elicitation")?.params), /What is your name/, why);
      assert.match(JSON.stringify(run.all("result")[0]?.result), /Hello, Ada!/, why);
      assert.deepEqual(run.all("progress").map((p) => p.progress), [0, 50, 100], why);
      // The fixture kept no legacy session: everything was stateless.
      assert.equal(backend.sessions(), 0);
    } finally {
      await backend.stop();
    }
  },
});

/**
 * A client nobody here wrote, through vmcp's front door at MCP 2026-07-28: the official Python SDK
 * (PyPI `mcp`, pinned by tests/harness/python.ts) in its default `auto` negotiation, in front of
 * the third-party reference server-everything (v1 SDK, a 2025-era stdio backend).
 * Ignored, with the reason in the name, when python3/venv/pip are unavailable.
 */
import assert from "node:assert/strict";
import { provisionPythonMcp } from "../harness/python.ts";
import { describeRun, runPythonClient } from "../harness/py_client.ts";
import { everythingServerCommand } from "../fixtures/everything.ts";
import { serveV2Backend } from "../fixtures/v2_backend.ts";
import { config, proxy } from "./helpers.ts";

const py = await provisionPythonMcp();
const ignoreReason = py.ok ? "" : ` (ignored: ${py.reason.slice(0, 200)})`;

function everythingBehindVmcp() {
  const e = everythingServerCommand();
  return proxy(config({
    aggregation: { conflictResolution: "priority" },
    operational: { timeouts: { default: "60s" } },
    backends: [{
      name: "every",
      transport: "stdio",
      command: e.command,
      args: e.args,
      env: e.env,
      cwd: e.cwd,
    }],
  }));
}

Deno.test({
  name: "the Python SDK client negotiates 2026-07-28 with vmcp without falling back, lists " +
    "server-everything's tools and calls echo" + ignoreReason,
  ignore: !py.ok,
  async fn() {
    assert.ok(py.ok);
    const p = await everythingBehindVmcp();
    try {
      const run = await runPythonClient({
        python: py.python,
        url: p.url,
        calls: [{ name: "echo", arguments: { message: "from python" } }],
      });
      const why = describeRun(run);
      assert.equal(run.code, 0, why);
      assert.equal(run.first("connected")?.protocolVersion, "2026-07-28", why);
      assert.equal(run.first("connected")?.era, "modern", why);
      const names = run.first("tools")?.names as string[];
      assert.ok(names.includes("echo") && names.includes("get-sum"), why);
      assert.match(JSON.stringify(run.first("result")?.result), /Echo: from python/, why);
      assert.deepEqual(run.all("error"), [], why);
    } finally {
      await p.stop();
    }
  },
});

Deno.test({
  name: "server-everything's elicitation reaches the Python SDK client through vmcp as " +
    "input_required and its answer reaches the backend" + ignoreReason,
  ignore: !py.ok,
  async fn() {
    assert.ok(py.ok);
    const p = await everythingBehindVmcp();
    try {
      const run = await runPythonClient({
        python: py.python,
        url: p.url,
        calls: [
          { name: "trigger-long-running-operation", arguments: { duration: 1, steps: 2 } },
          { name: "trigger-elicitation-request" },
        ],
        elicit: { action: "accept", content: { name: "Grace", check: true } },
      });
      const why = describeRun(run);
      assert.equal(run.first("connected")?.protocolVersion, "2026-07-28", why);
      assert.deepEqual(run.all("progress").map((e) => e.progress), [1, 2], why);
      assert.equal(run.all("elicitation").length, 1, why);
      assert.match(JSON.stringify(run.all("result")[1]?.result), /Name: Grace/, why);
      assert.deepEqual(run.all("error"), [], why);
    } finally {
      await p.stop();
    }
  },
});

Deno.test({
  name: "the Python SDK client through vmcp reaches a 2026-07-28-only backend (v2 SDK, " +
    "stateless) that vmcp itself speaks 2026-07-28 to" + ignoreReason,
  ignore: !py.ok,
  async fn() {
    assert.ok(py.ok);
    const v2 = await serveV2Backend({ name: "v2" });
    const p = await proxy(config({
      aggregation: { conflictResolution: "priority" },
      backends: [{ name: "v2", url: v2.url }],
    }));
    try {
      const run = await runPythonClient({
        python: py.python,
        url: p.url,
        calls: [
          { name: "echo", arguments: { message: "from python to v2" } },
          { name: "progress", arguments: { steps: 3 } },
        ],
      });
      const why = describeRun(run);
      assert.equal(run.code, 0, why);
      assert.equal(run.first("connected")?.protocolVersion, "2026-07-28", why);
      const names = run.first("tools")?.names as string[];
      assert.ok(names.includes("echo") && names.includes("progress"), why);
      assert.match(JSON.stringify(run.all("result")[0]?.result), /from python to v2/, why);
      assert.deepEqual(run.all("progress").map((e) => e.progress), [1, 2, 3], why);
      assert.deepEqual(run.all("error"), [], why);
      // vmcp spoke 2026-07-28 to the backend, with no session, naming the tool in the headers.
      const calls = v2.recorded.filter((r) => r.method === "tools/call");
      assert.ok(calls.length >= 2, JSON.stringify(v2.recorded.map((r) => r.method)));
      for (const c of calls) {
        assert.equal(c.headers["mcp-protocol-version"], "2026-07-28");
        assert.equal(c.headers["mcp-session-id"], undefined);
      }
      assert.deepEqual(calls.map((c) => c.headers["mcp-name"]), ["echo", "progress"]);
    } finally {
      await p.stop();
      await v2.stop();
    }
  },
});

/**
 * The raw-HTTP load client against real servers: a 2025-11-25 SDK backend (sessions, GET
 * stream) and a 2026-07-28 v2 SDK server (envelope and standard headers), each call with its
 * own argument.
 */
import assert from "node:assert/strict";
import { serveHttpBackend } from "../tests/fixtures/serve_http.ts";
import { serveV2Backend } from "../tests/fixtures/v2_backend.ts";
import { bodyParts, runRawLoad } from "./raw_load.ts";

Deno.test("raw bodies are the JSON-RPC tools/call of each era with the argument in place", () => {
  const assemble = (era: "legacy" | "modern") => {
    const [a, b, c] = bodyParts(era, "b0_échо");
    return JSON.parse(a + 7 + b + "m7" + c);
  };
  assert.deepEqual(assemble("legacy"), {
    jsonrpc: "2.0",
    id: 7,
    method: "tools/call",
    params: { name: "b0_échо", arguments: { message: "m7" } },
  });
  const modern = assemble("modern");
  assert.deepEqual(modern.params.arguments, { message: "m7" });
  assert.deepEqual(modern.params._meta, {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": { name: "vmcp-bench", version: "1.0.0" },
  });
});

Deno.test("legacy raw load: every call answered on its session, each with its own argument", async () => {
  const backend = await serveHttpBackend({ name: "raw", jsonResponse: true });
  try {
    const stats = await runRawLoad({
      url: backend.url,
      era: "legacy",
      tool: "echo",
      concurrency: 3,
      calls: 30,
      warmup: 6,
      maxSeconds: 30,
      pid: Deno.pid,
    });
    assert.equal(stats.errors, 0, stats.firstError ?? "");
    assert.equal(stats.count, 30);
    assert.ok(stats.cpuSeconds !== undefined && stats.cpuSeconds >= 0);
    const messages = backend.state.calls.map((c) => (c.args as { message?: unknown }).message);
    assert.equal(new Set(messages).size, 36, "36 distinct arguments reached the backend");
    assert.equal(backend.sessions(), 0, "every session ended (DELETE)");
  } finally {
    await backend.stop();
  }
});

Deno.test("modern raw load: the v2 SDK server accepts the envelope and headers of every call", async () => {
  const backend = await serveV2Backend();
  try {
    const stats = await runRawLoad({
      url: backend.url,
      era: "modern",
      tool: "echo",
      concurrency: 2,
      calls: 20,
      warmup: 2,
      maxSeconds: 30,
    });
    assert.equal(stats.errors, 0, stats.firstError ?? "");
    assert.equal(stats.count, 20);
    const calls = backend.recorded.filter((r) => r.method === "tools/call");
    assert.equal(calls.length, 22);
    assert.equal(calls[0]!.headers["mcp-name"], "echo");
    assert.equal(calls[0]!.headers["mcp-protocol-version"], "2026-07-28");
  } finally {
    await backend.stop();
  }
});

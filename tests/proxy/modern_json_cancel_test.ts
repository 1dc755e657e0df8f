/**
 * A MCP 2026-07-28 client cancels a call by aborting its POST (there is no
 * `notifications/cancelled` in the stateless era). For a JSON-answered call (no progress token,
 * no log level) the proxy learns of it only from the connection: a real `fetch` that aborts
 * while a slow tool runs on a real backend makes the backend see `notifications/cancelled`.
 */
import assert from "node:assert/strict";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { config, proxy, waitFor } from "./helpers.ts";

const V = "2026-07-28";
const PV = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";

Deno.test("modern: aborting a JSON-answered call cancels the backend call", async () => {
  const web = await serveHttpBackend({ name: "web" });
  const p = await proxy(config({ backends: [{ name: "web", url: web.url }] }));
  try {
    const ac = new AbortController();
    const answer = fetch(p.url, {
      method: "POST",
      signal: ac.signal,
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": V,
        "mcp-method": "tools/call",
        "mcp-name": "web_slow",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 7,
        method: "tools/call",
        params: {
          name: "web_slow",
          arguments: { ms: 120_000, steps: 1200 },
          _meta: { [PV]: V, [CAPS]: {} },
        },
      }),
    }).then(() => "answered", (err) => (err as Error).name);
    await waitFor(() => web.state.calls.some((c) => c.tool === "slow"), undefined, "the call");
    ac.abort();
    assert.equal(await answer, "AbortError");
    await waitFor(() => web.state.cancellations === 1, undefined, "the backend call cancelled");
  } finally {
    await p.stop();
    await web.stop();
  }
});

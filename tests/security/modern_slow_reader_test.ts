/**
 * A hostile MCP 2026-07-28 client that asks for an SSE answer (a progress token) and never
 * reads it cannot make vmcp hold everything the backend sends meanwhile (ADR 0010 §2, "every
 * resource a client can make vmcp hold is bounded"), through a real proxy in front of a real
 * SDK backend whose tool sends 24 MB of progress notifications: past a bounded queue the
 * answer's notifications are dropped, and the result still arrives when the client reads.
 */
import assert from "node:assert/strict";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import type { TestTool } from "../fixtures/backend.ts";
import { config, proxy, waitFor } from "../proxy/helpers.ts";
import { V } from "../proxy/mrtr_helpers.ts";

const PV = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";
const COUNT = 400;
const SIZE = 60_000;

let finished = false;
const flood: TestTool = {
  name: "flood",
  description: "Sends COUNT progress notifications of SIZE characters, then answers",
  handler: async (_args, { extra }) => {
    const progressToken = extra._meta?.progressToken;
    const message = "p".repeat(SIZE);
    for (let i = 0; i < COUNT; i++) {
      await extra.sendNotification({
        method: "notifications/progress",
        params: { progressToken: progressToken!, progress: i, total: COUNT, message },
      });
    }
    finished = true;
    return { content: [{ type: "text", text: "flooded" }] };
  },
};

Deno.test("hostile modern client: an SSE answer nobody reads holds a bounded queue; the result still arrives", async () => {
  const web = await serveHttpBackend({ name: "web", extraTools: [flood] });
  const p = await proxy(config({ backends: [{ name: "web", url: web.url }] }));
  try {
    const res = await fetch(p.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": V,
        "mcp-method": "tools/call",
        "mcp-name": "web_flood",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: {
          name: "web_flood",
          arguments: {},
          _meta: { [PV]: V, [CAPS]: {}, progressToken: "t" },
        },
      }),
    });
    assert.equal(res.status, 200);
    // The client reads nothing until the proxy has the call's result.
    await waitFor(() => finished, undefined, "the backend sent everything");
    await waitFor(
      async () =>
        /vmcp_requests_total\{method="tools\/call",status="ok"\} 1/.test(
          await (await p.metrics.render()).text(),
        ),
      undefined,
      "the proxy has the call's result",
    );
    const text = await res.text();
    const progress = text.split("notifications/progress").length - 1;
    assert.match(text, /"text":"flooded"/);
    assert.ok(progress < COUNT, `all ${COUNT} notifications (24 MB) were held for the client`);
  } finally {
    await p.stop();
    await web.stop();
  }
});

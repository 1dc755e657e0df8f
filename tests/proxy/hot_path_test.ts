/**
 * The lean hot path (docs/adr/0004-proxy-hot-path.md): aggregated lists are serialized once per
 * list version and answered from that text, on plain JSON and on SSE answers alike, with the
 * request id of each request, and a changed list is never answered from a stale text.
 */
import assert from "node:assert/strict";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { config, connect, post, proxy, waitFor } from "./helpers.ts";

function sseMessages(text: string): unknown[] {
  return text.split("\n").filter((l) => l.startsWith("data: ")).map((l) => JSON.parse(l.slice(6)));
}

Deno.test("tools/list answered from pre-serialized text equals the list, keeps each request id, and follows list changes", async () => {
  const web = await serveHttpBackend({ name: "web", tools: 3 });
  const p = await proxy(config({ backends: [{ name: "web", url: web.url }] }));
  const c = await connect(p.url);
  try {
    const headers = {
      "mcp-session-id": c.transport.sessionId!,
      "mcp-protocol-version": c.transport.protocolVersion!,
    };
    const expected = JSON.parse(JSON.stringify(p.runtime.lists.tools));
    for (const id of [7, "seven", 8]) {
      const res = await post(
        p.url,
        JSON.stringify({ jsonrpc: "2.0", id, method: "tools/list" }),
        headers,
      );
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
      assert.equal(res.headers.get("mcp-session-id"), c.transport.sessionId);
      assert.deepEqual(res.json, { result: { tools: expected }, jsonrpc: "2.0", id });
    }

    // A batch is answered on an SSE stream: the same result, serialized the ordinary way.
    const batch = await post(
      p.url,
      JSON.stringify([{ jsonrpc: "2.0", id: 9, method: "tools/list" }]),
      headers,
    );
    assert.equal(batch.status, 200);
    assert.deepEqual(sseMessages(batch.text), [{
      result: { tools: expected },
      jsonrpc: "2.0",
      id: 9,
    }]);

    // The SDK client reads the same list.
    assert.deepEqual(
      (await c.client.listTools()).tools.map((t) => t.name),
      expected.map((t: { name: string }) => t.name),
    );

    // A list change is served at once (the text is kept per list version).
    await web.state.addTool({
      name: "fresh",
      inputSchema: { type: "object" },
      handler: () => ({ content: [{ type: "text", text: "fresh" }] }),
    });
    await waitFor(
      async () => {
        const res = await post(
          p.url,
          JSON.stringify({ jsonrpc: "2.0", id: 10, method: "tools/list" }),
          headers,
        );
        const tools =
          (res.json as unknown as { result: { tools: { name: string }[] } }).result.tools;
        return tools.some((t) => t.name === "web_fresh");
      },
      5000,
      "the new tool in the pre-serialized listing",
    );

    // Other lists take the same path.
    const prompts = await post(
      p.url,
      JSON.stringify({ jsonrpc: "2.0", id: 11, method: "prompts/list" }),
      headers,
    );
    assert.deepEqual(prompts.json, {
      result: { prompts: JSON.parse(JSON.stringify(p.runtime.lists.prompts)) },
      jsonrpc: "2.0",
      id: 11,
    });
  } finally {
    await c.close();
    await p.stop();
    await web.stop();
  }
});

import assert from "node:assert/strict";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { config, connect, proxy } from "./helpers.ts";

Deno.test("a client lists and calls a tool of an HTTP backend through the proxy", async () => {
  const b = await serveHttpBackend({ name: "alpha" });
  const p = await proxy(config({ backends: [{ name: "alpha", url: b.url }] }));
  const c = await connect(p.url);
  try {
    const { tools } = await c.client.listTools();
    assert.ok(tools.some((t) => t.name === "alpha_echo"), JSON.stringify(tools.map((t) => t.name)));
    const r = await c.client.callTool({ name: "alpha_echo", arguments: { message: "hi" } });
    assert.deepEqual(r.structuredContent, { message: "hi", backend: "alpha" });
  } finally {
    await c.close();
    await p.stop();
    await b.stop();
  }
});

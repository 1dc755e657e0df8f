/** Clients of every protocol revision the SDK supports can initialize and use the proxy. */
import assert from "node:assert/strict";
import { SUPPORTED_PROTOCOL_VERSIONS } from "../../core/sdk.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { config, post, proxy } from "./helpers.ts";

Deno.test("each supported protocol revision negotiates itself and lists and calls tools", async () => {
  const web = await serveHttpBackend({ name: "web" });
  const p = await proxy(config({ backends: [{ name: "web", url: web.url }] }));
  try {
    assert.ok(SUPPORTED_PROTOCOL_VERSIONS.includes("2025-11-25"));
    assert.ok(SUPPORTED_PROTOCOL_VERSIONS.includes("2024-11-05"));
    for (const version of SUPPORTED_PROTOCOL_VERSIONS) {
      const init = await post(
        p.url,
        JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: {
            protocolVersion: version,
            capabilities: {},
            clientInfo: { name: "v", version: "1" },
          },
        }),
      );
      assert.equal(init.status, 200, `${version}: ${init.text}`);
      const result = parseRpc(init.text) as { result: { protocolVersion: string } };
      assert.equal(result.result.protocolVersion, version);
      const session = init.headers.get("mcp-session-id")!;
      const headers = { "mcp-session-id": session, "mcp-protocol-version": version };
      await post(
        p.url,
        JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
        headers,
      );
      const call = await post(
        p.url,
        JSON.stringify({
          jsonrpc: "2.0",
          id: 2,
          method: "tools/call",
          params: { name: "web_echo", arguments: { message: version } },
        }),
        headers,
      );
      assert.equal(call.status, 200, `${version}: ${call.text}`);
      assert.match(call.text, new RegExp(version));
      const del = await fetch(p.url, { method: "DELETE", headers });
      await del.body?.cancel();
    }
  } finally {
    await p.stop();
    await web.stop();
  }
});

/** A JSON body, or the data of the first SSE event. */
function parseRpc(text: string): unknown {
  const data = text.trimStart().startsWith("{")
    ? text
    : text.split("\n").find((l) => l.startsWith("data: "))!.slice(6);
  return JSON.parse(data);
}

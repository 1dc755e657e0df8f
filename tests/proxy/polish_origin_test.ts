/**
 * DNS-rebinding defence on `/mcp`: a browser Origin that is not allowed gets 403 with a JSON-RPC
 * error naming it; clients without Origin, localhost origins (loopback listener), the
 * `server.publicUrl` host and `server.allowedOrigins` are served; hot reload changes the list.
 */
import assert from "node:assert/strict";
import { Client, StreamableHTTPClientTransport } from "../../core/sdk.ts";
import { createBackendFetch } from "../../core/http_client.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { config, connect, post, proxy } from "./helpers.ts";

const INIT = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-11-25",
    capabilities: {},
    clientInfo: { name: "raw", version: "1" },
  },
});

/** An SDK client whose every request carries `origin`. */
async function connectWithOrigin(url: string, origin: string) {
  const client = new Client({ name: "browser-like", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: createBackendFetch(),
    requestInit: { headers: { origin } },
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

/** POSTs initialize with `origin`; closes the session it may have opened. */
async function initWith(url: string, origin: string) {
  const res = await post(url, INIT, { origin });
  const sid = res.headers.get("mcp-session-id");
  if (sid) {
    await (await fetch(url, { method: "DELETE", headers: { "mcp-session-id": sid } })).body
      ?.cancel();
  }
  return res;
}

Deno.test("a foreign Origin gets 403 naming it; no Origin and localhost origins are served on a loopback listener", async () => {
  const web = await serveHttpBackend({ name: "web" });
  const p = await proxy(config({ backends: [{ name: "web", url: web.url }] }));
  try {
    const refused = await initWith(p.url, "http://evil.example:8080");
    assert.equal(refused.status, 403);
    assert.equal(refused.json.error?.code, -32000);
    assert.match(
      refused.json.error!.message,
      /Origin "http:\/\/evil\.example:8080" is not allowed/,
    );
    assert.equal(refused.headers.get("mcp-session-id"), null);
    assert.equal(p.runtime.sessions.size, 0, "no session was created for the refused origin");

    // A real SDK client from a foreign origin cannot even initialize.
    await assert.rejects(connectWithOrigin(p.url, "https://attacker.test"), /403|not allowed/);

    // An established session cannot be used from a foreign origin either (GET and POST).
    const plain = await connect(p.url);
    const sid = plain.transport.sessionId!;
    const get = await fetch(p.url, {
      headers: { accept: "text/event-stream", "mcp-session-id": sid, origin: "null" },
    });
    assert.equal(get.status, 403);
    assert.match((await get.json()).error.message, /Origin "null"/);
    const list = await post(
      p.url,
      JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
      {
        "mcp-session-id": sid,
        origin: "http://127.0.0.1.evil.example",
      },
    );
    assert.equal(list.status, 403);

    // Without Origin (plain SDK client) and from localhost pages it works.
    const r = await plain.client.callTool({ name: "web_echo", arguments: { message: "hi" } });
    assert.deepEqual(r.structuredContent, { message: "hi", backend: "web" });
    await plain.close();
    for (const origin of ["http://localhost:6274", "http://127.0.0.1:3000", "http://[::1]:8080"]) {
      const c = await connectWithOrigin(p.url, origin);
      const names = (await c.client.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes("web_echo"), `${origin}: ${names}`);
      await c.close();
    }
  } finally {
    await p.stop();
    await web.stop();
  }
});

Deno.test("the publicUrl host and server.allowedOrigins are served, others refused; hot reload changes the list", async () => {
  const web = await serveHttpBackend({ name: "web" });
  const cfg = config({
    server: {
      publicUrl: "https://mcp.example.com/",
      allowedOrigins: ["https://app.example.org"],
    },
    backends: [{ name: "web", url: web.url }],
  });
  const p = await proxy(cfg);
  try {
    assert.equal((await initWith(p.url, "https://mcp.example.com")).status, 200);
    assert.equal((await initWith(p.url, "https://app.example.org")).status, 200);
    assert.equal((await initWith(p.url, "https://app.example.org:8443")).status, 403);
    assert.equal((await initWith(p.url, "https://other.example.org")).status, 403);

    const c = await connectWithOrigin(p.url, "https://app.example.org");
    const r = await c.client.callTool({ name: "web_echo", arguments: { message: "app" } });
    assert.deepEqual(r.structuredContent, { message: "app", backend: "web" });
    await c.close();

    await p.reload(config({
      server: { allowedOrigins: ["*"] },
      backends: [{ name: "web", url: web.url }],
    }));
    assert.equal((await initWith(p.url, "https://other.example.org")).status, 200);
  } finally {
    await p.stop();
    await web.stop();
  }
});

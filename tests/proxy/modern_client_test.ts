/**
 * The v2 TypeScript client in `auto` mode against vmcp in front of the third-party reference
 * server (@modelcontextprotocol/server-everything, a legacy stdio server): it negotiates MCP
 * 2026-07-28 with `server/discover` (no fallback to `initialize`), lists and calls tools, and a
 * call with a progress token gets the backend's progress notifications.
 */
import assert from "node:assert/strict";
import { ClientV2, StreamableHTTPClientTransportV2 } from "../../core/sdk.ts";
import { proxyBeforeEverything } from "./helpers.ts";

Deno.test("modern: a v2 client in auto mode talks 2026-07-28 to vmcp in front of server-everything", async () => {
  const p = await proxyBeforeEverything();
  const sent: string[] = [];
  const client = new ClientV2({ name: "modern-test", version: "1.0.0" }, {
    versionNegotiation: { mode: "auto" },
  });
  const transport = new StreamableHTTPClientTransportV2(new URL(p.url), {
    fetch: async (u, init) => {
      const body = typeof init?.body === "string" ? JSON.parse(init.body) : undefined;
      if (body?.method) sent.push(body.method);
      return await fetch(u, init);
    },
  });
  try {
    await client.connect(transport);
    assert.equal(client.getNegotiatedProtocolVersion(), "2026-07-28");
    assert.ok(!sent.includes("initialize"), `no fallback: ${sent.join(",")}`);
    assert.equal(sent[0], "server/discover");

    const names = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes("every_echo"), names.join(","));
    const r = await client.callTool({ name: "every_echo", arguments: { message: "hi modern" } });
    assert.match(JSON.stringify(r.content), /hi modern/);

    const progress: number[] = [];
    const long = await client.callTool(
      { name: "every_trigger-long-running-operation", arguments: { duration: 1, steps: 4 } },
      { onprogress: (n) => void progress.push(n.progress) },
    );
    assert.match(JSON.stringify(long.content), /Long running operation completed/);
    // The backend sends its last progress right before its result; at least the earlier ones
    // arrive, in order.
    assert.ok(progress.length >= 3, `progress: ${progress.join(",")}`);
    assert.deepEqual(progress.slice(0, 3), [1, 2, 3]);
  } finally {
    await client.close().catch(() => {});
    await p.stop();
  }
});

/**
 * `subscriptions/listen` end to end (ADR 0010 §5): a config reload that adds or removes a
 * backend reaches modern listen streams (raw HTTP contract and the v2 SDK client's `listen()`)
 * as well as legacy sessions, and a listen stream the client drops leaves nothing behind.
 */
import assert from "node:assert/strict";
import {
  ClientV2,
  StreamableHTTPClientTransportV2,
  ToolListChangedNotificationSchema,
} from "../../core/sdk.ts";
import { SseReader } from "../harness/sse_reader.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { config, connect, PATIENCE_MS, proxy, waitFor } from "./helpers.ts";

const MODERN = "2026-07-28";
const SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId";

/** POSTs a modern `subscriptions/listen` request; the caller cancels the body. */
function openListen(url: string, id: string, notifications: Record<string, unknown>) {
  return fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": MODERN,
      "mcp-method": "subscriptions/listen",
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id,
      method: "subscriptions/listen",
      params: {
        _meta: {
          "io.modelcontextprotocol/protocolVersion": MODERN,
          "io.modelcontextprotocol/clientCapabilities": {},
          "io.modelcontextprotocol/clientInfo": { name: "listen-test", version: "1.0.0" },
        },
        notifications,
      },
    }),
  });
}

const backends = (list: { name: string; url: string }[]) =>
  config({ name: "listen", backends: list.map((b) => ({ name: b.name, url: b.url })) });

Deno.test("a config reload that adds or removes a backend reaches a modern listen stream and a legacy session", async () => {
  const one = await serveHttpBackend({ name: "one" });
  const two = await serveHttpBackend({ name: "two" });
  const p = await proxy(backends([{ name: "one", url: one.url }]));
  const legacy = await connect(p.url);
  let reader: SseReader | undefined;
  try {
    let legacyChanges = 0;
    legacy.client.setNotificationHandler(
      ToolListChangedNotificationSchema,
      () => void legacyChanges++,
    );
    const res = await openListen(p.url, "listen-1", { toolsListChanged: true });
    if (res.status !== 200) assert.fail(`listen refused: ${res.status} ${await res.text()}`);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    reader = new SseReader(res);
    const ack = await reader.message();
    assert.equal(ack.method, "notifications/subscriptions/acknowledged");
    const ackParams = ack.params as Record<string, Record<string, unknown>>;
    assert.deepEqual(ackParams.notifications, { toolsListChanged: true });
    assert.equal(ackParams._meta?.[SUBSCRIPTION_ID], "listen-1");
    await waitFor(() => p.runtime.listenHub.size === 1, PATIENCE_MS, "the stream to register");

    await p.reload(backends([{ name: "one", url: one.url }, { name: "two", url: two.url }]));
    const added = await reader.message();
    assert.equal(added.method, "notifications/tools/list_changed");
    assert.equal(
      (added.params as Record<string, Record<string, unknown>>)._meta?.[SUBSCRIPTION_ID],
      "listen-1",
    );
    const names = (await legacy.client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes("two_echo"), String(names));

    await p.reload(backends([{ name: "two", url: two.url }]));
    // Only the asked-for kind arrives (the backends' resources and prompts changed too).
    assert.equal((await reader.message()).method, "notifications/tools/list_changed");
    await waitFor(() => legacyChanges >= 2, PATIENCE_MS, "legacy list_changed after both reloads");

    await reader.cancel();
    reader = undefined;
    await waitFor(() => p.runtime.listenHub.size === 0, PATIENCE_MS, "the stream to be released");
  } finally {
    await reader?.cancel();
    await legacy.close();
    await p.stop();
    await one.stop();
    await two.stop();
  }
});

Deno.test("the v2 SDK client (auto negotiation) listen() hears a backend added by a reload and releases the stream on close", async () => {
  const one = await serveHttpBackend({ name: "one" });
  const two = await serveHttpBackend({ name: "two" });
  const p = await proxy(backends([{ name: "one", url: one.url }]));
  const client = new ClientV2({ name: "listen-v2", version: "1.0.0" }, {
    versionNegotiation: { mode: "auto" },
  });
  const transport = new StreamableHTTPClientTransportV2(new URL(p.url));
  try {
    await client.connect(transport);
    assert.equal(client.getNegotiatedProtocolVersion(), MODERN);
    let changes = 0;
    client.setNotificationHandler("notifications/tools/list_changed", () => void changes++);
    const sub = await client.listen({ toolsListChanged: true });
    await waitFor(() => p.runtime.listenHub.size === 1, PATIENCE_MS, "the stream to register");
    await p.reload(backends([{ name: "one", url: one.url }, { name: "two", url: two.url }]));
    await waitFor(() => changes >= 1, PATIENCE_MS, "tools/list_changed on the v2 listen stream");
    await sub.close();
    await waitFor(() => p.runtime.listenHub.size === 0, PATIENCE_MS, "the stream to be released");
  } finally {
    await client.close();
    await p.stop();
    await one.stop();
    await two.stop();
  }
});

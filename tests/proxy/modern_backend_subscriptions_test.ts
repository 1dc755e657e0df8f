/**
 * Resource subscriptions of URIs served by an MCP 2026-07-28 backend (ADR 0010 §5, last bullet),
 * end to end through a real proxy with OIDC incoming auth (a real JWKS issuer) and the v2
 * fixture backend (which has no `resources/subscribe`: updates travel on `subscriptions/listen`
 * streams, one per identity from vmcp). A legacy client's `resources/subscribe` answers `{}` and
 * its updates reach that session only; a modern client's listen stream gets the URI
 * acknowledged and its updates; another identity gets nothing; unsubscribing stops them.
 */
import assert from "node:assert/strict";
import { ResourceUpdatedNotificationSchema } from "../../core/sdk.ts";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { serveV2Backend } from "../fixtures/v2_backend.ts";
import { SseReader } from "../harness/sse_reader.ts";
import { authProxy, config, connectWithToken, oidcIncoming, waitFor } from "../auth/helpers.ts";

const V = "2026-07-28";
const PV = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";

type Json = Record<string, unknown>;

/** Opens a listen stream of the bearer of `token`; returns it and its acknowledged filter. */
async function listen(url: string, token: string, id: string, notifications: Json) {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": V,
      "mcp-method": "subscriptions/listen",
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id,
      method: "subscriptions/listen",
      params: { _meta: { [PV]: V, [CAPS]: {} }, notifications },
    }),
  });
  if (res.status !== 200) assert.fail(`listen refused: ${res.status} ${await res.text()}`);
  const reader = new SseReader(res);
  const ack = await reader.message();
  assert.equal(ack.method, "notifications/subscriptions/acknowledged");
  const got: Json[] = [];
  void (async () => {
    try {
      for (;;) {
        const f = await reader.next();
        if (!f) return;
        if ("message" in f && f.message.method === "notifications/resources/updated") {
          got.push(f.message.params as Json);
        }
      }
    } catch { /* cancelled */ }
  })();
  return { reader, got, ack: (ack.params as { notifications: Json }).notifications };
}

Deno.test("modern backend: resources/updated reaches the subscribing legacy session and listen stream only", async () => {
  const idp = await startOidcIssuer();
  const v2 = await serveV2Backend();
  const p = await authProxy(
    config({ incomingAuth: oidcIncoming(idp.issuer), backends: [{ name: "v2", url: v2.url }] }),
  );
  const readers: SseReader[] = [];
  const clients: { close(): Promise<void> }[] = [];
  try {
    const alice = await idp.sign({ sub: "alice" });
    const bob = await idp.sign({ sub: "bob" });
    const carol = await idp.sign({ sub: "carol" });
    const a = await connectWithToken(p.url, alice);
    clients.push(a);
    const b = await connectWithToken(p.url, bob);
    clients.push(b);
    const uri = (await a.client.listResources()).resources.map((r) => r.uri)
      .find((u) => u.includes("ticker"))!;
    assert.ok(uri, "the v2 backend's ticker resource is listed");
    const touch = (await a.client.listTools()).tools.find((t) => t.name.endsWith("touch"))!.name;
    const aliceGot: string[] = [];
    const bobGot: string[] = [];
    a.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      aliceGot.push(n.params.uri);
    });
    b.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      bobGot.push(n.params.uri);
    });

    // (a) a legacy session subscribes: {} (the backend has no resources/subscribe).
    assert.deepEqual(await a.client.subscribeResource({ uri }), {});
    // (b) a modern listen stream of another identity: the URI is acknowledged.
    const c = await listen(p.url, carol, "carol-listen", { resourceSubscriptions: [uri] });
    readers.push(c.reader);
    assert.deepEqual(c.ack, { resourceSubscriptions: [uri] });
    // Bob listens too, but not to the URI: he must get nothing of it.
    const bl = await listen(p.url, bob, "bob-listen", { resourcesListChanged: true });
    readers.push(bl.reader);
    const backend = p.proxy.runtime.backend("v2")!;
    assert.equal(backend.modernSubscriptionStreams, 2); // alice's and carol's

    await b.client.callTool({ name: touch, arguments: { uri } });
    await waitFor(() => aliceGot.length >= 1, undefined, "alice's update");
    await waitFor(() => c.got.length >= 1, undefined, "carol's update");
    assert.deepEqual(aliceGot, [uri]);
    assert.equal(c.got[0]!.uri, uri);
    assert.equal(
      (c.got[0]!._meta as Json)["io.modelcontextprotocol/subscriptionId"],
      "carol-listen",
    );

    // Alice unsubscribes: the next update reaches carol only.
    assert.deepEqual(await a.client.unsubscribeResource({ uri }), {});
    await b.client.callTool({ name: touch, arguments: { uri } });
    await waitFor(() => c.got.length >= 2, undefined, "carol's second update");
    assert.equal(backend.modernSubscriptionStreams, 1); // alice's closed when its set emptied
    // Carol's stream ends: vmcp's stream for her identity closes with it.
    await c.reader.cancel();
    await waitFor(
      () => backend.modernSubscriptionStreams === 0,
      undefined,
      "carol's stream closed",
    );
    // One more update marks the end: bob (and alice) still have nothing new.
    const d = await listen(p.url, carol, "carol-again", { resourceSubscriptions: [uri] });
    readers.push(d.reader);
    await b.client.callTool({ name: touch, arguments: { uri } });
    await waitFor(() => d.got.length >= 1, undefined, "carol's update on her new stream");
    assert.deepEqual(aliceGot, [uri], "no update after unsubscribe");
    assert.deepEqual(bobGot, [], "bob's session got nothing");
    assert.equal(bl.got.length, 0, "bob's listen stream got nothing");
  } finally {
    for (const r of readers) await r.cancel().catch(() => {});
    for (const c of clients) await c.close().catch(() => {});
    await p.stop();
    await v2.stop();
    await idp.stop();
  }
});

/**
 * Resource subscriptions of MCP 2026-07-28 listen streams (ADR 0010 §5) end to end, through a
 * real proxy with OIDC incoming auth (a real JWKS issuer): the subscription is made on the
 * identity's pooled backend session, `notifications/resources/updated` reaches only the
 * subscribing identity's stream (server-everything in its own Streamable HTTP mode emits the
 * updates), and when the stream ends the backend gets `resources/unsubscribe` and the pooled
 * session may expire again (a recording SDK backend).
 */
import assert from "node:assert/strict";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { startEverythingHttp } from "../harness/everything_http.ts";
import { SseReader } from "../harness/sse_reader.ts";
import { authProxy, config, oidcIncoming, post, waitFor } from "../auth/helpers.ts";

const V = "2026-07-28";
const PV = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";
const SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId";

type Json = Record<string, unknown>;
let nextId = 1;

/** One JSON-answered modern request of the bearer of `token`. */
async function rpc(url: string, token: string, method: string, params: Json = {}) {
  const name = (params.name ?? params.uri) as string | undefined;
  const body = { jsonrpc: "2.0", id: nextId++, method, params: { ...params, _meta: envelope() } };
  const r = await post(url, JSON.stringify(body), {
    "mcp-protocol-version": V,
    "mcp-method": method,
    ...(name !== undefined ? { "mcp-name": name } : {}),
    authorization: `Bearer ${token}`,
  });
  const json = r.json as { result?: Json; error?: unknown };
  if (r.status !== 200 || !json?.result) assert.fail(`${method}: ${r.status} ${r.text}`);
  return json.result;
}

const envelope = () => ({ [PV]: V, [CAPS]: {} });

/** Opens a listen stream of the bearer of `token` and returns it after its acknowledgement. */
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
      params: { _meta: envelope(), notifications },
    }),
  });
  if (res.status !== 200) assert.fail(`listen refused: ${res.status} ${await res.text()}`);
  const reader = new SseReader(res);
  const ack = await reader.message();
  assert.equal(ack.method, "notifications/subscriptions/acknowledged");
  return { reader, ack: (ack.params as { notifications: Json }).notifications };
}

const updatesOf = (got: Json[]) =>
  got.filter((m) => m.method === "notifications/resources/updated");

/** Collects a stream's messages in the background until it ends or is cancelled. */
function collect(reader: SseReader): Json[] {
  const got: Json[] = [];
  void (async () => {
    try {
      for (;;) {
        const f = await reader.next();
        if (!f) return;
        if ("message" in f) got.push(f.message);
      }
    } catch { /* cancelled, or quiet for 30 s */ }
  })();
  return got;
}

Deno.test("modern listen: server-everything's resources/updated reaches only the subscribing identity's stream", async () => {
  const idp = await startOidcIssuer();
  const ev = await startEverythingHttp();
  const p = await authProxy(
    config({ incomingAuth: oidcIncoming(idp.issuer), backends: [{ name: "ev", url: ev.url }] }),
  );
  const readers: SseReader[] = [];
  try {
    const alice = await idp.sign({ sub: "alice" });
    const bob = await idp.sign({ sub: "bob" });
    const resources = (await rpc(p.url, alice, "resources/list")).resources as { uri: string }[];
    const uri = resources[0]!.uri;
    const tools = (await rpc(p.url, alice, "tools/list")).tools as { name: string }[];
    const toggle = tools.find((t) => t.name.endsWith("toggle-subscriber-updates"))!.name;

    const a = await listen(p.url, alice, "alice-listen", { resourceSubscriptions: [uri] });
    readers.push(a.reader);
    assert.deepEqual(a.ack, { resourceSubscriptions: [uri] });
    const b = await listen(p.url, bob, "bob-listen", { toolsListChanged: true });
    readers.push(b.reader);
    const aliceGot = collect(a.reader);
    const bobGot = collect(b.reader);

    // server-everything sends updates of subscribed URIs on the sessions that turned them on:
    // both users turn them on (each on their own pooled backend session).
    await rpc(p.url, alice, "tools/call", { name: toggle, arguments: {} });
    await rpc(p.url, bob, "tools/call", { name: toggle, arguments: {} });
    const updates = () => updatesOf(aliceGot);
    await waitFor(() => updates().length >= 2, undefined, "two resource updates for alice");
    const first = updates()[0]!.params as Json & { _meta: Json };
    assert.equal(first.uri, uri);
    assert.equal(first._meta[SUBSCRIPTION_ID], "alice-listen");
    assert.deepEqual(updatesOf(bobGot), [], "bob's stream got nothing of alice's subscription");
    assert.equal(p.proxy.runtime.listenHub.resourceSubscriptions, 1);

    await a.reader.cancel();
    await waitFor(
      () => p.proxy.runtime.listenHub.resourceSubscriptions === 0,
      undefined,
      "alice's subscription released",
    );
  } finally {
    for (const r of readers) await r.cancel().catch(() => {});
    await p.stop();
    await ev.stop();
    await idp.stop();
  }
});

Deno.test("modern listen: the pooled backend session is held while subscribed; the stream's end unsubscribes and lets it expire", async () => {
  const idp = await startOidcIssuer();
  const web = await serveHttpBackend({ name: "web" });
  const p = await authProxy(
    config({
      incomingAuth: oidcIncoming(idp.issuer),
      backends: [{ name: "web", url: web.url }],
      sessionStorage: { ttl: "1s" },
    }),
  );
  const readers: SseReader[] = [];
  try {
    const backend = p.proxy.runtime.backend("web")!;
    const alice = await idp.sign({ sub: "alice" });
    const bob = await idp.sign({ sub: "bob" });
    const uri = "test://web/readme";
    const base = web.sessions(); // the proxy's own (discovery) connection

    const a = await listen(p.url, alice, "a1", { resourceSubscriptions: [uri] });
    readers.push(a.reader);
    assert.deepEqual(a.ack, { resourceSubscriptions: [uri] });
    assert.equal(web.state.subscriberCount(uri), 1);
    assert.equal(web.sessions(), base + 1); // alice's pooled backend session
    const aliceGot = collect(a.reader);
    const b = await listen(p.url, bob, "b1", { resourcesListChanged: true });
    readers.push(b.reader);
    const bobGot = collect(b.reader);

    await web.state.touch(uri);
    await waitFor(
      () => aliceGot.some((m) => m.method === "notifications/resources/updated"),
      undefined,
      "alice's update",
    );
    assert.deepEqual(updatesOf(bobGot), []);

    // Idle past sessionStorage.ttl, but subscribed: the sweep keeps it.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(backend.sweepIdentitySessions(), 0);
    assert.equal(web.sessions(), base + 1);

    await a.reader.cancel();
    await waitFor(() => web.state.subscriberCount(uri) === 0, undefined, "resources/unsubscribe");
    // Released: idle time counts again, and the session ends (DELETE) once past the ttl.
    await waitFor(
      () => (backend.sweepIdentitySessions(), web.sessions() === base),
      undefined,
      "the pooled backend session to expire",
    );
  } finally {
    for (const r of readers) await r.cancel().catch(() => {});
    await p.stop();
    await web.stop();
    await idp.stop();
  }
});

/**
 * `ModernSubscriptions` against the real v2 fixture backend (stateless `createMcpHandler`):
 * per-identity streams with the union of URIs, counting, replacement, closing, credentials.
 */
import assert from "node:assert/strict";
import { createLogger } from "../../core/log.ts";
import type { Identity } from "../../core/auth/identity.ts";
import { serveV2Backend } from "../../tests/fixtures/v2_backend.ts";
import { waitFor } from "../../tests/proxy/helpers.ts";
import { probeEra } from "./era_probe.ts";
import type { AnyObject, SessionPeer } from "./connection.ts";
import { listenOwner, ModernSubscriptions } from "./modern_subscriptions.ts";

const silent = createLogger({ level: "error", sink: () => {} });

function owner(id: string, subject: string): SessionPeer {
  const identity: Identity = { issuer: "https://idp", subject, claims: {} } as Identity;
  return {
    id,
    identity,
    request: () => Promise.reject(new Error("no")),
    notify: () => Promise.resolve(),
    clientCapabilities: () => undefined,
  };
}

Deno.test("ModernSubscriptions: one stream per identity with the union of URIs, counted, closed when empty", async () => {
  const v2 = await serveV2Backend();
  const got: [string, string][] = [];
  const authSeen: string[] = [];
  const verdict = await probeEra(
    { name: "v2", transport: "streamable-http", url: v2.url } as never,
    {},
    AbortSignal.timeout(30_000),
  );
  assert.equal(verdict.era, "modern");
  const discover = (verdict as { discover: AnyObject }).discover;
  const subs = new ModernSubscriptions({
    backend: "v2",
    url: v2.url,
    discover: () => Promise.resolve(discover),
    headersFor: (identity) => {
      authSeen.push(identity?.subject ?? "vmcp");
      return Promise.resolve({ authorization: `Bearer ${identity?.subject}` });
    },
    log: silent,
    onUpdated: (o, params) => got.push([o.id, params.uri as string]),
  });
  try {
    const a1 = owner("a1", "alice");
    const a2 = owner("a2", "alice");
    const bob = listenOwner({ identity: owner("x", "bob").identity, identityKey: "bob-key" });
    await subs.subscribe(a1, "v2://ticker");
    await subs.subscribe(a1, "v2://ticker"); // counted twice
    await subs.subscribe(a2, "v2://readme"); // same identity: the stream is replaced (union)
    await subs.subscribe(bob, "v2://readme");
    assert.equal(subs.size, 2);
    assert.ok(authSeen.includes("alice") && authSeen.includes("bob"));
    const listens = v2.recorded.filter((r) => r.method === "subscriptions/listen");
    assert.ok(listens.some((r) => r.headers.authorization === "Bearer alice"));

    const touch = async (uri: string) => {
      const before = got.length;
      await fetch(v2.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": "2026-07-28",
          "mcp-method": "tools/call",
          "mcp-name": "touch",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "tools/call",
          params: {
            name: "touch",
            arguments: { uri },
            _meta: {
              "io.modelcontextprotocol/protocolVersion": "2026-07-28",
              "io.modelcontextprotocol/clientCapabilities": {},
              "io.modelcontextprotocol/clientInfo": { name: "t", version: "1" },
            },
          },
        }),
      }).then((r) => r.body?.cancel());
      return before;
    };

    let from = await touch("v2://ticker");
    await waitFor(() => got.length > from, undefined, "ticker update");
    assert.deepEqual(got.slice(from), [["a1", "v2://ticker"]]);

    from = await touch("v2://readme");
    await waitFor(() => got.length >= from + 2, undefined, "readme updates");
    assert.deepEqual(
      got.slice(from).sort(),
      [["a2", "v2://readme"], ["listen\u0000bob-key", "v2://readme"]],
    );

    // One of a1's two subscriptions ends: still subscribed. The session ends: gone.
    await subs.unsubscribe(a1, "v2://ticker");
    await subs.dropOwner("a2");
    from = await touch("v2://ticker");
    await waitFor(() => got.length > from, undefined, "ticker update after one unsubscribe");
    assert.deepEqual(got.slice(from), [["a1", "v2://ticker"]]);
    await subs.unsubscribe(a1, "v2://ticker");
    assert.equal(subs.size, 1); // alice's set is empty: her stream closed
    await subs.unsubscribe(bob, "v2://readme");
    assert.equal(subs.size, 0);
  } finally {
    await subs.close();
    await v2.stop();
  }
});

/**
 * Backend sessions of MCP 2026-07-28 callers are per identity (ADR 0010 §3, §7.3), through a
 * real proxy with OIDC incoming auth (a real JWKS issuer) in front of a real SDK backend that
 * counts its sessions: two users never share a backend session, one user's requests reuse one
 * (also with a refreshed token), another capability set gets its own, and shutting the proxy
 * down terminates them.
 */
import assert from "node:assert/strict";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { authProxy, config, oidcIncoming, post, waitFor } from "../auth/helpers.ts";

const V = "2026-07-28";
const PV = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";

let nextId = 1;
async function echo(url: string, token: string | undefined, caps: Record<string, unknown> = {}) {
  const body = {
    jsonrpc: "2.0",
    id: nextId++,
    method: "tools/call",
    params: {
      name: "web_echo",
      arguments: { message: "m" },
      _meta: { [PV]: V, [CAPS]: caps },
    },
  };
  return await post(url, JSON.stringify(body), {
    "mcp-protocol-version": V,
    "mcp-method": "tools/call",
    "mcp-name": "web_echo",
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  });
}

Deno.test("modern: two identities never share a backend session; one identity reuses its own", async () => {
  const idp = await startOidcIssuer();
  const web = await serveHttpBackend({ name: "web" });
  const p = await authProxy(
    config({ incomingAuth: oidcIncoming(idp.issuer), backends: [{ name: "web", url: web.url }] }),
  );
  let stopped = false;
  try {
    const base = web.sessions(); // the proxy's own (discovery) connection
    const sessionOfLastCall = () => web.state.calls.at(-1)!.sessionId;

    const alice = await idp.sign({ sub: "alice" });
    assert.equal((await echo(p.url, alice)).status, 200);
    const aliceSession = sessionOfLastCall();
    assert.ok(aliceSession);
    assert.equal((await echo(p.url, alice)).status, 200);
    assert.equal(sessionOfLastCall(), aliceSession);
    assert.equal(web.sessions(), base + 1);

    const bob = await idp.sign({ sub: "bob" });
    assert.equal((await echo(p.url, bob)).status, 200);
    const bobSession = sessionOfLastCall();
    assert.notEqual(bobSession, aliceSession);
    assert.equal(web.sessions(), base + 2);

    // Alice again, with a refreshed token: her session, not a new one.
    const aliceLater = await idp.sign({ sub: "alice", iat: Math.floor(Date.now() / 1000) + 1 });
    assert.notEqual(aliceLater, alice);
    assert.equal((await echo(p.url, aliceLater)).status, 200);
    assert.equal(sessionOfLastCall(), aliceSession);

    // Another capability set changes what a backend may do: a session of its own.
    assert.equal((await echo(p.url, alice, { elicitation: { form: {} } })).status, 200);
    assert.notEqual(sessionOfLastCall(), aliceSession);
    assert.equal(web.sessions(), base + 3);

    // No token, no call.
    assert.equal((await echo(p.url, undefined)).status, 401);

    stopped = true;
    await p.stop();
    // Pooled sessions are in no store: shutdown terminates them (DELETE). The proxy's own
    // discovery connection is only closed, as before.
    await waitFor(() => web.sessions() === base, undefined, "pooled backend sessions terminated");
  } finally {
    if (!stopped) await p.stop();
    await web.stop();
    await idp.stop();
  }
});

/**
 * One hostile MCP 2026-07-28 user cannot push other users' backend sessions out of the identity
 * pool (ADR 0010 §3, §7.3-7.4), through a real proxy with OIDC incoming auth (a real JWKS
 * issuer) in front of a real SDK backend that counts its sessions. Every distinct capability
 * set is a backend session of its own, and a client invents capability sets at will
 * (`extensions`, `sampling`, … are free-form objects): without a per-identity bound, one user
 * cycling capability sets evicts everyone else's sessions (losing their backend state) and makes
 * the backend open a session per request.
 */
import assert from "node:assert/strict";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { authProxy, config, oidcIncoming, post } from "../auth/helpers.ts";
import { MAX_CAPSETS_PER_IDENTITY } from "../../proxy/backends/identity_pool.ts";

const V = "2026-07-28";
const PV = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";

let nextId = 1;
async function echo(url: string, token: string, caps: Record<string, unknown> = {}) {
  const body = {
    jsonrpc: "2.0",
    id: nextId++,
    method: "tools/call",
    params: { name: "web_echo", arguments: { message: "m" }, _meta: { [PV]: V, [CAPS]: caps } },
  };
  const r = await post(url, JSON.stringify(body), {
    "mcp-protocol-version": V,
    "mcp-method": "tools/call",
    "mcp-name": "web_echo",
    authorization: `Bearer ${token}`,
  });
  assert.equal(r.status, 200, r.text);
  return r.json as { result?: unknown; error?: unknown };
}

Deno.test("hostile modern client: inventing capability sets does not evict another user's backend session", async () => {
  const idp = await startOidcIssuer();
  const web = await serveHttpBackend({ name: "web" });
  const p = await authProxy(
    config({
      incomingAuth: oidcIncoming(idp.issuer),
      sessionStorage: { maxLocalSessions: 20 },
      backends: [{ name: "web", url: web.url }],
    }),
  );
  try {
    const base = web.sessions();
    const sessionOfLastCall = () => web.state.calls.at(-1)!.sessionId;
    const alice = await idp.sign({ sub: "alice" });
    const mallory = await idp.sign({ sub: "mallory" });

    assert.ok((await echo(p.url, alice)).result);
    const aliceSession = sessionOfLastCall();

    // Mallory cycles through more capability sets than the pool holds.
    for (let i = 0; i < 30; i++) {
      const got = await echo(p.url, mallory, { extensions: { [`x.example/${i}`]: {} } });
      assert.ok(got.result, JSON.stringify(got));
    }
    // Mallory holds at most her share of backend sessions ...
    assert.ok(
      web.sessions() <= base + 1 + MAX_CAPSETS_PER_IDENTITY,
      `${web.sessions() - base} backend sessions open`,
    );
    // ... and Alice still has hers.
    assert.ok((await echo(p.url, alice)).result);
    assert.equal(sessionOfLastCall(), aliceSession);
  } finally {
    await p.stop();
    await web.stop();
    await idp.stop();
  }
});

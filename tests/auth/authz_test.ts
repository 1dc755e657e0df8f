/**
 * Cedar authorization (incomingAuth.authzConfig) through a real proxy with OIDC incoming auth
 * (a real JWKS issuer) in front of a real SDK backend, for a legacy (2025-11-25, SDK v1 client)
 * and a 2026-07-28 (stateless, raw HTTP) client: one decision filters `tools/list` per caller
 * and gates `tools/call`; a refused call is answered exactly as a call to a tool that does not
 * exist. The policies are ToolHive's form (principal Client::"<sub>", `claim_*` attributes).
 */
import assert from "node:assert/strict";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { text } from "../fixtures/backend_tools.ts";
import { authProxy, config, connectWithToken, oidcIncoming, post } from "./helpers.ts";

const V = "2026-07-28";
const PV = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";

const POLICIES = [
  'permit(principal == Client::"alice", action == Action::"call_tool", resource == Tool::"web_echo");',
  // ToolHive's claim mapping: claims are principal attributes named claim_<claim>.
  'permit(principal, action == Action::"call_tool", resource) when { principal.claim_groups.contains("eng") && resource.backend == "web" && resource.name == "web_add" };',
];

let nextId = 1;
function modern(url: string, token: string, method: string, params: Record<string, unknown>) {
  const name: Record<string, string> = typeof params.name === "string"
    ? { "mcp-name": params.name }
    : {};
  return post(
    url,
    JSON.stringify({
      jsonrpc: "2.0",
      id: nextId++,
      method,
      params: { ...params, _meta: { [PV]: V, [CAPS]: {} } },
    }),
    {
      "mcp-protocol-version": V,
      "mcp-method": method,
      ...name,
      authorization: `Bearer ${token}`,
    },
  );
}

Deno.test("authz: lists per caller and refused calls answered as unknown tools, both eras", async () => {
  const idp = await startOidcIssuer();
  const web = await serveHttpBackend({ name: "web" });
  const incoming = {
    ...oidcIncoming(idp.issuer),
    authzConfig: { type: "inline" as const, inline: { policies: POLICIES } },
  };
  const p = await authProxy(
    config({ incomingAuth: incoming, backends: [{ name: "web", url: web.url }] }),
  );
  try {
    const alice = await idp.sign({ sub: "alice", groups: ["eng"] });
    const bob = await idp.sign({ sub: "bob", groups: ["eng"] });
    const eve = await idp.sign({ sub: "eve", groups: ["sales"] });

    // Legacy clients.
    const a = await connectWithToken(p.url, alice);
    const b = await connectWithToken(p.url, bob);
    const e = await connectWithToken(p.url, eve);
    try {
      const names = async (c: typeof a) => (await c.client.listTools()).tools.map((t) => t.name);
      assert.deepEqual(await names(a), ["web_add", "web_echo"]);
      assert.deepEqual(await names(b), ["web_add"]);
      assert.deepEqual(await names(e), []);

      const ok = await a.client.callTool({ name: "web_echo", arguments: { message: "hi" } });
      assert.notEqual(ok.isError, true);
      const refused = await b.client.callTool({ name: "web_echo", arguments: { message: "hi" } })
        .then(() => undefined, (err) => err as { code: number; message: string });
      const unknown = await b.client.callTool({ name: "web_nope", arguments: {} })
        .then(() => undefined, (err) => err as { code: number; message: string });
      assert.ok(refused && unknown);
      assert.equal(refused.code, unknown.code);
      assert.equal(refused.message, unknown.message.replace("web_nope", "web_echo"));
      assert.match(refused.message, /Unknown tool "web_echo"/);
      // A tool bob may call works for him.
      const added = await b.client.callTool({ name: "web_add", arguments: { a: 1, b: 2 } });
      assert.notEqual(added.isError, true);
    } finally {
      await Promise.all([a.close(), b.close(), e.close()]);
    }

    // 2026-07-28 clients (no session).
    const list = async (token: string) => {
      const r = await modern(p.url, token, "tools/list", {});
      assert.equal(r.status, 200);
      return (r.json as unknown as { result: { tools: { name: string }[] } }).result.tools
        .map((t) => t.name);
    };
    assert.deepEqual(await list(alice), ["web_add", "web_echo"]);
    assert.deepEqual(await list(bob), ["web_add"]);
    assert.deepEqual(await list(eve), []);

    const call = (token: string, name: string) =>
      modern(p.url, token, "tools/call", { name, arguments: { message: "hi" } });
    const allowed = await call(alice, "web_echo");
    assert.equal(allowed.status, 200);
    assert.equal(allowed.json.error, undefined);
    const refused = await call(bob, "web_echo");
    const unknown = await call(bob, "web_nope");
    assert.equal(refused.status, unknown.status);
    assert.equal(refused.json.error?.code, unknown.json.error?.code);
    assert.equal(refused.json.error?.message, 'Unknown tool "web_echo"');
    assert.equal(unknown.json.error?.message, 'Unknown tool "web_nope"');
    // The backend never saw a refused call.
    assert.equal(web.state.calls.filter((c) => c.tool === "echo").length, 2);
  } finally {
    await p.stop();
    await web.stop();
    await idp.stop();
  }
});

Deno.test("authz: a refused caller's bad Mcp-Param-* header gets the unknown-tool answer, not -32020", async () => {
  const idp = await startOidcIssuer();
  const web = await serveHttpBackend({
    name: "web",
    builtins: false,
    extraTools: [{
      name: "where",
      inputSchema: {
        type: "object",
        properties: { region: { type: "string", "x-mcp-header": "Region" } },
      },
      handler: (args) => text(`where ${args.region}`),
    }],
  });
  const incoming = {
    ...oidcIncoming(idp.issuer),
    authzConfig: {
      type: "inline" as const,
      inline: {
        policies: [
          'permit(principal == Client::"alice", action == Action::"call_tool", resource == Tool::"web_where");',
        ],
      },
    },
  };
  const p = await authProxy(
    config({ incomingAuth: incoming, backends: [{ name: "web", url: web.url }] }),
  );
  try {
    const call = async (token: string, name: string) =>
      await modern(p.url, token, "tools/call", { name, arguments: { region: "eu" } });
    const alice = await idp.sign({ sub: "alice" });
    const bob = await idp.sign({ sub: "bob" });
    // No Mcp-Param-Region header: alice, who may call the tool, is told about the header.
    const told = await call(alice, "web_where");
    assert.equal(told.status, 400);
    assert.equal(told.json.error?.code, -32020);
    // Bob, who may not, gets exactly what a tool that does not exist gets.
    const refused = await call(bob, "web_where");
    const unknown = await call(bob, "web_nope");
    assert.equal(refused.status, unknown.status);
    assert.equal(refused.json.error?.code, unknown.json.error?.code);
    assert.equal(refused.json.error?.message, 'Unknown tool "web_where"');
    assert.equal(web.state.calls.length, 0);
  } finally {
    await p.stop();
    await web.stop();
    await idp.stop();
  }
});

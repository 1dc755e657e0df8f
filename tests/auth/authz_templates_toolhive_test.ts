/**
 * Cedar authorization through a real proxy (real JWKS issuer, real SDK backend), for legacy
 * (2025-11-25, SDK client) and 2026-07-28 (stateless, raw HTTP) clients:
 * - `resources/templates/list` shows a caller only the templates it may read
 *   (`Action::"read_resource"` on `Resource::"<uriTemplate>"`);
 * - ToolHive's policies work unchanged: `claim_*` attributes, `THVGroup` parents, the server
 *   scope `MCP::"<server name>"` and ToolHive's sanitized resource ids.
 */
import assert from "node:assert/strict";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { authProxy, config, connectWithToken, oidcIncoming, post } from "./helpers.ts";

const V = "2026-07-28";
const PV = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";
let nextId = 1;

/** One 2026-07-28 request; the `result` (or throws with the JSON-RPC error). */
async function modern(url: string, token: string, method: string, params: Record<string, unknown>) {
  const name: Record<string, string> = typeof params.name === "string"
    ? { "mcp-name": params.name }
    : typeof params.uri === "string"
    ? { "mcp-name": params.uri }
    : {};
  const r = await post(
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
  return r.json as { result?: Record<string, unknown>; error?: { code: number; message: string } };
}

Deno.test("authz: resources/templates/list shows each caller the templates it may read, both eras", async () => {
  const idp = await startOidcIssuer();
  const web = await serveHttpBackend({ name: "web" });
  const policies = [
    // alice may read items: the template test://web/items/{id} is "like" the pattern.
    'permit(principal == Client::"alice", action == Action::"read_resource", resource) when { resource.uri like "test://web/items/*" };',
    // bob may read the readme only: no template is shown to him.
    'permit(principal == Client::"bob", action == Action::"read_resource", resource) when { resource.uri == "test://web/readme" };',
  ];
  const p = await authProxy(config({
    incomingAuth: {
      ...oidcIncoming(idp.issuer),
      authzConfig: { type: "inline", inline: { policies } },
    },
    backends: [{ name: "web", url: web.url }],
  }));
  const [alice, bob] = await Promise.all([idp.sign({ sub: "alice" }), idp.sign({ sub: "bob" })]);
  const a = await connectWithToken(p.url, alice);
  const b = await connectWithToken(p.url, bob);
  try {
    const templates = async (c: typeof a) =>
      (await c.client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
    assert.deepEqual(await templates(a), ["test://web/items/{id}"]);
    assert.deepEqual(await templates(b), []);
    // The list and the reads agree.
    assert.match(
      JSON.stringify((await a.client.readResource({ uri: "test://web/items/7" })).contents),
      /item 7/,
    );
    await assert.rejects(
      () => b.client.readResource({ uri: "test://web/items/7" }),
      /Unknown resource/,
    );

    const modernTemplates = async (token: string) => {
      const r = await modern(p.url, token, "resources/templates/list", {});
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      return (r.result!.resourceTemplates as { uriTemplate: string }[]).map((t) => t.uriTemplate);
    };
    assert.deepEqual(await modernTemplates(alice), ["test://web/items/{id}"]);
    assert.deepEqual(await modernTemplates(bob), []);
  } finally {
    await Promise.all([a.close(), b.close()]);
    await p.stop();
    await web.stop();
    await idp.stop();
  }
});

Deno.test("authz: ToolHive's policies work unchanged (claims, THVGroup, MCP server scope, sanitized resource ids), both eras", async () => {
  const idp = await startOidcIssuer();
  const web = await serveHttpBackend({ name: "web" });
  // Written as for ToolHive: the config's name ("test-vmcp") is the server scope.
  const policies = [
    'permit(principal in THVGroup::"eng", action == Action::"call_tool", resource in MCP::"test-vmcp");',
    'permit(principal, action == Action::"call_tool", resource == Tool::"web_echo") when { context.claim_name == "John Doe" };',
    'forbid(principal, action == Action::"call_tool", resource) when { context has claim_act };',
    'permit(principal, action == Action::"read_resource", resource == Resource::"test___web_readme");',
    'permit(principal, action == Action::"get_prompt", resource == Prompt::"web_greet") when { principal.claim_roles.contains("admin") };',
  ];
  const p = await authProxy(config({
    incomingAuth: {
      ...oidcIncoming(idp.issuer),
      authzConfig: { type: "inline", inline: { policies } },
    },
    backends: [{ name: "web", url: web.url }],
  }));
  const eng = await idp.sign({ sub: "u1", groups: ["eng"] });
  const john = await idp.sign({ sub: "u2", name: "John Doe", roles: ["admin"] });
  const agent = await idp.sign({ sub: "u3", groups: ["eng"], act: { sub: "spiffe://x/agent" } });
  const legacy = await Promise.all([eng, john, agent].map((t) => connectWithToken(p.url, t)));
  try {
    const tools = async (i: number) =>
      (await legacy[i]!.client.listTools()).tools.map((t) => t.name);
    // The eng group may call every tool of this server.
    const all = await tools(0);
    assert.ok(all.length > 2 && all.includes("web_add") && all.includes("web_echo"), `${all}`);
    assert.deepEqual(await tools(1), ["web_echo"]);
    assert.deepEqual(await tools(2), []);
    const prompts = async (i: number) =>
      (await legacy[i]!.client.listPrompts()).prompts.map((x) => x.name);
    assert.deepEqual(await prompts(0), []);
    assert.deepEqual(await prompts(1), ["web_greet"]);
    // Everyone may read the readme (by ToolHive's sanitized id), nothing else.
    for (const c of legacy) {
      const uris = (await c.client.listResources()).resources.map((r) => r.uri);
      assert.deepEqual(uris, ["test://web/readme"]);
      assert.match(
        JSON.stringify((await c.client.readResource({ uri: "test://web/readme" })).contents),
        /Test backend readme/,
      );
    }
    const echo = await legacy[1]!.client.callTool({
      name: "web_echo",
      arguments: { message: "x" },
    });
    assert.notEqual(echo.isError, true);
    await assert.rejects(
      () => legacy[2]!.client.callTool({ name: "web_echo", arguments: { message: "x" } }),
      /Unknown tool "web_echo"/,
    );

    // The same decisions for 2026-07-28 clients.
    const names = async (token: string) => {
      const r = await modern(p.url, token, "tools/list", {});
      return (r.result!.tools as { name: string }[]).map((t) => t.name);
    };
    assert.deepEqual(await names(eng), all);
    assert.deepEqual(await names(john), ["web_echo"]);
    assert.deepEqual(await names(agent), []);
    const added = await modern(p.url, eng, "tools/call", {
      name: "web_add",
      arguments: { a: 1, b: 2 },
    });
    assert.equal(added.error, undefined);
    const refused = await modern(p.url, john, "tools/call", {
      name: "web_add",
      arguments: { a: 1, b: 2 },
    });
    assert.equal(refused.error?.message, 'Unknown tool "web_add"');
    const read = await modern(p.url, agent, "resources/read", { uri: "test://web/readme" });
    assert.match(JSON.stringify(read.result?.contents), /Test backend readme/);
  } finally {
    await Promise.all(legacy.map((c) => c.close()));
    await p.stop();
    await web.stop();
    await idp.stop();
  }
});

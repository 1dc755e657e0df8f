/**
 * Cedar authorization, continued (real proxy, real JWKS issuer, real SDK backend): a composite
 * tool is authorized as itself and each of its steps again, for legacy (2025-11-25) and
 * 2026-07-28 clients; new
 * policies (a config reload, as the proxy's config watch or the controller's ConfigMap render
 * applies them) take effect on open sessions without dropping them, and tell them the tool list
 * changed.
 */
import assert from "node:assert/strict";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { authProxy, config, connectWithToken, oidcIncoming, post, waitFor } from "./helpers.ts";
import type { VmcpConfigInput } from "../../crds/vmcp_config.ts";
import { ToolListChangedNotificationSchema } from "../../core/sdk.ts";

const permit = (sub: string, tool: string) =>
  `permit(principal == Client::"${sub}", action == Action::"call_tool", resource == Tool::"${tool}");`;

const COMPOSITE: NonNullable<VmcpConfigInput["compositeTools"]> = [{
  name: "shout",
  description: "Echoes through the backend",
  parameters: { type: "object", properties: { m: { type: "string" } }, required: ["m"] },
  steps: [{ id: "e", tool: "web_echo", arguments: { message: "{{.params.m}}" } }],
}];

const V = "2026-07-28";
let nextId = 1;

/** A 2026-07-28 (stateless) tools/call: the result's text (with " (isError)") or the error. */
async function modernCall(url: string, token: string, name: string, args: unknown) {
  const r = await post(
    url,
    JSON.stringify({
      jsonrpc: "2.0",
      id: nextId++,
      method: "tools/call",
      params: {
        name,
        arguments: args,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": V,
          "io.modelcontextprotocol/clientCapabilities": {},
        },
      },
    }),
    {
      "mcp-protocol-version": V,
      "mcp-method": "tools/call",
      "mcp-name": name,
      authorization: `Bearer ${token}`,
    },
  );
  const j = r.json as { result?: { isError?: boolean }; error?: { message: string } };
  if (j.error) return `error: ${j.error.message}`;
  return textOf(j.result) + (j.result?.isError ? " (isError)" : "");
}

function textOf(r: unknown): string {
  const c = (r as { content?: { type: string; text?: string }[] }).content ?? [];
  return c.map((x) => x.text ?? "").join("\n");
}

Deno.test("authz: a composite tool is authorized as itself and each step again, both eras", async () => {
  const idp = await startOidcIssuer();
  const web = await serveHttpBackend({ name: "web" });
  const cfg = (policies: string[]) =>
    config({
      incomingAuth: {
        ...oidcIncoming(idp.issuer),
        authzConfig: { type: "inline", inline: { policies } },
      },
      backends: [{ name: "web", url: web.url }],
      compositeTools: COMPOSITE,
    });
  // alice: the composite and its step; bob: the composite only; carol: the step only.
  const p = await authProxy(cfg([
    permit("alice", "shout"),
    permit("alice", "web_echo"),
    permit("bob", "shout"),
    permit("carol", "web_echo"),
  ]));
  const tokens = await Promise.all(["alice", "bob", "carol"].map((sub) => idp.sign({ sub })));
  const [a, b, c] = await Promise.all(tokens.map((t) => connectWithToken(p.url, t)));
  try {
    await waitFor(
      async () => (await a!.client.listTools()).tools.some((t) => t.name === "shout"),
      undefined,
      "composite tool listed for alice",
    );
    const names = async (x: typeof a) => (await x!.client.listTools()).tools.map((t) => t.name);
    assert.deepEqual(await names(a), ["shout", "web_echo"]);
    assert.deepEqual(await names(b), ["shout"]);
    assert.deepEqual(await names(c), ["web_echo"]);

    const ok = await a!.client.callTool({ name: "shout", arguments: { m: "hey" } });
    assert.notEqual(ok.isError, true, textOf(ok));
    assert.equal(web.state.calls.length, 1);

    // bob may call the composite but not its step: the step is refused, the backend never called.
    const stepRefused = await b!.client.callTool({ name: "shout", arguments: { m: "hey" } })
      .then((r) => textOf(r) + (r.isError ? " (isError)" : ""), (err) => String(err));
    assert.match(stepRefused, /Unknown tool "web_echo"/);
    assert.equal(web.state.calls.length, 1);

    // carol may call the step but not the composite: refused as an unknown tool.
    await assert.rejects(
      () => c!.client.callTool({ name: "shout", arguments: { m: "hey" } }),
      /Unknown tool "shout"/,
    );
    assert.equal(web.state.calls.length, 1);

    // 2026-07-28 clients: the same three decisions.
    const [ta, tb, tc] = tokens as [string, string, string];
    assert.doesNotMatch(await modernCall(p.url, ta, "shout", { m: "hey" }), /isError|error:/);
    assert.equal(web.state.calls.length, 2);
    assert.match(await modernCall(p.url, tb, "shout", { m: "hey" }), /Unknown tool "web_echo"/);
    assert.equal(await modernCall(p.url, tc, "shout", { m: "hey" }), 'error: Unknown tool "shout"');
    assert.equal(web.state.calls.length, 2, "the backend never saw a refused step");
  } finally {
    await Promise.all([a!.close(), b!.close(), c!.close()]);
    await p.stop();
    await web.stop();
    await idp.stop();
  }
});

Deno.test("authz: new policies apply to open sessions without dropping them", async () => {
  const idp = await startOidcIssuer();
  const web = await serveHttpBackend({ name: "web" });
  const cfg = (policies: string[]) =>
    config({
      incomingAuth: {
        ...oidcIncoming(idp.issuer),
        authzConfig: { type: "inline", inline: { policies } },
      },
      backends: [{ name: "web", url: web.url }],
    });
  const p = await authProxy(cfg([permit("bob", "web_add")]));
  const b = await connectWithToken(p.url, await idp.sign({ sub: "bob" }));
  let changed = 0;
  b.client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    changed++;
  });
  try {
    const names = async () => (await b.client.listTools()).tools.map((t) => t.name);
    assert.deepEqual(await names(), ["web_add"]);
    await assert.rejects(
      () => b.client.callTool({ name: "web_echo", arguments: { message: "x" } }),
      /Unknown tool "web_echo"/,
    );
    const sessionBefore = b.transport.sessionId;

    await p.proxy.reload(cfg([permit("bob", "web_add"), permit("bob", "web_echo")]));
    await waitFor(() => changed > 0, undefined, "tools/list_changed after the policy change");
    assert.deepEqual(await names(), ["web_add", "web_echo"]);
    const r = await b.client.callTool({ name: "web_echo", arguments: { message: "x" } });
    assert.notEqual(r.isError, true, textOf(r));
    assert.equal(b.transport.sessionId, sessionBefore, "the same session");

    // And back: the permission is gone for the same open session.
    await p.proxy.reload(cfg([permit("bob", "web_add")]));
    assert.deepEqual(await names(), ["web_add"]);
  } finally {
    await b.close();
    await p.stop();
    await web.stop();
    await idp.stop();
  }
});

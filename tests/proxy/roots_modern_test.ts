/**
 * Issue #17 item 4, 2026-07-28 clients: roots changes reach the pooled legacy backend sessions of
 * the identity they concern, and no other.
 *
 * MCP 2026-07-28 removed `notifications/roots/list_changed`: roots are asked during a request
 * (`input_required`). The v2 SDK's server answers such a POST 202 and drops it; its client refuses
 * to send it on a 2026-07-28 connection. A legacy backend behind vmcp still caches the roots it
 * asked for on the caller's pooled backend session (server-everything asks once per session), so
 * vmcp answers 202 as the v2 SDK does and takes the notification as a hint: that identity's pooled
 * legacy backend sessions that declared `roots` end, and the next call's new session asks again.
 *
 * Two users (a real OIDC issuer) in front of server-everything (stdio, and its own Streamable
 * HTTP), raw 2026-07-28 POSTs.
 */
import assert from "node:assert/strict";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { serveV2Backend } from "../fixtures/v2_backend.ts";
import { startEverythingHttp } from "../harness/everything_http.ts";
import { authProxy, config, oidcIncoming, post } from "../auth/helpers.ts";
import { everythingBackend, modernCall, V } from "./mrtr_helpers.ts";
import type { VmcpConfigInput } from "../../crds/vmcp_config.ts";

type BackendConfigInput = NonNullable<VmcpConfigInput["backends"]>[number];
type AnyObject = Record<string, unknown>;

const TOOL = "every_get-roots-list";
const CAPS = { roots: { listChanged: true } };
const PV = "io.modelcontextprotocol/protocolVersion";
const ROOTS_CHANGED = "notifications/roots/list_changed";

/**
 * Calls get-roots-list as `token`, answering each `roots/list` input request with `roots`;
 * returns what server-everything shows and how many input rounds it took.
 */
async function getRoots(
  url: string,
  token: string,
  roots: string[],
): Promise<{ text: string; rounds: number }> {
  let params: AnyObject = { name: TOOL, arguments: {} };
  for (let rounds = 0; rounds < 6; rounds++) {
    const r = await modernCall(url, "tools/call", params, { token, caps: CAPS });
    assert.ok(r.result, JSON.stringify(r));
    if (r.result.resultType !== "input_required") {
      return { text: JSON.stringify(r.result.content), rounds };
    }
    const asked = r.result.inputRequests as Record<string, { method: string }>;
    const answers: AnyObject = {};
    for (const [key, req] of Object.entries(asked)) {
      assert.equal(req.method, "roots/list", JSON.stringify(r));
      answers[key] = { roots: roots.map((uri) => ({ uri, name: uri.split("/").pop() })) };
    }
    params = {
      name: TOOL,
      arguments: {},
      inputResponses: answers,
      requestState: r.result.requestState,
    };
  }
  throw new Error("get-roots-list still asked for input after 6 rounds");
}

/** A raw 2026-07-28 `notifications/roots/list_changed` POST; answers the HTTP status. */
async function rootsChanged(url: string, token?: string): Promise<number> {
  const r = await post(
    url,
    JSON.stringify({ jsonrpc: "2.0", method: ROOTS_CHANGED, params: { _meta: { [PV]: V } } }),
    {
      "mcp-protocol-version": V,
      "mcp-method": ROOTS_CHANGED,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
  );
  if (r.status === 202) assert.equal(r.text, "", "an accepted notification's answer has no body");
  return r.status;
}

async function twoUsersAndAChange(backend: BackendConfigInput): Promise<void> {
  const idp = await startOidcIssuer();
  const p = await authProxy(config({
    incomingAuth: oidcIncoming(idp.issuer),
    operational: { timeouts: { default: "60s" } },
    backends: [backend],
  }));
  try {
    const alice = await idp.sign({ sub: "alice" });
    const bob = await idp.sign({ sub: "bob" });

    const a1 = await getRoots(p.url, alice, ["file:///work/alice-1"]);
    assert.match(a1.text, /alice-1/);
    assert.ok(a1.rounds >= 1, "her first call asks her roots");
    const b1 = await getRoots(p.url, bob, ["file:///work/bob-1"]);
    assert.match(b1.text, /bob-1/);
    assert.doesNotMatch(b1.text, /alice/);

    // The backend caches them on each identity's pooled backend session: asked no more.
    const cached = await getRoots(p.url, alice, ["file:///work/alice-2"]);
    assert.equal(cached.rounds, 0);
    assert.match(cached.text, /alice-1/);

    // Alice's roots change: 202 (as the v2 SDK answers), and her next call is asked again.
    assert.equal(await rootsChanged(p.url, alice), 202);
    const a2 = await getRoots(p.url, alice, ["file:///work/alice-2", "file:///work/alice-3"]);
    assert.ok(a2.rounds >= 1, "asked again after her roots/list_changed");
    assert.match(a2.text, /alice-2.*alice-3/);
    assert.doesNotMatch(a2.text, /alice-1|bob/);

    // Bob's backend session was not touched: his roots are still cached, not asked again.
    const b2 = await getRoots(p.url, bob, ["file:///work/bob-2"]);
    assert.equal(b2.rounds, 0, "another identity's backend session is never ended");
    assert.match(b2.text, /bob-1/);
    assert.doesNotMatch(b2.text, /alice|bob-2/);

    // Without a token there is no identity, and nothing happens (401).
    assert.equal(await rootsChanged(p.url), 401);
    assert.equal((await getRoots(p.url, alice, ["file:///work/alice-4"])).rounds, 0);
  } finally {
    await p.stop();
    await idp.stop();
  }
}

Deno.test("roots (2026-07-28): over stdio a caller's roots/list_changed makes only its own legacy backend sessions ask again", async () => {
  await twoUsersAndAChange(everythingBackend());
});

Deno.test("roots (2026-07-28): over Streamable HTTP a caller's roots/list_changed makes only its own legacy backend sessions ask again", async () => {
  const every = await startEverythingHttp();
  try {
    await twoUsersAndAChange({ name: "every", transport: "streamable-http", url: every.url });
  } finally {
    await every.stop();
  }
});

Deno.test("roots (2026-07-28): the v2 SDK's own server answers the removed notification 202, as vmcp does", async () => {
  const v2 = await serveV2Backend();
  try {
    assert.equal(await rootsChanged(v2.url), 202);
  } finally {
    await v2.stop();
  }
});

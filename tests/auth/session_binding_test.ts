/**
 * Sessions are bound to the identity that created them, checked on every request through the
 * real proxy: another user's valid token on a session id is refused with 403 and logged with
 * hashed identity keys (the session stays usable by its owner, ADR 0003); an anonymous
 * session refuses a token presented later; the owner's refreshed token is used from then on.
 */
import assert from "node:assert/strict";
import { ANONYMOUS_IDENTITY } from "../../core/auth/identity.ts";
import { sha256Hex } from "../../core/auth/hash.ts";
import { Client, StreamableHTTPClientTransport } from "../../core/sdk.ts";
import { createBackendFetch } from "../../core/http_client.ts";
import { bearerToken } from "../../proxy/auth/incoming.ts";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { startTokenEndpoint } from "../fixtures/token_endpoint.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import {
  authProxy,
  captureLog,
  config,
  connectWithToken,
  echo,
  oidcIncoming,
  post,
} from "./helpers.ts";

/** An SDK client that resumes session `sessionId` presenting `token` (no initialize). */
async function resume(url: string, sessionId: string, token: string | undefined) {
  const statuses: number[] = [];
  const base = createBackendFetch();
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    sessionId,
    fetch: async (u, init) => {
      const headers = new Headers(init?.headers);
      if (token) headers.set("authorization", `Bearer ${token}`);
      const res = await base(u, { ...init, headers });
      statuses.push(res.status);
      return res;
    },
  });
  const client = new Client({ name: "intruder", version: "1.0.0" });
  await client.connect(transport);
  return { client, statuses, close: () => client.close() };
}

const short = async (s: string) => (await sha256Hex(s)).slice(0, 16);

Deno.test("another user's valid token on a live session id is refused with 403, logged with hashed identity keys, and the owner keeps the session", async () => {
  const idp = await startOidcIssuer();
  const web = await serveHttpBackend({ name: "web" });
  const logs = captureLog();
  const p = await authProxy(
    config({ incomingAuth: oidcIncoming(idp.issuer), backends: [{ name: "web", url: web.url }] }),
    { log: logs.log },
  );
  try {
    const aliceToken = await idp.sign({ sub: "alice" });
    const malloryToken = await idp.sign({ sub: "mallory" });
    const alice = await connectWithToken(p.url, aliceToken);
    const sessionId = alice.transport.sessionId!;
    assert.ok(sessionId);

    const mallory = await resume(p.url, sessionId, malloryToken);
    await assert.rejects(
      mallory.client.callTool({ name: "web_echo", arguments: { message: "steal" } }),
      /403|another identity/,
    );
    assert.ok(mallory.statuses.includes(403), String(mallory.statuses));
    await mallory.close();
    const del = await fetch(p.url, {
      method: "DELETE",
      headers: { "mcp-session-id": sessionId, authorization: `Bearer ${malloryToken}` },
    });
    assert.equal(del.status, 403);
    assert.match((await del.json()).error.message, /belongs to another identity/);

    assert.equal((await echo(alice, "web_echo", "still mine")).message, "still mine");
    assert.ok(web.state.calls.every((c) => c.args.message !== "steal"));

    const line = logs.lines.map((l) => JSON.parse(l)).find((l) =>
      l.msg === "refused a session presented by another identity"
    );
    assert.ok(line, logs.text());
    assert.equal(line.level, "warn");
    assert.equal(line.reason, "identity-mismatch");
    assert.equal(line.ownerKey, await short(`${idp.issuer}\u0000alice`));
    assert.equal(line.presentedKey, await short(`${idp.issuer}\u0000mallory`));
    assert.ok(!JSON.stringify(line).includes(sessionId), "the refusal names the raw session id");
    for (const secret of [aliceToken, malloryToken]) {
      assert.ok(!logs.text().includes(secret), "a token reached the log");
    }
    await alice.close();
  } finally {
    await p.stop();
    await web.stop();
    await idp.stop();
  }
});

Deno.test("an anonymous session refuses a token presented later, and an authenticated session refuses going anonymous", async () => {
  const idp = await startOidcIssuer();
  const web = await serveHttpBackend({ name: "web" });
  const cfg = config({
    incomingAuth: oidcIncoming(idp.issuer),
    backends: [{ name: "web", url: web.url }],
  });
  // A front door where a token is optional: no token → anonymous, a token → verified.
  const p = await authProxy(cfg, {
    start: {
      authenticate: async (req) =>
        bearerToken(req) === null ? ANONYMOUS_IDENTITY : await optional.authenticate(req),
    },
  });
  const optional = p.auth.incoming;
  try {
    const token = await idp.sign({ sub: "alice" });
    const anon = await connectWithToken(p.url, undefined);
    assert.equal((await echo(anon, "web_echo", "anon")).message, "anon");
    anon.setToken(token);
    await assert.rejects(echo(anon, "web_echo", "upgrade"), /403|another identity/);
    assert.equal(anon.seen.at(-1)?.status, 403);
    anon.setToken(undefined);
    assert.equal((await echo(anon, "web_echo", "anon again")).message, "anon again");
    await anon.close();

    const authed = await connectWithToken(p.url, token);
    const res = await post(
      p.url,
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      { "mcp-session-id": authed.transport.sessionId!, "mcp-protocol-version": "2025-11-25" },
    );
    assert.equal(res.status, 403);
    await authed.close();
  } finally {
    await p.stop();
    await web.stop();
    await idp.stop();
  }
});

Deno.test("with anonymous incoming auth a presented token is ignored and never reaches a backend", async () => {
  const auths: (string | null)[] = [];
  const web = await serveHttpBackend({
    name: "web",
    onRequest: (req) => void auths.push(req.headers.get("authorization")),
  });
  const p = await authProxy(config({ backends: [{ name: "web", url: web.url }] }));
  try {
    const c = await connectWithToken(p.url, "some-caller-token");
    assert.equal((await echo(c, "web_echo", "x")).message, "x");
    await c.close();
    assert.ok(auths.length > 0 && auths.every((a) => a === null), String(auths));
  } finally {
    await p.stop();
    await web.stop();
  }
});

Deno.test("the session owner's refreshed token is used for later token exchanges", async () => {
  const idp = await startOidcIssuer();
  const te = startTokenEndpoint();
  const web = await serveHttpBackend({ name: "web" });
  const p = await authProxy(
    config({
      incomingAuth: oidcIncoming(idp.issuer),
      backends: [{
        name: "web",
        url: web.url,
        auth: {
          type: "tokenExchange",
          tokenExchange: {
            tokenUrl: te.url,
            clientId: "vmcp",
            clientSecretEnv: "S",
            audience: "web",
          },
        },
      }],
    }),
    { deps: { env: (n) => (n === "S" ? "vmcp-secret" : undefined) } },
  );
  try {
    const first = await idp.sign({ sub: "alice" }, { expiresIn: 60 });
    const c = await connectWithToken(p.url, first);
    await echo(c, "web_echo");
    const refreshed = await idp.sign({ sub: "alice" }, { expiresIn: 600 });
    assert.notEqual(refreshed, first);
    c.setToken(refreshed);
    await echo(c, "web_echo");
    const subjects = te.log.filter((e) => e.subjectToken).map((e) => e.subjectToken);
    assert.deepEqual(subjects, [first, refreshed]);
    await c.close();
  } finally {
    await p.stop();
    await web.stop();
    await te.stop();
    await idp.stop();
  }
});

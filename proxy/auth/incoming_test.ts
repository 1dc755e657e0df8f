import assert from "node:assert/strict";
import { identityKey } from "../../core/auth/identity.ts";
import { createLogger } from "../../core/log.ts";
import type { IncomingAuth } from "../../crds/auth.ts";
import { startOidcIssuer } from "../../tests/fixtures/oidc_issuer.ts";
import {
  createIncomingAuth,
  type IncomingAuthenticator,
  isProtectedResourceMetadataPath,
} from "./incoming.ts";

/** Serves `auth` on loopback like the proxy would: metadata, then authenticate → identity JSON. */
function serve(auth: IncomingAuthenticator) {
  const ac = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: ac.signal,
    onListen: () => {},
  }, async (req) => {
    if (isProtectedResourceMetadataPath(new URL(req.url).pathname)) {
      return auth.metadataResponse(req);
    }
    const result = await auth.authenticate(req);
    if (result instanceof Response) return result;
    return Response.json({
      ...result,
      token: result.token ? "present" : "absent",
      key: identityKey(result),
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    async stop() {
      ac.abort();
      await server.finished;
    },
  };
}

function oidcConfig(issuer: string, extra: Record<string, unknown> = {}): IncomingAuth {
  return {
    type: "oidc",
    oidcConfig: {
      type: "inline",
      inline: { issuer, audience: "vmcp", clockSkew: "30s", ...extra },
      resourceUrl: "https://vmcp.example.com/mcp",
    },
  } as IncomingAuth;
}

Deno.test("anonymous auth accepts every request as the anonymous identity and warns at start-up", async () => {
  const lines: string[] = [];
  const auth = createIncomingAuth({ type: "anonymous" }, {
    logger: createLogger({ sink: (l) => lines.push(l) }),
  });
  assert.ok(lines.some((l) => l.includes("development only") && l.includes('"warn"')));
  const srv = serve(auth);
  try {
    const res = await fetch(`${srv.url}/mcp`, {
      method: "POST",
      headers: { authorization: "Bearer whatever" },
    });
    const body = await res.json();
    assert.equal(res.status, 200);
    assert.equal(body.subject, "anonymous");
    assert.equal(body.issuer, "");
    assert.equal(body.key, "unauthenticated");
    const meta = await fetch(`${srv.url}/.well-known/oauth-protected-resource`);
    assert.equal(meta.status, 404);
    await meta.body?.cancel();
  } finally {
    await srv.stop();
  }
});

Deno.test("oidc auth without a token answers 401 pointing at the protected-resource metadata", async () => {
  const idp = await startOidcIssuer();
  const srv = serve(createIncomingAuth(oidcConfig(idp.issuer)));
  try {
    const res = await fetch(`${srv.url}/mcp`, { method: "POST" });
    assert.equal(res.status, 401);
    const www = res.headers.get("www-authenticate")!;
    assert.equal(
      www,
      'Bearer resource_metadata="https://vmcp.example.com/.well-known/oauth-protected-resource", scope="openid"',
    );
    const body = await res.json();
    assert.equal(body.jsonrpc, "2.0");
    assert.equal(body.error.code, -32001);
    assert.equal(body.id, null);

    const basic = await fetch(`${srv.url}/mcp`, {
      headers: { authorization: "Basic dXNlcjpwdw==" },
    });
    assert.equal(basic.status, 401);
    assert.ok(
      !basic.headers.get("www-authenticate")!.includes("error="),
      "no token: no error code",
    );
    await basic.body?.cancel();
  } finally {
    await srv.stop();
    await idp.stop();
  }
});

Deno.test("oidc auth rejects a bad token with error=invalid_token and never echoes the token", async () => {
  const idp = await startOidcIssuer();
  const srv = serve(createIncomingAuth(oidcConfig(idp.issuer)));
  try {
    const token = await idp.sign({ aud: "someone-else" });
    const res = await fetch(`${srv.url}/mcp`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 401);
    const www = res.headers.get("www-authenticate")!;
    assert.match(www, /error="invalid_token", error_description="token audience is not accepted"/);
    const text = await res.text();
    assert.ok(!text.includes(token) && !www.includes(token));
    assert.match(JSON.parse(text).error.message, /audience/);

    const malformed = await fetch(`${srv.url}/mcp`, { headers: { authorization: "Bearer a b" } });
    assert.equal(malformed.status, 401);
    assert.match(malformed.headers.get("www-authenticate")!, /invalid_token/);
    await malformed.body?.cancel();
  } finally {
    await srv.stop();
    await idp.stop();
  }
});

Deno.test("oidc auth accepts a valid token and binds sessions to issuer and subject", async () => {
  const idp = await startOidcIssuer();
  const srv = serve(createIncomingAuth(oidcConfig(idp.issuer)));
  try {
    const res = await fetch(`${srv.url}/mcp`, {
      headers: { authorization: `bearer ${await idp.sign({ sub: "alice" })}` },
    });
    const body = await res.json();
    assert.equal(res.status, 200);
    assert.equal(body.subject, "alice");
    assert.equal(body.token, "present");
    assert.equal(body.key, `${idp.issuer}\u0000alice`);
  } finally {
    await srv.stop();
    await idp.stop();
  }
});

Deno.test("the protected-resource metadata names the resource, the issuer and the scopes", async () => {
  const idp = await startOidcIssuer();
  const srv = serve(
    createIncomingAuth(oidcConfig(idp.issuer, { scopes: ["openid", "mcp:tools"] })),
  );
  try {
    for (
      const path of [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
      ]
    ) {
      const res = await fetch(`${srv.url}${path}`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), {
        resource: "https://vmcp.example.com/mcp",
        authorization_servers: [idp.issuer],
        bearer_methods_supported: ["header"],
        scopes_supported: ["openid", "mcp:tools"],
        resource_name: "vmcp",
      });
    }
  } finally {
    await srv.stop();
    await idp.stop();
  }
});

Deno.test("without a configured resourceUrl the resource is derived from the request", async () => {
  const idp = await startOidcIssuer();
  const cfg = oidcConfig(idp.issuer);
  delete cfg.oidcConfig!.resourceUrl;
  const srv = serve(createIncomingAuth(cfg));
  try {
    const res = await fetch(`${srv.url}/mcp`);
    assert.equal(
      res.headers.get("www-authenticate"),
      `Bearer resource_metadata="${srv.url}/.well-known/oauth-protected-resource", scope="openid"`,
    );
    await res.body?.cancel();
    const meta = await (await fetch(`${srv.url}/.well-known/oauth-protected-resource`)).json();
    assert.equal(meta.resource, `${srv.url}/mcp`);
  } finally {
    await srv.stop();
    await idp.stop();
  }
});

Deno.test("an unreachable issuer answers 503, not 401", async () => {
  const idp = await startOidcIssuer();
  const token = await idp.sign();
  const issuer = idp.issuer;
  await idp.stop();
  const srv = serve(createIncomingAuth(oidcConfig(issuer)));
  try {
    const res = await fetch(`${srv.url}/mcp`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("www-authenticate"), null);
    assert.equal((await res.json()).error.code, -32000);
  } finally {
    await srv.stop();
  }
});

Deno.test("an oidc config without an audience or resource URL is refused at start-up", () => {
  assert.throws(
    () =>
      createIncomingAuth({
        type: "oidc",
        oidcConfig: {
          type: "inline",
          inline: { issuer: "https://idp.example.com", clockSkew: "30s" },
        },
      } as IncomingAuth),
    /incomingAuth\.oidcConfig\.inline\.audience/,
  );
  assert.throws(
    () => createIncomingAuth({ type: "oidc" } as IncomingAuth),
    /needs oidcConfig\.inline/,
  );
  // The resource URL is the audience when none is given (RFC 8707 resource indicators).
  const auth = createIncomingAuth({
    type: "oidc",
    oidcConfig: {
      type: "inline",
      inline: { issuer: "https://idp.example.com", clockSkew: "30s" },
      resourceUrl: "https://vmcp.example.com/mcp",
    },
  } as IncomingAuth);
  auth.close();
});

/**
 * OIDC incoming auth through the real proxy (real HTTP, SDK clients, the test issuer's
 * JWKS): every forged or unfit token is refused with 401 and a `WWW-Authenticate` pointing
 * at the RFC 9728 metadata, which the proxy serves; a key rotation is followed.
 */
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { ManualClock } from "../../core/clock.ts";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { authProxy, config, connectWithToken, echo, oidcIncoming, type Seen } from "./helpers.ts";

const b64url = (s: string) => btoa(s).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");

/** Asserts that an SDK client presenting `token` cannot connect, and how it was refused. */
async function refused(url: string, token: string | undefined, origin: string, why: RegExp) {
  const err = await connectWithToken(url, token).then(
    async (c) => {
      await c.close();
      return undefined;
    },
    (e: Error & { seen?: Seen[] }) => e,
  );
  assert.ok(err, `a client presenting ${why} was accepted`);
  const answer = err.seen?.at(-1);
  assert.equal(answer?.status, 401, `${why}: ${err.message}`);
  const challenge = answer.headers.get("www-authenticate") ?? "";
  assert.match(
    challenge,
    new RegExp(`^Bearer resource_metadata="${origin}/\\.well-known/oauth-protected-resource"`),
  );
  if (token === undefined) assert.doesNotMatch(challenge, /invalid_token/);
  else assert.match(challenge, /error="invalid_token"/);
  assert.match(challenge, why, `${why} not in ${challenge}`);
  if (token) assert.ok(!challenge.includes(token), "the challenge repeats the token");
}

Deno.test("the proxy refuses missing, expired, foreign, unsigned, HS256-forged, unknown-kid and tampered tokens with 401 and a resource_metadata challenge", async () => {
  const idp = await startOidcIssuer();
  const web = await serveHttpBackend({ name: "web" });
  const p = await authProxy(config({
    incomingAuth: oidcIncoming(idp.issuer),
    backends: [{ name: "web", url: web.url }],
  }));
  try {
    const valid = await idp.sign({ sub: "alice" });
    const ok = await connectWithToken(p.url, valid);
    assert.equal((await echo(ok, "web_echo")).backend, "web");
    await ok.close();

    const [header, payload, signature] = valid.split(".");
    const claims = JSON.parse(atob(payload!.replace(/-/g, "+").replace(/_/g, "/")));
    const tampered = `${header}.${
      b64url(JSON.stringify({ ...claims, sub: "admin" }))
    }.${signature}`;
    const none = `${b64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${
      b64url(JSON.stringify(claims))
    }.`;
    const hs256 = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", kid: await idp.currentKid(), typ: "JWT" })
      .sign(new TextEncoder().encode(await idp.publicKeyPem()));

    await refused(p.url, undefined, p.origin, /resource_metadata/);
    await refused(p.url, await idp.sign({}, { expiresIn: -120 }), p.origin, /expired/);
    await refused(p.url, await idp.sign({ aud: "another-api" }), p.origin, /audience/);
    await refused(p.url, await idp.sign({ iss: "http://127.0.0.1:1" }), p.origin, /issuer/);
    await refused(p.url, none, p.origin, /algorithm|malformed/);
    await refused(p.url, hs256, p.origin, /algorithm/);
    await refused(p.url, await idp.sign({}, { kid: "no-such-kid" }), p.origin, /signing key/);
    await refused(p.url, tampered, p.origin, /signature/);
    assert.ok(idp.requests("/jwks") <= 2, `JWKS fetched ${idp.requests("/jwks")} times`);
  } finally {
    await p.stop();
    await web.stop();
    await idp.stop();
  }
});

Deno.test("the protected-resource metadata names the MCP endpoint and the issuer, also at the path-suffixed URL", async () => {
  const idp = await startOidcIssuer();
  const p = await authProxy(config({ incomingAuth: oidcIncoming(idp.issuer), backends: [] }));
  try {
    for (const path of ["", "/mcp"]) {
      const res = await fetch(`${p.origin}/.well-known/oauth-protected-resource${path}`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), {
        resource: `${p.origin}/mcp`,
        authorization_servers: [idp.issuer],
        bearer_methods_supported: ["header"],
        scopes_supported: ["openid"],
        resource_name: "vmcp",
      });
    }
  } finally {
    await p.stop();
    await idp.stop();
  }
});

Deno.test("after the issuer rotates its keys, tokens signed with the new key are accepted and the old key's are refused", async () => {
  const idp = await startOidcIssuer();
  const web = await serveHttpBackend({ name: "web" });
  // The verifier refetches the JWKS for an unknown kid at most every 30 s: move its clock.
  const clock = new ManualClock(Date.now());
  const p = await authProxy(
    config({ incomingAuth: oidcIncoming(idp.issuer), backends: [{ name: "web", url: web.url }] }),
    { deps: { incoming: { clock } } },
  );
  try {
    const oldToken = await idp.sign({ sub: "alice" });
    const before = await connectWithToken(p.url, oldToken);
    await before.close();
    await idp.rotateKeys();
    const newToken = await idp.sign({ sub: "bob" });
    clock.advance(31_000);
    const after = await connectWithToken(p.url, newToken);
    assert.equal((await echo(after, "web_echo", "rotated")).message, "rotated");
    await after.close();
    await refused(p.url, oldToken, p.origin, /signing key/);
    assert.equal(idp.requests("/jwks"), 2);
  } finally {
    await p.stop();
    await web.stop();
    await idp.stop();
  }
});

import assert from "node:assert/strict";
import { ManualClock } from "../../core/clock.ts";
import { startIntrospectionEndpoint } from "../../tests/fixtures/introspection_endpoint.ts";
import { AuthError } from "./errors.ts";
import { createIntrospectionVerifier, looksLikeJwt } from "./introspection.ts";

const SECRET = "vmcp-introspect-secret";

async function rejection(p: Promise<unknown>): Promise<AuthError> {
  const err = await p.then(() => undefined, (e) => e);
  assert.ok(err instanceof AuthError, `expected an AuthError, got ${err}`);
  return err;
}

Deno.test("an active opaque token becomes an identity; the endpoint is asked once with HTTP Basic client credentials and the token_type_hint", async () => {
  const ep = startIntrospectionEndpoint();
  try {
    const v = createIntrospectionVerifier({
      url: ep.url,
      clientId: "vmcp",
      clientSecret: SECRET,
      issuer: "https://idp.example.com",
      audience: "vmcp",
    });
    const token = ep.issue({ sub: "alice", aud: "vmcp", iss: "https://idp.example.com" });
    const id = await v.verify(token);
    assert.equal(id.subject, "alice");
    assert.equal(id.issuer, "https://idp.example.com");
    assert.equal(id.token, token);
    assert.ok(id.expiresAt! > Date.now());
    for (let i = 0; i < 5; i++) assert.equal((await v.verify(token)).subject, "alice");
    assert.equal(ep.log.length, 1, "cached after the first answer");
    assert.deepEqual(ep.log[0], {
      token,
      tokenTypeHint: "access_token",
      clientId: "vmcp",
      clientAuthenticated: true,
    });
  } finally {
    await ep.stop();
  }
});

Deno.test("inactive, expired, not-yet-valid and foreign-audience tokens are refused as invalid_token; a token without aud is accepted", async () => {
  const ep = startIntrospectionEndpoint();
  try {
    const v = createIntrospectionVerifier({
      url: ep.url,
      clientId: "vmcp",
      clientSecret: SECRET,
      issuer: "https://idp.example.com",
      audience: ["vmcp", "https://vmcp.example.com/mcp"],
    });
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, RegExp][] = [
      ["opaque-unknown", /not active/],
      [ep.issue({ exp: now - 120 }), /expired/],
      [ep.issue({ nbf: now + 600 }), /not yet valid/],
      [ep.issue({ aud: "another-api" }), /audience/],
      [ep.issue({ aud: ["x", "y"] }), /audience/],
      [ep.issue({ sub: undefined, client_id: undefined }), /no subject/],
    ];
    for (const [token, why] of cases) {
      const err = await rejection(v.verify(token));
      assert.equal(err.code, "invalid_token", `${why}`);
      assert.match(err.message, why);
      assert.ok(!err.message.includes(token), "the message repeats the token");
    }
    assert.equal((await v.verify(ep.issue({ aud: undefined, sub: "bob" }))).subject, "bob");
    assert.equal(
      (await v.verify(ep.issue({ aud: ["other", "https://vmcp.example.com/mcp"] }))).subject,
      "user-1",
    );
  } finally {
    await ep.stop();
  }
});

Deno.test("answers are cached briefly and never past exp; a revoked token is refused once its cached answer ages out; inactive answers are cached for less", async () => {
  const ep = startIntrospectionEndpoint();
  const clock = new ManualClock(Date.now());
  try {
    const v = createIntrospectionVerifier({
      url: ep.url,
      clientId: "vmcp",
      clientSecret: SECRET,
      issuer: "https://idp.example.com",
      clock,
      clockSkewSeconds: 0,
    });
    const revoked = ep.issue({ sub: "alice" });
    await v.verify(revoked);
    ep.revoke(revoked);
    clock.advance(59_000);
    await v.verify(revoked);
    assert.equal(ep.log.length, 1, "still the cached answer within 60 s");
    clock.advance(2_000);
    assert.match((await rejection(v.verify(revoked))).message, /not active/);
    assert.equal(ep.log.length, 2);
    await rejection(v.verify(revoked));
    assert.equal(ep.log.length, 2, "the inactive answer is cached too");
    clock.advance(11_000);
    await rejection(v.verify(revoked));
    assert.equal(ep.log.length, 3, "for 10 s");

    const short = ep.issue({ sub: "bob", exp: Math.floor(clock.now() / 1000) + 5 });
    await v.verify(short);
    clock.advance(6_000);
    assert.match((await rejection(v.verify(short))).message, /expired/);
    assert.equal(ep.log.length, 5, "the answer was not reused past exp");
  } finally {
    await ep.stop();
  }
});

Deno.test("the cache is bounded: past cacheMaxEntries the least recently used answer is asked again", async () => {
  const ep = startIntrospectionEndpoint();
  try {
    const v = createIntrospectionVerifier({
      url: ep.url,
      clientId: "vmcp",
      clientSecret: SECRET,
      issuer: "https://idp.example.com",
      cacheMaxEntries: 2,
    });
    const [a, b, c] = [ep.issue(), ep.issue(), ep.issue()];
    await v.verify(a!);
    await v.verify(b!);
    await v.verify(a!); // a is now the most recently used
    await v.verify(c!); // evicts b
    assert.equal(ep.log.length, 3);
    await v.verify(a!);
    assert.equal(ep.log.length, 3, "a stayed cached");
    await v.verify(b!);
    assert.equal(ep.log.length, 4, "b was evicted and asked again");
  } finally {
    await ep.stop();
  }
});

Deno.test("an unreachable, failing or credential-refusing endpoint makes tokens unavailable (503), never accepted, and failures are not cached", async () => {
  const ep = startIntrospectionEndpoint();
  try {
    const token = ep.issue();
    const wrong = createIntrospectionVerifier({
      url: ep.url,
      clientId: "vmcp",
      clientSecret: "wrong",
      issuer: "https://idp.example.com",
    });
    const err = await rejection(wrong.verify(token));
    assert.equal(err.code, "unavailable");
    assert.match(err.message, /HTTP 401 \(check clientId and the client secret\)/);
    assert.ok(!err.message.includes("wrong"));

    const v = createIntrospectionVerifier({
      url: ep.url,
      clientId: "vmcp",
      clientSecret: SECRET,
      issuer: "https://idp.example.com",
    });
    ep.failWith(500);
    assert.equal((await rejection(v.verify(token))).code, "unavailable");
    ep.failWith(undefined);
    assert.equal((await v.verify(token)).subject, "user-1", "the failure was not cached");
  } finally {
    await ep.stop();
  }
  const down = createIntrospectionVerifier({
    url: "http://127.0.0.1:1/introspect",
    clientId: "vmcp",
    clientSecret: SECRET,
    issuer: "https://idp.example.com",
  });
  assert.equal((await rejection(down.verify("opaque-x"))).code, "unavailable");
});

Deno.test("looksLikeJwt() tells JWS compact tokens from opaque ones", () => {
  const h = btoa(JSON.stringify({ alg: "RS256", typ: "JWT" })).replace(/=+$/, "");
  assert.equal(looksLikeJwt(`${h}.e30.sig`), true);
  assert.equal(looksLikeJwt("opaque-1234"), false);
  assert.equal(looksLikeJwt("a.b.c"), false);
  assert.equal(looksLikeJwt(`${h}.e30`), false);
});

Deno.test("createIntrospectionVerifier() refuses a config without client credentials, naming the fields", () => {
  assert.throws(
    () =>
      createIntrospectionVerifier({
        url: "http://127.0.0.1:1/i",
        clientId: "",
        clientSecret: "",
        issuer: "https://idp.example.com",
      }),
    /introspectionUrl needs clientId and a client secret/,
  );
});

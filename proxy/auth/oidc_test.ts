import assert from "node:assert/strict";
import { base64url, SignJWT } from "jose";
import { ManualClock } from "../../core/clock.ts";
import { startOidcIssuer } from "../../tests/fixtures/oidc_issuer.ts";
import { AuthError } from "./errors.ts";
import { createOidcVerifier } from "./oidc.ts";

async function rejectsWith(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof AuthError, `expected AuthError, got ${err}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

Deno.test("a valid token yields the issuer, subject, claims and expiry", async () => {
  const idp = await startOidcIssuer();
  try {
    const v = createOidcVerifier({ issuer: idp.issuer, audience: "vmcp" });
    const token = await idp.sign({ sub: "alice", groups: ["dev"] });
    const id = await v.verify(token);
    assert.equal(id.issuer, idp.issuer);
    assert.equal(id.subject, "alice");
    assert.deepEqual(id.claims.groups, ["dev"]);
    assert.equal(id.token, token);
    assert.equal(id.expiresAt, (id.claims.exp as number) * 1000);
    assert.equal(idp.requests("/.well-known/openid-configuration"), 1, "JWKS found by discovery");
  } finally {
    await idp.stop();
  }
});

Deno.test("ES256 and PS256 tokens are accepted by default", async () => {
  const idp = await startOidcIssuer();
  try {
    const v = createOidcVerifier({ issuer: idp.issuer, audience: "vmcp", jwksUrl: idp.jwksUrl });
    // Create the keys before the verifier first loads the JWKS.
    await idp.currentKid("ES256");
    await idp.currentKid("PS256");
    assert.equal((await v.verify(await idp.sign({}, { alg: "ES256" }))).subject, "user-1");
    assert.equal((await v.verify(await idp.sign({}, { alg: "PS256" }))).subject, "user-1");
    assert.equal(idp.requests("/.well-known/openid-configuration"), 0, "jwksUrl skips discovery");
  } finally {
    await idp.stop();
  }
});

Deno.test("expired, wrong-audience, wrong-issuer and not-yet-valid tokens are rejected", async () => {
  const idp = await startOidcIssuer();
  try {
    const v = createOidcVerifier({ issuer: idp.issuer, audience: "vmcp" });
    const now = Math.floor(Date.now() / 1000);
    await rejectsWith(
      v.verify(await idp.sign({}, { expiresIn: -120 })),
      "invalid_token",
      /expired/,
    );
    await rejectsWith(v.verify(await idp.sign({ aud: "other" })), "invalid_token", /audience/);
    await rejectsWith(
      v.verify(await idp.sign({ iss: "http://127.0.0.1:1" })),
      "invalid_token",
      /issuer/,
    );
    await rejectsWith(v.verify(await idp.sign({ nbf: now + 300 })), "invalid_token", /not yet/);
    await rejectsWith(v.verify(await idp.sign({ sub: undefined })), "invalid_token", /sub/);
  } finally {
    await idp.stop();
  }
});

Deno.test("clock skew tolerates a token expired by less than clockSkewSeconds", async () => {
  const idp = await startOidcIssuer();
  try {
    const token = await idp.sign({}, { expiresIn: -10 });
    const lenient = createOidcVerifier({ issuer: idp.issuer, audience: "vmcp" });
    assert.equal((await lenient.verify(token)).subject, "user-1");
    const strict = createOidcVerifier({
      issuer: idp.issuer,
      audience: "vmcp",
      clockSkewSeconds: 0,
    });
    await rejectsWith(strict.verify(token), "invalid_token", /expired/);
  } finally {
    await idp.stop();
  }
});

Deno.test("alg none, HS256 signed with the RSA public key and tampered payloads are rejected", async () => {
  const idp = await startOidcIssuer();
  try {
    const v = createOidcVerifier({ issuer: idp.issuer, audience: "vmcp" });
    const good = await idp.sign({ sub: "alice" });
    const [, payload] = good.split(".");
    const kid = await idp.currentKid();

    const noneHeader = base64url.encode(JSON.stringify({ alg: "none", kid, typ: "JWT" }));
    await rejectsWith(v.verify(`${noneHeader}.${payload}.`), "invalid_token", /./);

    const pem = await idp.publicKeyPem();
    const hs = await new SignJWT(JSON.parse(new TextDecoder().decode(base64url.decode(payload!))))
      .setProtectedHeader({ alg: "HS256", kid, typ: "JWT" })
      .sign(new TextEncoder().encode(pem));
    await rejectsWith(v.verify(hs), "invalid_token", /algorithm is not allowed/);

    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload!)));
    const forged = base64url.encode(JSON.stringify({ ...claims, sub: "admin" }));
    const [h, , s] = good.split(".");
    await rejectsWith(v.verify(`${h}.${forged}.${s}`), "invalid_token", /signature is invalid/);

    await rejectsWith(v.verify("not-a-jwt"), "invalid_token", /malformed/);
    await rejectsWith(v.verify(""), "missing_token", /no bearer token/);
    assert.equal((await v.verify(good)).subject, "alice", "the untampered token still passes");
  } finally {
    await idp.stop();
  }
});

Deno.test("a token whose kid is not in the JWKS is rejected", async () => {
  const idp = await startOidcIssuer();
  try {
    const v = createOidcVerifier({ issuer: idp.issuer, audience: "vmcp" });
    await rejectsWith(
      v.verify(await idp.sign({}, { kid: "unknown-kid" })),
      "invalid_token",
      /no signing key/,
    );
  } finally {
    await idp.stop();
  }
});

Deno.test("after a key rotation new tokens are accepted once the refresh interval allows a JWKS refetch", async () => {
  const idp = await startOidcIssuer();
  const clock = new ManualClock(Date.now());
  try {
    const v = createOidcVerifier({ issuer: idp.issuer, audience: "vmcp", clock });
    const oldToken = await idp.sign({ sub: "alice" });
    await v.verify(oldToken);
    await idp.rotateKeys();
    const newToken = await idp.sign({ sub: "bob" });
    await rejectsWith(v.verify(newToken), "invalid_token", /no signing key/);
    clock.advance(31_000);
    assert.equal((await v.verify(newToken)).subject, "bob");
    await rejectsWith(v.verify(oldToken), "invalid_token", /no signing key/);
  } finally {
    await idp.stop();
  }
});

Deno.test("unknown-kid tokens refetch the JWKS at most once per 30 seconds", async () => {
  const idp = await startOidcIssuer();
  const clock = new ManualClock(Date.now());
  try {
    const v = createOidcVerifier({ issuer: idp.issuer, audience: "vmcp", clock });
    await v.verify(await idp.sign());
    assert.equal(idp.requests("/jwks"), 1);
    clock.advance(30_000);
    const bogus = await Promise.all(
      Array.from({ length: 20 }, (_, i) => idp.sign({}, { kid: `made-up-${i}` })),
    );
    await Promise.all(bogus.map((t) => v.verify(t).catch(() => {})));
    assert.equal(idp.requests("/jwks"), 2, "twenty unknown kids at once cause one refetch");
    clock.advance(10_000);
    for (const t of bogus) await v.verify(t).catch(() => {});
    assert.equal(idp.requests("/jwks"), 2, "no refetch within 30 s of the last one");
    clock.advance(20_000);
    await v.verify(bogus[0]!).catch(() => {});
    assert.equal(idp.requests("/jwks"), 3, "one refetch once 30 s have passed");
  } finally {
    await idp.stop();
  }
});

Deno.test("an unreachable issuer makes verification fail as unavailable, not as a bad token", async () => {
  const idp = await startOidcIssuer();
  const issuer = idp.issuer;
  const token = await idp.sign();
  await idp.stop();
  const v = createOidcVerifier({ issuer, audience: "vmcp", fetchTimeoutMs: 10_000 });
  await rejectsWith(v.verify(token), "unavailable", /could not fetch/);
});

Deno.test("a discovery document naming another issuer is refused", async () => {
  const idp = await startOidcIssuer();
  try {
    const issuer = idp.issuer.replace("127.0.0.1", "localhost");
    const v = createOidcVerifier({ issuer, audience: "vmcp" });
    await rejectsWith(v.verify(await idp.sign({ iss: issuer })), "unavailable", /names issuer/);
  } finally {
    await idp.stop();
  }
});

Deno.test("allowedAlgorithms refuses none and HMAC algorithms at construction", () => {
  for (const alg of ["none", "HS256", "HS512", "RS1"]) {
    assert.throws(
      () => createOidcVerifier({ issuer: "https://idp", audience: "a", allowedAlgorithms: [alg] }),
      new RegExp(`allowedAlgorithms entry "${alg}"`),
    );
  }
  assert.throws(() => createOidcVerifier({ issuer: "https://idp", audience: "" }), /oidc.audience/);
  assert.throws(() => createOidcVerifier({ issuer: "idp", audience: "a" }), /oidc.issuer/);
});

Deno.test("a token signed with a disallowed but published algorithm is rejected", async () => {
  const idp = await startOidcIssuer();
  try {
    await idp.currentKid("ES256");
    const v = createOidcVerifier({
      issuer: idp.issuer,
      audience: "vmcp",
      allowedAlgorithms: ["RS256"],
    });
    await rejectsWith(v.verify(await idp.sign({}, { alg: "ES256" })), "invalid_token", /algorithm/);
  } finally {
    await idp.stop();
  }
});

Deno.test("a verified token is reused without a new signature check, as a copy, until it expires or the key set changes", async () => {
  const idp = await startOidcIssuer();
  const clock = new ManualClock(Date.now());
  const subtle = crypto.subtle;
  const original = subtle.verify;
  let checks = 0;
  subtle.verify = function (...args: Parameters<SubtleCrypto["verify"]>) {
    checks++;
    return original.apply(subtle, args);
  };
  try {
    const v = createOidcVerifier({ issuer: idp.issuer, audience: "vmcp", clock });
    const token = await idp.sign({ sub: "alice" }, { expiresIn: 90 });
    const first = await v.verify(token);
    first.token = "mutated";
    const second = await v.verify(token);
    assert.equal(checks, 1, "the second verification reused the first");
    assert.equal(second.token, token, "each caller gets its own copy");
    clock.advance(61_000);
    await v.verify(token);
    assert.equal(checks, 2, "re-checked after 60 s");
    clock.advance(60_000);
    await rejectsWith(v.verify(token), "invalid_token", /expired/);

    const other = await idp.sign({ sub: "bob" });
    await v.verify(other);
    await idp.rotateKeys();
    clock.advance(31_000);
    await v.verify(await idp.sign({ sub: "carol" })); // unknown kid: the key set is reloaded
    await rejectsWith(v.verify(other), "invalid_token", /no signing key/);
  } finally {
    subtle.verify = original;
    await idp.stop();
  }
});

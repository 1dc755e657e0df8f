import assert from "node:assert/strict";
import { ManualClock } from "../../core/clock.ts";
import { ANONYMOUS_IDENTITY, type Identity } from "../../core/auth/identity.ts";
import { createMemoryTokenCache } from "../../core/auth/token_cache.ts";
import { createLogger } from "../../core/log.ts";
import { startOidcIssuer } from "../../tests/fixtures/oidc_issuer.ts";
import { startTokenEndpoint } from "../../tests/fixtures/token_endpoint.ts";
import { OutgoingAuthError } from "./errors.ts";
import { createOidcVerifier } from "./oidc.ts";
import { createOutgoingAuth } from "./outgoing.ts";

const SECRET = "vmcp-secret";

function exchange(tokenUrl: string, extra: Record<string, unknown> = {}) {
  return {
    type: "tokenExchange",
    tokenExchange: {
      tokenUrl,
      clientId: "vmcp",
      clientSecretEnv: "TX_SECRET",
      audience: "github",
      ...extra,
    },
  };
}
const env = (name: string) =>
  name === "TX_SECRET" ? SECRET : name === "GH_TOKEN" ? "ghp_abc" : undefined;

Deno.test("unauthenticated adds no headers and headerInjection adds the configured header", async () => {
  const none = createOutgoingAuth({ type: "unauthenticated" }, { backendName: "a" });
  assert.deepEqual(await none.headersFor(ANONYMOUS_IDENTITY), {});
  const hdr = createOutgoingAuth(
    { type: "headerInjection", headerInjection: { headerName: "X-API-Key", valueEnv: "GH_TOKEN" } },
    { backendName: "b", env },
  );
  assert.deepEqual(await hdr.headersFor(ANONYMOUS_IDENTITY), { "X-API-Key": "ghp_abc" });
  assert.deepEqual(await hdr.probeHeaders(), { "X-API-Key": "ghp_abc" });
  const legacy = createOutgoingAuth(
    {
      type: "header_injection",
      headerInjection: { headerName: "X-K", headerValueEnv: "GH_TOKEN" },
    },
    { backendName: "c", env },
  );
  assert.deepEqual(await legacy.headersFor(ANONYMOUS_IDENTITY), { "X-K": "ghp_abc" });
});

Deno.test("a strategy that cannot be built throws an error naming the field, never the secret", () => {
  assert.throws(
    () =>
      createOutgoingAuth(
        { type: "headerInjection", headerInjection: { headerName: "X-K", valueEnv: "MISSING" } },
        { backendName: "b", env },
      ),
    (e: unknown) =>
      e instanceof OutgoingAuthError &&
      /valueEnv names environment variable MISSING/.test(e.message),
  );
  assert.throws(
    () =>
      createOutgoingAuth({
        type: "headerInjection",
        headerInjection: { headerName: "Host", value: "x" },
      }, { backendName: "b" }),
    /backends\.b\.auth\.headerInjection\.headerName: must not be a transport/,
  );
  assert.throws(
    () =>
      createOutgoingAuth({
        type: "headerInjection",
        headerInjection: { headerName: "X", valueSecretRef: { name: "s", key: "k" } },
      }, { backendName: "b" }),
    /exactly one of value and valueEnv/,
  );
  assert.throws(
    () =>
      createOutgoingAuth(exchange("http://127.0.0.1:1/t", { subjectTokenType: "saml" }), {
        backendName: "b",
        env,
      }),
    /subjectTokenType/,
  );
  assert.throws(
    () => createOutgoingAuth({ type: "bogus" }, { backendName: "b" }),
    /type must be one of/,
  );
  assert.throws(
    () =>
      createOutgoingAuth({
        type: "headerInjection",
        headerInjection: { headerName: "X", value: "a\r\nEvil: 1" },
      }, { backendName: "b" }),
    (e: unknown) => e instanceof OutgoingAuthError && !e.message.includes("Evil"),
  );
});

Deno.test("token exchange runs once per user and backend while cached, again after expiry, and never forwards the caller's token", async () => {
  const idp = await startOidcIssuer();
  const te = startTokenEndpoint({ expiresIn: 300 });
  const clock = new ManualClock(Date.now());
  try {
    const verifier = createOidcVerifier({ issuer: idp.issuer, audience: "vmcp", clock });
    const alice = await verifier.verify(await idp.sign({ sub: "alice" }));
    const bob = await verifier.verify(await idp.sign({ sub: "bob" }));
    const cache = createMemoryTokenCache({ clock });
    const deps = { cache, clock, env, ttlOffsetMs: 30_000 };
    const gh = createOutgoingAuth(exchange(te.url), { ...deps, backendName: "github" });
    const jira = createOutgoingAuth(
      exchange(te.url, { audience: "jira", scopes: ["read", "write"] }),
      { ...deps, backendName: "jira" },
    );

    const h1 = await gh.headersFor(alice);
    assert.match(h1.Authorization!, /^Bearer exchanged:github:alice:\d+$/);
    assert.ok(
      !Object.values(h1).some((v) => v.includes(alice.token!)),
      "caller token not forwarded",
    );
    assert.deepEqual(await gh.headersFor(alice), h1);
    assert.equal(te.calls(), 1, "second call for alice@github served from the cache");

    assert.match((await gh.headersFor(bob)).Authorization!, /^Bearer exchanged:github:bob:/);
    assert.match((await jira.headersFor(alice)).Authorization!, /^Bearer exchanged:jira:alice:/);
    assert.equal(te.calls(), 3, "one exchange per (user, backend)");

    const req = te.log[0]!;
    assert.equal(req.grantType, "urn:ietf:params:oauth:grant-type:token-exchange");
    assert.equal(req.subjectToken, alice.token);
    assert.equal(req.subjectTokenType, "urn:ietf:params:oauth:token-type:access_token");
    assert.equal(req.audience, "github");
    assert.equal(req.clientAuthenticated, true);
    assert.equal(te.log[2]!.scope, "read write");

    clock.advance(269_000);
    await gh.headersFor(alice);
    assert.equal(te.calls(), 3, "reused until expires_in - ttlOffset");
    clock.advance(2_000);
    const h2 = await gh.headersFor(alice);
    assert.equal(te.calls(), 4, "exchanged again once expires_in - ttlOffset passed");
    assert.notEqual(h2.Authorization, h1.Authorization);
  } finally {
    await te.stop();
    await idp.stop();
  }
});

Deno.test("concurrent calls for the same user and backend share one exchange", async () => {
  const te = startTokenEndpoint();
  try {
    const gh = createOutgoingAuth(exchange(te.url), { backendName: "github", env });
    const id: Identity = {
      issuer: "https://idp",
      subject: "alice",
      claims: {},
      token: "opaque-alice",
    };
    const all = await Promise.all(Array.from({ length: 10 }, () => gh.headersFor(id)));
    assert.equal(te.calls(), 1);
    assert.ok(all.every((h) => h.Authorization === all[0]!.Authorization));
  } finally {
    await te.stop();
  }
});

Deno.test("short forms of subjectTokenType, externalTokenHeaderName and a missing expires_in are honoured", async () => {
  const te = startTokenEndpoint({ expiresIn: null });
  const clock = new ManualClock(0);
  try {
    const auth = createOutgoingAuth(
      exchange(te.url, {
        subjectTokenType: "id_token",
        externalTokenHeaderName: "X-Upstream-Token",
      }),
      { backendName: "b", env, clock, defaultTtlMs: 10_000 },
    );
    const id: Identity = { issuer: "i", subject: "s", claims: {}, token: "t1" };
    const h = await auth.headersFor(id);
    assert.deepEqual(Object.keys(h), ["X-Upstream-Token"]);
    assert.equal(te.log[0]!.subjectTokenType, "urn:ietf:params:oauth:token-type:id_token");
    clock.advance(9_000);
    await auth.headersFor(id);
    assert.equal(te.calls(), 1);
    clock.advance(2_000);
    await auth.headersFor(id);
    assert.equal(te.calls(), 2, "without expires_in a token is reused for defaultTtlMs");
  } finally {
    await te.stop();
  }
});

Deno.test("token exchange failures are errors that carry neither the caller's token nor the client secret", async () => {
  const te = startTokenEndpoint({ clientSecret: "other-secret" });
  const lines: string[] = [];
  try {
    const auth = createOutgoingAuth(exchange(te.url), {
      backendName: "github",
      env,
      logger: createLogger({ level: "debug", sink: (l) => lines.push(l) }),
    });
    const id: Identity = {
      issuer: "i",
      subject: "alice",
      claims: {},
      token: "super-secret-subject-token",
    };
    await assert.rejects(auth.headersFor(id), (e: unknown) => {
      assert.ok(e instanceof OutgoingAuthError);
      assert.match(e.message, /answered HTTP 401 \(invalid_client\)/);
      assert.ok(!e.message.includes("super-secret-subject-token") && !e.message.includes(SECRET));
      return true;
    });
    te.failWith(500);
    await assert.rejects(auth.headersFor(id), /HTTP 500/);
    await assert.rejects(auth.headersFor(ANONYMOUS_IDENTITY), /needs an authenticated caller/);
    assert.ok(!lines.join("\n").includes("super-secret-subject-token"));
  } finally {
    await te.stop();
  }
  const dead = createOutgoingAuth(exchange(te.url), {
    backendName: "github",
    env,
    timeoutMs: 10_000, // refused at once; generous so a busy machine never times out first
  });
  await assert.rejects(
    dead.headersFor({ issuer: "i", subject: "a", claims: {}, token: "tok" }),
    /token endpoint http:\/\/127\.0\.0\.1:\d+\/token unreachable/,
  );
});

Deno.test("an aborted caller stops waiting without failing others waiting for the same exchange", async () => {
  const te = startTokenEndpoint();
  try {
    const auth = createOutgoingAuth(exchange(te.url), { backendName: "b", env });
    const id: Identity = { issuer: "i", subject: "alice", claims: {}, token: "tok" };
    const ac = new AbortController();
    const first = auth.headersFor(id, ac.signal);
    const second = auth.headersFor(id);
    ac.abort(new Error("client went away"));
    await assert.rejects(first, /client went away/);
    assert.match((await second).Authorization!, /^Bearer exchanged:github:/);
  } finally {
    await te.stop();
  }
});

Deno.test("health probes use client credentials for tokenExchange and nothing without a secret", async () => {
  const te = startTokenEndpoint();
  try {
    const auth = createOutgoingAuth(exchange(te.url), { backendName: "b", env });
    assert.match((await auth.probeHeaders()).Authorization!, /^Bearer cc:vmcp:/);
    await auth.probeHeaders();
    assert.equal(te.calls(), 1);
    assert.equal(te.log[0]!.grantType, "client_credentials");
    const pub = createOutgoingAuth(
      { type: "tokenExchange", tokenExchange: { tokenUrl: te.url, clientId: "pub" } },
      { backendName: "b" },
    );
    assert.deepEqual(await pub.probeHeaders(), {});
  } finally {
    await te.stop();
  }
});

/**
 * Outgoing auth through the real proxy: each backend gets the credentials its strategy
 * (discovered, inline or mixed source) calls for — never the caller's token; exchanged tokens
 * are obtained once per (user, backend) while valid; a backend whose credentials cannot be
 * built is excluded, reported in /status and never called.
 */
import assert from "node:assert/strict";
import type { VmcpConfigInput } from "../../crds/vmcp_config.ts";
import { McpError } from "../../core/sdk.ts";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { startTokenEndpoint, type TokenEndpoint } from "../fixtures/token_endpoint.ts";
import { type ServedBackend, serveHttpBackend } from "../fixtures/serve_http.ts";
import { authProxy, config, connectWithToken, echo, oidcIncoming } from "./helpers.ts";

const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ENV: Record<string, string> = {
  TE_SECRET: "vmcp-secret",
  JIRA_KEY: "jira-api-key-123",
  INLINE_KEY: "inline-key-456",
};
const env = (name: string) => ENV[name];

/** A backend that records the headers of every request it receives. */
async function recordingBackend(name: string) {
  const requests: Headers[] = [];
  const served = await serveHttpBackend({
    name,
    onRequest: (req) => void requests.push(new Headers(req.headers)),
  });
  return Object.assign(served, { requests });
}
type Recording = ServedBackend & { requests: Headers[] };

/** Values of `header` the backend received, without repeats. */
const seenValues = (b: Recording, header: string) => [
  ...new Set(b.requests.map((h) => h.get(header))),
];

function assertNeverSaw(b: Recording, secret: string) {
  for (const h of b.requests) {
    for (const [k, v] of h) assert.ok(!v.includes(secret), `${k} carried the caller's token`);
  }
}

const exchangeTo = (te: TokenEndpoint, audience: string, sub: string) =>
  te.log.filter((e) =>
    e.grantType === EXCHANGE && e.audience === audience && e.subjectToken !== null &&
    JSON.parse(atob(e.subjectToken.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).sub ===
      sub
  ).length;

function tokenExchange(url: string, audience: string) {
  return {
    type: "tokenExchange" as const,
    tokenExchange: { tokenUrl: url, clientId: "vmcp", clientSecretEnv: "TE_SECRET", audience },
  };
}

const jiraHeader = {
  type: "headerInjection" as const,
  headerInjection: { headerName: "X-Api-Key", valueEnv: "JIRA_KEY" },
};
const inlineHeader = {
  type: "headerInjection" as const,
  headerInjection: { headerName: "X-Inline-Key", valueEnv: "INLINE_KEY" },
};

async function scenario(
  outgoingAuth: VmcpConfigInput["outgoingAuth"],
  check: (b: Record<"gh" | "jira" | "plain", Recording>, callerToken: string) => void,
) {
  const idp = await startOidcIssuer();
  const te = startTokenEndpoint();
  const gh = await recordingBackend("gh");
  const jira = await recordingBackend("jira");
  const plain = await recordingBackend("plain");
  const p = await authProxy(
    config({
      incomingAuth: oidcIncoming(idp.issuer),
      outgoingAuth,
      backends: [
        { name: "gh", url: gh.url, auth: tokenExchange(te.url, "gh") },
        { name: "jira", url: jira.url, auth: jiraHeader },
        { name: "plain", url: plain.url },
      ],
    }),
    { deps: { env } },
  );
  try {
    const token = await idp.sign({ sub: "alice" });
    const c = await connectWithToken(p.url, token);
    for (const b of ["gh", "jira", "plain"]) {
      assert.equal((await echo(c, `${b}_echo`)).backend, b);
    }
    await c.close();
    for (const b of [gh, jira, plain]) assertNeverSaw(b, token);
    check({ gh, jira, plain }, token);
  } finally {
    await p.stop();
    await Promise.all([gh.stop(), jira.stop(), plain.stop(), te.stop(), idp.stop()]);
  }
}

Deno.test("source discovered: each backend uses its own strategy (exchanged token, injected header, nothing)", async () => {
  await scenario({ source: "discovered" }, ({ gh, jira, plain }) => {
    const ghAuth = seenValues(gh, "authorization");
    assert.ok(ghAuth.some((v) => /^Bearer exchanged:gh:alice:\d+$/.test(v ?? "")), String(ghAuth));
    assert.ok(ghAuth.every((v) => /^Bearer (exchanged:gh:alice|cc:vmcp):\d+$/.test(v ?? "")));
    assert.deepEqual(seenValues(jira, "x-api-key"), ["jira-api-key-123"]);
    assert.deepEqual(seenValues(jira, "authorization"), [null]);
    assert.deepEqual(seenValues(plain, "authorization"), [null]);
    assert.deepEqual(seenValues(plain, "x-api-key"), [null]);
  });
});

Deno.test("source inline: only the outgoingAuth entries count; the backends' own strategies are ignored", async () => {
  await scenario({
    source: "inline",
    default: inlineHeader,
    backends: { plain: { type: "unauthenticated" } },
  }, ({ gh, jira, plain }) => {
    assert.deepEqual(seenValues(gh, "x-inline-key"), ["inline-key-456"]);
    assert.deepEqual(seenValues(gh, "authorization"), [null]);
    assert.deepEqual(seenValues(jira, "x-inline-key"), ["inline-key-456"]);
    assert.deepEqual(seenValues(jira, "x-api-key"), [null]);
    assert.deepEqual(seenValues(plain, "x-inline-key"), [null]);
  });
});

Deno.test("source mixed: an explicit entry overrides, otherwise the backend's own strategy, otherwise the default", async () => {
  await scenario({
    source: "mixed",
    default: inlineHeader,
    backends: { gh: { type: "unauthenticated" } },
  }, ({ gh, jira, plain }) => {
    assert.deepEqual(seenValues(gh, "authorization"), [null]);
    assert.deepEqual(seenValues(gh, "x-inline-key"), [null]);
    assert.deepEqual(seenValues(jira, "x-api-key"), ["jira-api-key-123"]);
    assert.deepEqual(seenValues(jira, "x-inline-key"), [null]);
    assert.deepEqual(seenValues(plain, "x-inline-key"), ["inline-key-456"]);
  });
});

Deno.test("the token endpoint is called once per user and backend while the exchanged token is valid, and again after it expires", async () => {
  const idp = await startOidcIssuer();
  // expires_in 10 s: the proxy reuses it for half its lifetime (the 5 min offset is capped).
  // 5 s is ample for the calls that must share one token, even on a busy machine.
  const te = startTokenEndpoint({ expiresIn: 10 });
  const gh = await recordingBackend("gh");
  const jira = await recordingBackend("jira");
  const p = await authProxy(
    config({
      incomingAuth: oidcIncoming(idp.issuer),
      backends: [
        { name: "gh", url: gh.url, auth: tokenExchange(te.url, "gh") },
        { name: "jira", url: jira.url, auth: tokenExchange(te.url, "jira") },
      ],
    }),
    { deps: { env } },
  );
  try {
    const aliceToken = await idp.sign({ sub: "alice" });
    const alice = await connectWithToken(p.url, aliceToken);
    const alice2 = await connectWithToken(p.url, aliceToken);
    const bob = await connectWithToken(p.url, await idp.sign({ sub: "bob" }));
    for (let i = 0; i < 3; i++) {
      await echo(alice, "gh_echo");
      await echo(alice2, "gh_echo");
      await echo(bob, "gh_echo");
    }
    await echo(alice, "jira_echo");
    assert.equal(exchangeTo(te, "gh", "alice"), 1, "alice → gh, two sessions");
    assert.equal(exchangeTo(te, "gh", "bob"), 1, "bob → gh");
    assert.equal(exchangeTo(te, "jira", "alice"), 1, "alice → jira");
    const ghValues = seenValues(gh, "authorization").filter((v) => v?.includes("exchanged"));
    assert.equal(ghValues.length, 2, `one exchanged token per user: ${ghValues}`);

    await new Promise((r) => setTimeout(r, 5100)); // past half the lifetime
    await echo(alice, "gh_echo");
    assert.equal(exchangeTo(te, "gh", "alice"), 2, "exchanged again after expiry");
    await echo(alice2, "gh_echo");
    assert.equal(exchangeTo(te, "gh", "alice"), 2, "and the new token is shared again");
    await Promise.all([alice.close(), alice2.close(), bob.close()]);
    assertNeverSaw(gh, aliceToken);
  } finally {
    await p.stop();
    await Promise.all([gh.stop(), jira.stop(), te.stop(), idp.stop()]);
  }
});

Deno.test("a backend whose credentials cannot be built is excluded, shown in /status with the reason, and never called", async () => {
  const idp = await startOidcIssuer();
  const te = startTokenEndpoint();
  const good = await recordingBackend("good");
  const noHeader = await recordingBackend("noheader");
  const noSecret = await recordingBackend("nosecret");
  const unresolved = await recordingBackend("unresolved");
  const cfg = (mode: "fail" | "best_effort") =>
    config({
      incomingAuth: oidcIncoming(idp.issuer),
      operational: { failureHandling: { partialFailureMode: mode } },
      backends: [
        { name: "good", url: good.url, auth: jiraHeader },
        {
          name: "noheader",
          url: noHeader.url,
          auth: {
            type: "headerInjection",
            headerInjection: { headerName: "X-Key", valueEnv: "NOPE_1" },
          },
        },
        {
          name: "nosecret",
          url: noSecret.url,
          auth: {
            type: "tokenExchange",
            tokenExchange: {
              tokenUrl: te.url,
              clientId: "vmcp",
              clientSecretEnv: "NOPE_2",
              audience: "x",
            },
          },
        },
        {
          name: "unresolved",
          url: unresolved.url,
          auth: { type: "externalAuthConfigRef", externalAuthConfigRef: { name: "github-auth" } },
        },
      ],
    });
  const p = await authProxy(cfg("best_effort"), { deps: { env } });
  try {
    const c = await connectWithToken(p.url, await idp.sign({ sub: "alice" }));
    const names = (await c.client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes("good_echo"), String(names));
    assert.ok(!names.some((n) => /^(noheader|nosecret|unresolved)_/.test(n)), String(names));
    await assert.rejects(c.client.callTool({ name: "noheader_echo", arguments: { message: "x" } }));
    await c.close();

    const status = await p.status();
    const entry = (name: string) => status.backends.find((b) => b.name === name)!;
    assert.equal(entry("good").status, "ready");
    assert.match(entry("noheader").message!, /outgoing auth cannot be built.*NOPE_1.*not set/);
    assert.match(entry("nosecret").message!, /outgoing auth cannot be built.*NOPE_2.*not set/);
    assert.match(
      entry("unresolved").message!,
      /externalAuthConfigRef "github-auth" was not resolved/,
    );
    for (const name of ["noheader", "nosecret", "unresolved"]) {
      assert.notEqual(entry(name).status, "ready", name);
    }
    assert.equal(
      noHeader.requests.length + noSecret.requests.length + unresolved.requests.length,
      0,
    );
    assert.equal(te.calls(), 0, "no token endpoint call for a backend that cannot authenticate");
  } finally {
    await p.stop();
  }

  // partialFailureMode "fail": lists fail naming the excluded backend and why.
  const strict = await authProxy(cfg("fail"), { deps: { env } });
  try {
    const c = await connectWithToken(strict.url, await idp.sign({ sub: "alice" }));
    await assert.rejects(c.client.listTools(), (e: unknown) => {
      assert.ok(e instanceof McpError);
      assert.match(e.message, /"noheader" \(.*NOPE_1/);
      return true;
    });
    await c.close();
    assert.equal(
      noHeader.requests.length + noSecret.requests.length + unresolved.requests.length,
      0,
    );
  } finally {
    await strict.stop();
    await Promise.all([
      good.stop(),
      noHeader.stop(),
      noSecret.stop(),
      unresolved.stop(),
      te.stop(),
      idp.stop(),
    ]);
  }
});

// A per-user credential failure is a per-request error (BackendCredentialsError): it neither
// closes the shared connection nor counts against the backend's health.
Deno.test({
  name:
    "one caller whose token exchange is refused does not make the backend unavailable for others",
  fn: async () => {
    const idp = await startOidcIssuer();
    const te = startTokenEndpoint();
    const web = await recordingBackend("web");
    const p = await authProxy(
      config({
        incomingAuth: oidcIncoming(idp.issuer),
        backends: [{ name: "web", url: web.url, auth: tokenExchange(te.url, "web") }],
      }),
      { deps: { env } },
    );
    try {
      const mallory = await connectWithToken(p.url, await idp.sign({ sub: "mallory" }));
      te.failWith(403);
      for (let i = 0; i < 6; i++) await assert.rejects(echo(mallory, "web_echo"));
      te.failWith(undefined);
      const alice = await connectWithToken(p.url, await idp.sign({ sub: "alice" }));
      assert.equal((await echo(alice, "web_echo", "fine")).message, "fine");
      const web0 = (await p.status()).backends.find((b) => b.name === "web")!;
      assert.equal(web0.status, "ready");
      await Promise.all([mallory.close(), alice.close()]);
    } finally {
      await p.stop();
      await Promise.all([web.stop(), te.stop(), idp.stop()]);
    }
  },
});

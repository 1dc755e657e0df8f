/**
 * The real binary with auth from its config file: two proxy processes sharing a Redis token
 * cache reuse each other's exchanged tokens (encrypted at rest), and nothing secret — caller
 * tokens valid or forged, exchanged tokens, the client secret, injected header values, the
 * cache encryption key — ever appears in the proxy's log, even at debug level.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import type { VmcpConfigInput } from "../../crds/vmcp_config.ts";
import { getTestRedis } from "../harness/redis.ts";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { startTokenEndpoint } from "../fixtures/token_endpoint.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { connectWithToken, echo, oidcIncoming, post } from "./helpers.ts";
import { spawnProxy } from "./process.ts";

const redis = await getTestRedis();
const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";

function randomKey(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
}

function proxyConfig(
  issuer: string,
  tokenUrl: string,
  backends: VmcpConfigInput["backends"],
  keyPrefix: string,
): VmcpConfigInput {
  return {
    name: "auth-e2e",
    groupRef: { name: "g" },
    incomingAuth: oidcIncoming(issuer),
    operational: { logLevel: "debug", failureHandling: { partialFailureMode: "best_effort" } },
    tokenCache: {
      provider: "redis",
      redis: {
        address: `127.0.0.1:${redis.port}`,
        keyPrefix,
        encryptionKeyEnv: "VMCP_TOKEN_CACHE_KEY",
        ...(redis.password ? { passwordEnv: "VMCP_REDIS_PASSWORD" } : {}),
      },
    },
    backends: backends!.map((b) =>
      b.auth ? b : {
        ...b,
        auth: {
          type: "tokenExchange",
          tokenExchange: {
            tokenUrl,
            clientId: "vmcp",
            clientSecretEnv: "TE_SECRET",
            audience: b.name,
          },
        },
      }
    ),
  };
}

Deno.test("two proxy processes sharing Redis reuse each other's exchanged tokens, stored encrypted", async () => {
  const idp = await startOidcIssuer();
  const te = startTokenEndpoint({ clientSecret: "shared-secret" });
  const gh = await serveHttpBackend({ name: "gh" });
  const prefix = `vmcp:test:${crypto.randomUUID()}:`;
  const cfg = proxyConfig(idp.issuer, te.url, [{ name: "gh", url: gh.url }], prefix);
  const env = {
    TE_SECRET: "shared-secret",
    VMCP_TOKEN_CACHE_KEY: randomKey(),
    ...(redis.password ? { VMCP_REDIS_PASSWORD: redis.password } : {}),
  };
  const a = await spawnProxy(cfg, env);
  const b = await spawnProxy(cfg, env).catch(async (e) => {
    await a.stop();
    throw e;
  });
  const exchanges = () => te.log.filter((e) => e.grantType === EXCHANGE).length;
  try {
    const alice = await idp.sign({ sub: "alice" });
    const bob = await idp.sign({ sub: "bob" });
    const onA = await connectWithToken(a.url, alice);
    assert.equal((await echo(onA, "gh_echo", "via A")).message, "via A");
    assert.equal(exchanges(), 1);
    const onB = await connectWithToken(b.url, alice);
    assert.equal((await echo(onB, "gh_echo", "via B")).message, "via B");
    assert.equal(exchanges(), 1, "replica B reused the token replica A obtained");
    const bobB = await connectWithToken(b.url, bob);
    await echo(bobB, "gh_echo");
    const bobA = await connectWithToken(a.url, bob);
    await echo(bobA, "gh_echo");
    assert.equal(exchanges(), 2, "one exchange per user across both replicas");
    await Promise.all([onA.close(), onB.close(), bobB.close(), bobA.close()]);

    const client = new Redis({
      host: "127.0.0.1",
      port: redis.port,
      password: redis.password,
      maxRetriesPerRequest: 1,
    });
    try {
      const keys = await client.keys(`${prefix}*`);
      assert.ok(keys.length >= 2, String(keys.length));
      for (const k of keys) {
        assert.ok(!k.includes(alice) && !k.includes(bob), "a caller token is part of a key");
        const v = (await client.get(k))!;
        assert.match(v, /^v1\./);
        assert.ok(
          !v.includes("exchanged:") && !v.includes("cc:vmcp"),
          "a token is stored in clear",
        );
      }
    } finally {
      await client.quit();
    }
  } finally {
    assert.equal(await a.stop(), 0, a.stderr());
    assert.equal(await b.stop(), 0, b.stderr());
    await Promise.all([gh.stop(), te.stop(), idp.stop()]);
  }
});

Deno.test("no token, secret, header value or cache key appears in the proxy's debug log", async () => {
  const idp = await startOidcIssuer();
  const clientSecret = `cs-${crypto.randomUUID()}`;
  const headerValue = `hv-${crypto.randomUUID()}`;
  const cacheKey = randomKey();
  const te = startTokenEndpoint({ clientSecret, expiresIn: 2 });
  const gh = await serveHttpBackend({ name: "gh" });
  const jira = await serveHttpBackend({ name: "jira" });
  const broken = await serveHttpBackend({ name: "broken" });
  const cfg = proxyConfig(idp.issuer, te.url, [
    { name: "gh", url: gh.url },
    {
      name: "jira",
      url: jira.url,
      auth: {
        type: "headerInjection",
        headerInjection: { headerName: "X-Api-Key", valueEnv: "JIRA_KEY" },
      },
    },
    {
      name: "broken",
      url: broken.url,
      auth: {
        type: "headerInjection",
        headerInjection: { headerName: "X-Api-Key", valueEnv: "UNSET_VAR_X" },
      },
    },
  ], `vmcp:test:${crypto.randomUUID()}:`);
  const p = await spawnProxy(cfg, {
    TE_SECRET: clientSecret,
    JIRA_KEY: headerValue,
    VMCP_TOKEN_CACHE_KEY: cacheKey,
    ...(redis.password ? { VMCP_REDIS_PASSWORD: redis.password } : {}),
  });
  const presented: string[] = [];
  let code: number | undefined;
  try {
    const alice = await idp.sign({ sub: "alice" });
    const mallory = await idp.sign({ sub: "mallory" });
    presented.push(alice, mallory);
    const c = await connectWithToken(p.url, alice);
    await echo(c, "gh_echo");
    await echo(c, "jira_echo");
    te.failWith(500); // token endpoint failures are logged too
    await new Promise((r) => setTimeout(r, 1100)); // the exchanged token expires
    await assert.rejects(echo(c, "gh_echo"));
    te.failWith(undefined);
    // Refused callers: a foreign session user, forged and unfit tokens.
    const hijack = await post(
      p.url,
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      { "mcp-session-id": c.transport.sessionId!, authorization: `Bearer ${mallory}` },
    );
    assert.equal(hijack.status, 403);
    const [h, body] = alice.split(".");
    const forged = [
      await idp.sign({ sub: "eve" }, { expiresIn: -300 }),
      await idp.sign({ sub: "eve", aud: "other" }),
      `${h}.${body}.AAAA${"B".repeat(40)}`,
      "opaque-not-a-jwt-token-value-1234567890",
    ];
    presented.push(...forged);
    for (const t of forged) {
      const r = await post(
        p.url,
        JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: {} }),
        { authorization: `Bearer ${t}` },
      );
      assert.equal(r.status, 401);
    }
    await c.close();
  } finally {
    code = await p.stop();
    await Promise.all([gh.stop(), jira.stop(), broken.stop(), te.stop(), idp.stop()]);
  }
  const log = p.stderr();
  assert.equal(code, 0, log);
  // The log is not empty: it covers what happened.
  assert.match(log, /"level":"debug"/);
  assert.match(log, /refused a session presented by another identity/);
  assert.match(log, /outgoing auth cannot be built.*UNSET_VAR_X/);
  assert.match(log, /"msg":"token cache ready".*"provider":"redis"/);
  assert.ok(te.log.some((e) => e.grantType === EXCHANGE));
  const secrets: Record<string, string> = {
    "client secret": clientSecret,
    "injected header value": headerValue,
    "cache encryption key": cacheKey,
    "exchanged token": "exchanged:",
    "client-credentials token": "cc:vmcp:",
  };
  presented.forEach((t, i) => {
    secrets[`caller token ${i}`] = t;
    secrets[`signature of caller token ${i}`] = t.split(".")[2] ?? t;
  });
  if (redis.password) secrets["redis password"] = redis.password;
  for (const [what, value] of Object.entries(secrets)) {
    if (value.length < 8) continue;
    assert.ok(!log.includes(value), `the ${what} appears in the log`);
  }
});

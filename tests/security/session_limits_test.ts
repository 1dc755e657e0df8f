/**
 * Session limits on the real proxy binary, with the in-process store and with Redis: a cap per
 * identity (429), a cap in total (503), both a JSON-RPC error naming the limit; sessions that
 * never make a request after initialize expire after `initTtl`, active ones stay, and expired
 * ones free their place.
 */
import assert from "node:assert/strict";
import { getTestRedis } from "../harness/redis.ts";
import { until } from "../harness/until.ts";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { proxyProcess, RawMcp } from "./helpers.ts";

const redis = await getTestRedis();

function storage(provider: "memory" | "redis", limits: Record<string, unknown>) {
  if (provider === "memory") return { provider, ...limits };
  const u = new URL(redis.url);
  return {
    provider,
    address: `${u.hostname}:${u.port}`,
    ...(redis.password ? { passwordEnv: "VMCP_TEST_REDIS_PASSWORD" } : {}),
    keyPrefix: `vmcp:sec:${crypto.randomUUID()}:`,
    ...limits,
  };
}
const env: Record<string, string> = redis.password
  ? { VMCP_TEST_REDIS_PASSWORD: redis.password }
  : {};

function assertRefused(
  answer: Awaited<ReturnType<RawMcp["initialize"]>>,
  status: number,
  limit: string,
) {
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.json?.error?.code, -32004);
  assert.match(answer.json!.error!.message, new RegExp(limit));
  assert.ok(Number(answer.headers.get("retry-after")) >= 1);
  assert.equal(answer.headers.get("mcp-session-id"), null);
}

for (const provider of ["memory", "redis"] as const) {
  Deno.test(`${provider}: sessions are capped per identity (429) and in total (503), and a DELETE frees a place`, async () => {
    const idp = await startOidcIssuer();
    const web = await serveHttpBackend({ name: "web" });
    const p = await proxyProcess({
      incomingAuth: {
        type: "oidc",
        oidcConfig: { type: "inline", inline: { issuer: idp.issuer, audience: "vmcp" } },
      },
      sessionStorage: storage(provider, { maxSessions: 5, maxSessionsPerIdentity: 2 }),
      backends: [{ name: "web", url: web.url }],
    }, env);
    const open: RawMcp[] = [];
    const as = async (sub: string) =>
      new RawMcp(p.url, { authorization: `Bearer ${await idp.sign({ sub })}` });
    try {
      for (let i = 0; i < 2; i++) {
        const alice = await as("alice");
        assert.equal((await alice.initialize()).status, 200);
        open.push(alice);
      }
      const third = await as("alice");
      assertRefused(await third.initialize(), 429, "maxSessionsPerIdentity");
      // Other identities are not affected; alice's sessions keep working.
      for (const sub of ["bob", "bob", "carol"]) {
        const c = await as(sub);
        assert.equal((await c.initialize()).status, 200, sub);
        open.push(c);
      }
      assert.equal((await open[0]!.request("ping")).status, 200);
      // 5 sessions: the total is reached for everyone.
      assertRefused(await (await as("dave")).initialize(), 503, "maxSessions");
      // A DELETE frees a place at once.
      await open.shift()!.close();
      const again = await as("alice");
      assert.equal((await again.initialize()).status, 200);
      open.push(again);
      assert.match(p.stderr(), /new session refused: session limit reached/);
    } finally {
      for (const c of open) await c.close();
      await p.stop();
      await web.stop();
      await idp.stop();
    }
  });

  Deno.test(`${provider}: a session that makes no request after initialize expires after initTtl and frees its place; an active one stays`, async () => {
    const web = await serveHttpBackend({ name: "web" });
    const p = await proxyProcess({
      sessionStorage: storage(provider, { maxSessions: 3, initTtl: "1s", ttl: "30m" }),
      backends: [{ name: "web", url: web.url }],
    }, env);
    const open: RawMcp[] = [];
    try {
      const active = new RawMcp(p.url);
      assert.equal((await active.initialize()).status, 200);
      assert.equal((await active.request("tools/list")).status, 200);
      open.push(active);
      const abandoned: RawMcp[] = [];
      for (let i = 0; i < 2; i++) {
        const c = new RawMcp(p.url);
        assert.equal((await c.initialize({ initializeOnly: i === 0 })).status, 200);
        abandoned.push(c);
        open.push(c);
      }
      assertRefused(await new RawMcp(p.url).initialize(), 503, "maxSessions");
      // Both abandoned sessions (initialize only; initialize + the initialized notification)
      // are gone after initTtl; the active one is served all along.
      // Probed with a notification (a request would count as activity).
      const note = { jsonrpc: "2.0", method: "notifications/roots/list_changed" };
      assert.equal((await abandoned[0]!.post(note)).status, 202);
      await until("abandoned sessions expired", async () => {
        const answers = await Promise.all(abandoned.map((c) => c.post(note)));
        return answers.every((a) => a.status === 404);
      }, 60_000);
      assert.equal((await active.request("ping")).status, 200);
      const fresh = new RawMcp(p.url);
      assert.equal((await fresh.initialize()).status, 200, "expired sessions free their place");
      open.push(fresh);
    } finally {
      for (const c of open) await c.close();
      await p.stop();
      await web.stop();
    }
  });
}

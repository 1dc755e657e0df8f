/**
 * Rate limits shared by two real proxy replicas (`main.ts --mode=proxy`, sessionStorage redis)
 * through one real redis-server: the global and per-user budgets are one budget whichever
 * replica a call reaches and whichever era the client speaks; each replica counts its own
 * refusals in /metrics. Identities come from a real OIDC issuer. Refill periods are 1h.
 */
import assert from "node:assert/strict";
import type { VmcpConfigInput } from "../../crds/vmcp_config.ts";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { getTestRedis } from "../harness/redis.ts";
import { oidcIncoming } from "../auth/helpers.ts";
import {
  type EraClient,
  legacyClient,
  metric,
  modernClient,
  refusal,
} from "../rate_limit/helpers.ts";
import { type Replica, startReplica, writeConfig } from "./replicas.ts";

const redis = await getTestRedis();

Deno.test("two replicas sharing Redis enforce one global and one per-user budget across both eras", async () => {
  const idp = await startOidcIssuer();
  const web = await serveHttpBackend({ name: "web" });
  const cfg: VmcpConfigInput = {
    name: "rl-shared",
    groupRef: { name: "g" },
    incomingAuth: oidcIncoming(idp.issuer),
    backends: [{ name: "web", url: web.url }],
    sessionStorage: {
      provider: "redis",
      address: `127.0.0.1:${redis.port}`,
      keyPrefix: `rl-${crypto.randomUUID()}:`,
      ...(redis.password ? { passwordEnv: "VMCP_REDIS_PASSWORD" } : {}),
    },
    rateLimiting: {
      global: { maxTokens: 6, refillPeriod: "1h" },
      perUser: { maxTokens: 4, refillPeriod: "1h" },
    },
  };
  const path = await writeConfig(cfg);
  const env: Record<string, string> = redis.password ? { VMCP_REDIS_PASSWORD: redis.password } : {};
  const replicas: Replica[] = [];
  const clients: EraClient[] = [];
  try {
    replicas.push(await startReplica("a", path, { env }));
    replicas.push(await startReplica("b", path, { env }));
    const [a, b] = replicas as [Replica, Replica];
    const alice = await idp.sign({ sub: "alice" });
    const bob = await idp.sign({ sub: "bob" });
    const aliceA = await legacyClient(a.url, alice);
    const aliceB = await modernClient(b.url, alice);
    const bobA = await modernClient(a.url, bob);
    const bobB = await legacyClient(b.url, bob);
    clients.push(aliceA, aliceB, bobA, bobB);

    // alice: 2 calls on each replica = her 4 (and 4 of the 6 global).
    for (const c of [aliceA, aliceB, aliceA, aliceB]) assert.equal(await c.call("web_echo"), "hi");
    for (const c of [aliceA, aliceB]) {
      const err = await refusal(c, "web_echo");
      assert.equal(err.data?.scope, "perUser", `alice on ${c.era}: ${err.message}`);
    }
    // bob: his own per-user budget, but only 2 global tokens are left for everyone.
    assert.equal(await bobB.call("web_echo"), "hi");
    assert.equal(await bobA.call("web_echo"), "hi");
    for (const c of [bobA, bobB]) {
      const err = await refusal(c, "web_echo");
      assert.equal(err.data?.scope, "global", `bob on ${c.era}: ${err.message}`);
      assert.match(err.message, /the server-wide limit \(6 per 1h\) is used up/);
    }
    assert.equal(web.state.calls.filter((c) => c.tool === "echo").length, 6, "6 in total");
    assert.equal(await metric(a.origin, 'vmcp_rate_limited_total{scope="perUser",tool=""}'), 1);
    assert.equal(await metric(b.origin, 'vmcp_rate_limited_total{scope="perUser",tool=""}'), 1);
    assert.equal(await metric(a.origin, 'vmcp_rate_limited_total{scope="global",tool=""}'), 1);
    assert.equal(await metric(b.origin, 'vmcp_rate_limited_total{scope="global",tool=""}'), 1);
    assert.equal(await metric(a.origin, "vmcp_rate_limit_store_errors_total"), 0);
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await Promise.all(replicas.map((r) => r.proc.stop(5_000)));
    await web.stop();
    await idp.stop();
  }
});

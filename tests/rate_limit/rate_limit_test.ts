/**
 * Rate limits (`rateLimiting`) through the real binary (`main.ts --mode=proxy`) with OIDC
 * incoming auth (a real JWKS issuer) in front of a real SDK backend, for legacy (2025-11-25
 * session, SDK v1) and 2026-07-28 (stateless, SDK v2) clients: per-user buckets are each
 * identity's own across both eras, a per-tool bucket is shared by everyone, a refused call is
 * JSON-RPC -32029 naming the limit with `data.retryAfterSeconds`, never reaches the backend,
 * and counts in `/metrics`. Composite tools count as themselves and their steps per tool.
 * Refill periods are 1h: no bucket refills during a test.
 */
import assert from "node:assert/strict";
import type { VmcpConfigInput } from "../../crds/vmcp_config.ts";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { readmeUri } from "../fixtures/backend_tools.ts";
import { oidcIncoming } from "../auth/helpers.ts";
import { spawnProxy } from "../auth/process.ts";
import { type EraClient, legacyClient, metric, modernClient, refusal } from "./helpers.ts";

const HOUR = "1h";

/** `retryAfterSeconds` is the wait for one token: at most `full`, and not much less (1h buckets). */
function assertRetryAfter(got: number | undefined, full: number, what: string): void {
  assert.ok(
    Number.isInteger(got) && got! <= full && got! > full - 300,
    `${what}: retryAfterSeconds ${got}, expected about ${full}`,
  );
}

Deno.test("rate limits: per-user budgets per identity across both eras, a shared per-tool budget, -32029 with retryAfterSeconds, counted in /metrics", async () => {
  const idp = await startOidcIssuer();
  const web = await serveHttpBackend({ name: "web" });
  const cfg: VmcpConfigInput = {
    name: "rl",
    groupRef: { name: "g" },
    incomingAuth: oidcIncoming(idp.issuer),
    backends: [{ name: "web", url: web.url }],
    rateLimiting: {
      perUser: { maxTokens: 3, refillPeriod: HOUR },
      tools: [{ name: "web_add", global: { maxTokens: 2, refillPeriod: HOUR } }],
    },
  };
  const p = await spawnProxy(cfg, {}, { logLevel: "info" });
  const clients: EraClient[] = [];
  try {
    const token = (sub: string) => idp.sign({ sub });
    const alice = await legacyClient(p.url, await token("alice"));
    const bob = await modernClient(p.url, await token("bob"));
    const carol = await legacyClient(p.url, await token("carol"));
    const dave = await modernClient(p.url, await token("dave"));
    clients.push(alice, bob, carol, dave);

    // Per user: alice (legacy) and bob (2026-07-28) each get their own 3 calls.
    for (const c of [alice, bob]) {
      for (let i = 0; i < 3; i++) assert.equal(await c.call("web_echo"), "hi", c.era);
    }
    for (const c of [alice, bob]) {
      const err = await refusal(c, "web_echo");
      assert.match(
        err.message,
        /Rate limit exceeded: your per-user limit \(3 per 1h\) is used up; retry after \d+ s$/,
      );
      // One token comes back every 1h / 3 = 1200 s (less the little time the test took).
      assertRetryAfter(err.data?.retryAfterSeconds, 1200, c.era);
      assert.equal(err.data?.scope, "perUser");
      // The same refusal on the other path of each era (SDK dispatch / SSE answer).
      const slow = await refusal(c, "web_echo", undefined, true);
      assert.equal(slow.data?.scope, "perUser", c.era);
    }
    // A fresh token of the same identity is the same budget; another identity is untouched.
    const alice2 = await modernClient(p.url, await token("alice"));
    clients.push(alice2);
    await refusal(alice2, "web_echo");
    assert.equal(await carol.call("web_echo"), "hi");

    // Per tool (global): web_add has 2 calls for everyone together.
    assert.equal(await carol.call("web_add", { a: 1, b: 2 }), "3");
    assert.equal(await dave.call("web_add", { a: 2, b: 2 }), "4");
    for (const c of [carol, dave]) {
      const err = await refusal(c, "web_add", { a: 1, b: 1 });
      assert.match(err.message, /the limit of tool "web_add" \(2 per 1h\) is used up/);
      assertRetryAfter(err.data?.retryAfterSeconds, 1800, c.era);
      assert.equal(err.data?.tool, "web_add");
    }
    // carol's refused web_add did not use her per-user budget: 3 - 2 used = 1 left.
    assert.equal(await carol.call("web_echo"), "hi");
    await refusal(carol, "web_echo");

    // The backend never saw a refused call.
    assert.equal(web.state.calls.filter((c) => c.tool === "echo").length, 3 + 3 + 2);
    assert.equal(web.state.calls.filter((c) => c.tool === "add").length, 2);

    assert.equal(await metric(p.origin, 'vmcp_rate_limited_total{scope="perUser",tool=""}'), 6);
    assert.equal(await metric(p.origin, 'vmcp_rate_limited_total{scope="tool",tool="web_add"}'), 2);
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await p.stop();
    await web.stop();
    await idp.stop();
  }
});

Deno.test("rate limits: a composite call counts as itself, its steps against the step tool's per-tool limit; prompts and reads are not limited", async () => {
  const web = await serveHttpBackend({ name: "web" });
  const cfg: VmcpConfigInput = {
    name: "rl-composite",
    groupRef: { name: "g" },
    backends: [{ name: "web", url: web.url }],
    compositeTools: [{
      name: "twice",
      description: "Echoes twice",
      steps: [
        { id: "a", tool: "web_echo", arguments: { message: "one" } },
        { id: "b", tool: "web_echo", arguments: { message: "two" }, dependsOn: ["a"] },
      ],
    }],
    rateLimiting: {
      global: { maxTokens: 4, refillPeriod: HOUR },
      tools: [{ name: "web_echo", global: { maxTokens: 3, refillPeriod: HOUR } }],
    },
  };
  const p = await spawnProxy(cfg, {}, { logLevel: "info" });
  const legacy = await legacyClient(p.url);
  const modern = await modernClient(p.url);
  try {
    // The composite: 1 global token; its two steps: 2 web_echo tokens (not global again).
    const first = await legacy.call("twice", {});
    assert.doesNotMatch(first, /isError/);
    // One web_echo token left: the next composite's second step is refused.
    const second = await modern.call("twice", {}).then((t) => t, (e) => `error: ${e.message}`);
    assert.match(second, /Rate limit exceeded: the limit of tool "web_echo" \(3 per 1h\)/);
    const direct = await refusal(legacy, "web_echo");
    assert.equal(direct.data?.scope, "tool");
    // Global: 2 composite calls used 2 of 4 (the refused web_echo call took none).
    assert.equal(await modern.call("web_add", { a: 1, b: 1 }), "2");
    assert.equal(await legacy.call("web_add", { a: 1, b: 2 }), "3");
    const global = await refusal(modern, "web_add", { a: 1, b: 1 });
    assert.match(global.message, /the server-wide limit \(4 per 1h\) is used up/);
    assertRetryAfter(global.data?.retryAfterSeconds, 900, "global");
    assert.equal(web.state.calls.filter((c) => c.tool === "echo").length, 3);
    // prompts/get and resources/read do not count (nor are they refused) once it is used up.
    for (const c of [legacy, modern]) {
      assert.equal(await c.prompt("web_greet", { name: "Ann" }), "Hello, Ann! (from web)");
      assert.match(await c.read(readmeUri("web")), /Test backend readme/);
    }
    assert.equal(await metric(p.origin, 'vmcp_rate_limited_total{scope="global",tool=""}'), 1);
    assert.equal(
      await metric(p.origin, 'vmcp_rate_limited_total{scope="tool",tool="web_echo"}'),
      2,
    );
  } finally {
    await legacy.close().catch(() => {});
    await modern.close().catch(() => {});
    await p.stop();
    await web.stop();
  }
});

import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { ManualClock } from "../../core/clock.ts";
import type { Identity } from "../../core/auth/identity.ts";
import { RateLimitingSchema } from "../../crds/rate_limit.ts";
import { RateLimiter } from "./limiter.ts";
import { MemoryBuckets } from "./memory_buckets.ts";
import { RateLimitMetrics } from "./metrics.ts";
import { RATE_LIMITED, RateLimitedError } from "./errors.ts";

const who = (sub: string): Identity => ({ issuer: "https://idp", subject: sub, claims: {} });
const alice = who("alice");
const bob = who("bob");

function setup(input: unknown) {
  const clock = new ManualClock(0);
  const registry = new Registry();
  const store = new MemoryBuckets(clock);
  const limiter = new RateLimiter(
    RateLimitingSchema.parse(input),
    store,
    new RateLimitMetrics(registry),
  );
  /** True when allowed; the error when refused. */
  const call = (id: Identity, tool: string, step = false): true | RateLimitedError => {
    try {
      const r = limiter.check(id, tool, step);
      assert.equal(r, undefined, "in-memory checks answer synchronously");
      return true;
    } catch (err) {
      assert.ok(err instanceof RateLimitedError, String(err));
      return err;
    }
  };
  return { clock, registry, store, call };
}

const refused = (r: true | RateLimitedError) => {
  assert.notEqual(r, true, "refused");
  return r as RateLimitedError;
};

Deno.test("RateLimiter global: maxTokens calls, then -32029 naming the limit with data.retryAfterSeconds", () => {
  const { call, clock } = setup({ global: { maxTokens: 3, refillPeriod: "1h" } });
  for (let i = 0; i < 3; i++) assert.equal(call(i % 2 ? alice : bob, "any"), true);
  const err = refused(call(alice, "other"));
  assert.equal(err.code, RATE_LIMITED);
  assert.equal(
    err.message,
    "Rate limit exceeded: the server-wide limit (3 per 1h) is used up; retry after 1200 s",
  );
  assert.deepEqual(err.data, {
    retryAfterSeconds: 1200,
    scope: "global",
    maxTokens: 3,
    refillPeriod: "1h",
  });
  clock.advance(1_200_000);
  assert.equal(call(bob, "any"), true, "one token back after refillPeriod / maxTokens");
  assert.notEqual(call(bob, "any"), true);
});

Deno.test("RateLimiter perUser: one identity's budget is its own", () => {
  const { call } = setup({ perUser: { maxTokens: 2, refillPeriod: "1h" } });
  assert.equal(call(alice, "t"), true);
  assert.equal(call(alice, "t"), true);
  const err = refused(call(alice, "t"));
  assert.match(err.message, /your per-user limit \(2 per 1h\)/);
  assert.equal((err.data as { scope: string }).scope, "perUser");
  assert.equal(call(bob, "t"), true, "bob is not affected");
  const sameSubOtherIssuer: Identity = { issuer: "https://other", subject: "alice", claims: {} };
  assert.equal(call(sameSubOtherIssuer, "t"), true, "identity is issuer + subject");
});

Deno.test("RateLimiter per tool: only that tool is limited, and a refused call drains no other bucket", () => {
  const { call } = setup({
    global: { maxTokens: 5, refillPeriod: "1h" },
    tools: [{ name: "web_echo", global: { maxTokens: 1, refillPeriod: "1h" } }],
  });
  assert.equal(call(alice, "web_echo"), true);
  const err = refused(call(bob, "web_echo"));
  assert.match(err.message, /the limit of tool "web_echo" \(1 per 1h\)/);
  assert.deepEqual(err.data, {
    retryAfterSeconds: 3600,
    scope: "tool",
    tool: "web_echo",
    maxTokens: 1,
    refillPeriod: "1h",
  });
  for (let i = 0; i < 10; i++) refused(call(bob, "web_echo"));
  // The global bucket lost only the one allowed call: 4 left.
  for (let i = 0; i < 4; i++) assert.equal(call(alice, "web_add"), true);
  assert.match(refused(call(alice, "web_add")).message, /server-wide/);
});

Deno.test("RateLimiter per tool and per user: each identity has its own budget of that tool", () => {
  const { call } = setup({
    tools: [{ name: "t", perUser: { maxTokens: 1, refillPeriod: "30m" } }],
  });
  assert.equal(call(alice, "t"), true);
  const err = refused(call(alice, "t"));
  assert.equal(
    err.message,
    'Rate limit exceeded: your per-user limit of tool "t" (1 per 30m) is used up; retry after 1800 s',
  );
  assert.equal((err.data as { scope: string }).scope, "toolPerUser");
  assert.equal(call(bob, "t"), true);
  assert.equal(call(alice, "u"), true, "other tools are not limited");
});

Deno.test("RateLimiter composite steps count only against the step tool's per-tool limits", () => {
  const { call } = setup({
    global: { maxTokens: 1, refillPeriod: "1h" },
    perUser: { maxTokens: 1, refillPeriod: "1h" },
    tools: [{ name: "step_tool", global: { maxTokens: 2, refillPeriod: "1h" } }],
  });
  assert.equal(call(alice, "workflow"), true, "the composite call takes global and perUser");
  assert.equal(call(alice, "step_tool", true), true, "steps do not pay global/perUser again");
  assert.equal(call(alice, "step_tool", true), true);
  assert.match(refused(call(alice, "step_tool", true)).message, /tool "step_tool"/);
  assert.equal(call(alice, "unlimited_step", true), true);
});

Deno.test("RateLimiter accepts ToolHive's deprecated shared alias of global, server-wide and per tool", () => {
  const { call } = setup({
    shared: { maxTokens: 2, refillPeriod: "1m" },
    tools: [{ name: "t", shared: { maxTokens: 1, refillPeriod: "1m" } }],
  });
  assert.equal(call(alice, "t"), true);
  assert.equal((refused(call(bob, "t")).data as { scope: string }).scope, "tool");
  assert.equal(call(bob, "u"), true);
  assert.equal((refused(call(alice, "u")).data as { scope: string }).scope, "global");
});

Deno.test("RateLimiter refusals count in vmcp_rate_limited_total by scope and tool", async () => {
  const { call, registry } = setup({
    perUser: { maxTokens: 1, refillPeriod: "1h" },
    tools: [{ name: "t", global: { maxTokens: 1, refillPeriod: "1h" } }],
  });
  call(alice, "x");
  refused(call(alice, "x"));
  refused(call(alice, "x"));
  call(bob, "t");
  refused(call(who("carol"), "t"));
  const text = await registry.metrics();
  assert.match(text, /vmcp_rate_limited_total\{scope="perUser",tool=""\} 2/);
  assert.match(text, /vmcp_rate_limited_total\{scope="tool",tool="t"\} 1/);
});

Deno.test("RateLimiter: callers cycling identities cannot reset a tool's global budget in a full store", () => {
  const clock = new ManualClock(0);
  const store = new MemoryBuckets(clock, 100);
  const limiter = new RateLimiter(
    RateLimitingSchema.parse({
      perUser: { maxTokens: 1000, refillPeriod: "1h" },
      tools: [{ name: "deploy", global: { maxTokens: 1, refillPeriod: "1h" } }],
    }),
    store,
    new RateLimitMetrics(new Registry()),
  );
  assert.equal(limiter.check(alice, "deploy"), undefined, "the one deploy of the hour");
  assert.throws(() => limiter.check(bob, "deploy"), RateLimitedError);
  // Many identities (each its own per-user bucket) push every older bucket out of the store.
  for (let i = 0; i < 500; i++) limiter.check(who(`cycler-${i}`), "echo");
  assert.ok(store.size <= 101, `bounded: ${store.size}`);
  assert.throws(() => limiter.check(who("cycler-0"), "deploy"), RateLimitedError);
});

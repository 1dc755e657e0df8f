import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { Redis } from "ioredis";
import { ManualClock } from "../../core/clock.ts";
import { createLogger } from "../../core/log.ts";
import { startRedis } from "../../tests/harness/redis.ts";
import { startGate } from "../../tests/scaleout/tcp_gate.ts";
import { until } from "../../tests/harness/until.ts";
import { MemoryBuckets } from "./memory_buckets.ts";
import { RateLimitMetrics } from "./metrics.ts";
import { RedisBuckets } from "./redis_buckets.ts";

const HOUR = 3_600_000;

/**
 * `commandTimeoutMs`: a slower Redis answer counts as Redis down. The tests that do not test
 * that give Redis plenty of time, so a busy machine cannot turn a check into a fallback.
 */
function replica(port: number, prefix: string, commandTimeoutMs = 30_000) {
  const lines: string[] = [];
  const registry = new Registry();
  const clock = new ManualClock(0);
  const fallback = new MemoryBuckets(clock);
  const buckets = new RedisBuckets({
    address: `127.0.0.1:${port}`,
    keyPrefix: prefix,
    commandTimeoutMs,
    fallback,
    metrics: new RateLimitMetrics(registry),
    log: createLogger({ level: "info", sink: (l) => lines.push(l) }),
    clock,
  });
  return { buckets, registry, lines, clock, fallback };
}

Deno.test("RedisBuckets: two replicas take from one budget, atomically under concurrency", async () => {
  const redis = await startRedis();
  const prefix = `t${crypto.randomUUID()}:`;
  const a = replica(redis.port, prefix);
  const b = replica(redis.port, prefix);
  try {
    await until(
      "both connected",
      () => Promise.resolve(a.buckets.connected && b.buckets.connected),
    );
    const spec = [{ maxTokens: 20, refillMs: HOUR }];
    const takes = [];
    for (let i = 0; i < 60; i++) takes.push((i % 2 ? a : b).buckets.take(["g"], spec));
    const results = await Promise.all(takes);
    assert.equal(results.filter((r) => r.allowed).length, 20, "exactly maxTokens allowed");
    const refusal = results.find((r) => !r.allowed)!;
    assert.equal(refusal.allowed, false);
    if (!refusal.allowed) {
      assert.equal(refusal.index, 0);
      assert.ok(refusal.retryAfterMs > 170_000 && refusal.retryAfterMs <= 180_000);
    }
    // All or nothing across buckets: a refusal by the second bucket takes from neither.
    const two = [{ maxTokens: 5, refillMs: HOUR }, { maxTokens: 1, refillMs: HOUR }];
    assert.equal((await a.buckets.take(["x", "y"], two)).allowed, true);
    const r = await b.buckets.take(["x", "y"], two);
    assert.deepEqual(r.allowed ? r : { ...r, retryAfterMs: 0 }, {
      allowed: false,
      index: 1,
      retryAfterMs: 0,
    });
    for (let i = 0; i < 4; i++) {
      assert.equal((await b.buckets.take(["x"], [two[0]!])).allowed, true);
    }
    assert.equal((await a.buckets.take(["x"], [two[0]!])).allowed, false);
    assert.doesNotMatch(await a.registry.metrics(), /vmcp_rate_limit_store_errors_total \d*[1-9]/);
  } finally {
    await a.buckets.close();
    await b.buckets.close();
    await redis.stop();
  }
});

Deno.test("RedisBuckets: while Redis is down each replica enforces the limits in memory, warns once a minute and counts; shared again once it is back", async () => {
  const redis = await startRedis();
  const gate = await startGate(redis.port);
  const prefix = `t${crypto.randomUUID()}:`;
  const a = replica(gate.port, prefix);
  const b = replica(redis.port, prefix);
  const warned = () => a.lines.filter((l) => l.includes("Rate-limit store (Redis) unavailable"));
  try {
    await until("connected", () => Promise.resolve(a.buckets.connected && b.buckets.connected));
    const spec = [{ maxTokens: 2, refillMs: HOUR }];
    assert.equal((await b.buckets.take(["g"], spec)).allowed, true);
    assert.equal((await b.buckets.take(["g"], spec)).allowed, true);
    assert.equal((await a.buckets.take(["g"], spec)).allowed, false, "shared: b used it up");

    await gate.pause();
    await until("a sees Redis down", () => Promise.resolve(!a.buckets.connected));
    // Replica a alone: its own in-memory buckets (full) decide; the limit still holds.
    assert.equal((await a.buckets.take(["g"], spec)).allowed, true);
    assert.equal((await a.buckets.take(["g"], spec)).allowed, true);
    assert.equal((await a.buckets.take(["g"], spec)).allowed, false, "enforced in memory");
    assert.match(await a.registry.metrics(), /vmcp_rate_limit_store_errors_total 3/);
    assert.equal(warned().length, 1, "one warning, not one per check");
    a.clock.advance(60_000);
    await a.buckets.take(["g"], spec);
    assert.equal(warned().length, 2, "again after a minute");

    gate.resume();
    await until("a reconnected", () => Promise.resolve(a.buckets.connected));
    assert.equal((await a.buckets.take(["g"], spec)).allowed, false, "shared budget again");
    assert.ok(a.lines.some((l) => l.includes("shared through Redis again")));
    assert.match(await a.registry.metrics(), /vmcp_rate_limit_store_errors_total 4/);
  } finally {
    await a.buckets.close();
    await b.buckets.close();
    await gate.stop();
    await redis.stop();
  }
});

Deno.test("RedisBuckets: after Redis failed to answer, checks use memory for a moment instead of each waiting for it", async () => {
  const redis = await startRedis();
  const prefix = `t${crypto.randomUUID()}:`;
  const a = replica(redis.port, prefix, 2_000);
  const spec = [{ maxTokens: 1, refillMs: HOUR }];
  try {
    await until("connected", () => Promise.resolve(a.buckets.connected));
    // "b" is used up in Redis (this replica's memory bucket for it is still full).
    assert.equal((await a.buckets.take(["b"], spec)).allowed, true);
    assert.equal((await a.buckets.take(["b"], spec)).allowed, false);
    // "c" is used up in this replica's memory only (Redis's is full).
    assert.equal(a.fallback.take(["c"], spec).allowed, true);
    // Redis hangs with the connection open (scripts held until unpaused, however long the
    // command timeout takes to fire on a busy machine): the check times out and memory decides.
    const pauser = new Redis(redis.port, "127.0.0.1");
    try {
      await pauser.call("CLIENT", "PAUSE", "600000", "WRITE");
      assert.equal((await a.buckets.take(["a"], spec)).allowed, true, "decided in memory");
    } finally {
      await pauser.call("CLIENT", "UNPAUSE");
      pauser.disconnect();
    }
    // Right after the failure memory decides ("b" is full there), without asking Redis.
    assert.equal((await a.buckets.take(["b"], spec)).allowed, true, "memory, not Redis");
    // Later Redis is asked again: its "c" is full.
    a.clock.advance(60_000);
    assert.equal((await a.buckets.take(["c"], spec)).allowed, true, "Redis again");
    assert.ok(a.lines.some((l) => l.includes("shared through Redis again")));
  } finally {
    await a.buckets.close();
    await redis.stop();
  }
});

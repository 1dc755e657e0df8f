import assert from "node:assert/strict";
import { ManualClock } from "../../core/clock.ts";
import { MemoryBuckets } from "./memory_buckets.ts";

const ONE_PER_HOUR = { maxTokens: 1, refillMs: 3_600_000 };

Deno.test("MemoryBuckets holds at most maxBuckets however many keys callers cycle through", () => {
  const store = new MemoryBuckets(new ManualClock(0), 50);
  for (let i = 0; i < 10_000; i++) {
    assert.equal(store.take([`u:${i}`], [ONE_PER_HOUR]).allowed, true);
    assert.ok(store.size <= 50);
  }
  assert.equal(store.size, 50);
});

Deno.test("MemoryBuckets evicts the least recently used bucket; an evicted bucket comes back full", () => {
  const store = new MemoryBuckets(new ManualClock(0), 2);
  assert.equal(store.take(["a"], [ONE_PER_HOUR]).allowed, true);
  assert.equal(store.take(["b"], [ONE_PER_HOUR]).allowed, true);
  assert.equal(store.take(["a"], [ONE_PER_HOUR]).allowed, false, "a is drained (and now recent)");
  assert.equal(store.take(["c"], [ONE_PER_HOUR]).allowed, true, "evicts b, not a");
  assert.equal(store.take(["a"], [ONE_PER_HOUR]).allowed, false, "a was kept");
  assert.equal(store.take(["b"], [ONE_PER_HOUR]).allowed, true, "b was evicted: full again");
});

Deno.test("MemoryBuckets refills with the injected clock", () => {
  const clock = new ManualClock(1000);
  const store = new MemoryBuckets(clock);
  const spec = { maxTokens: 2, refillMs: 60_000 };
  assert.equal(store.take(["k"], [spec]).allowed, true);
  assert.equal(store.take(["k"], [spec]).allowed, true);
  assert.deepEqual(store.take(["k"], [spec]), { allowed: false, index: 0, retryAfterMs: 30_000 });
  clock.advance(29_999);
  assert.equal(store.take(["k"], [spec]).allowed, false);
  clock.advance(1);
  assert.equal(store.take(["k"], [spec]).allowed, true);
});

Deno.test("MemoryBuckets refuses a maxBuckets below 1 naming the value", () => {
  assert.throws(() => new MemoryBuckets(new ManualClock(), 0), /Invalid maxBuckets 0/);
});

Deno.test("MemoryBuckets never evicts a shared bucket, however many other keys come", () => {
  const store = new MemoryBuckets(new ManualClock(0), 2);
  const shared = { ...ONE_PER_HOUR, shared: true };
  assert.equal(store.take(["g"], [shared]).allowed, true);
  for (let i = 0; i < 100; i++) store.take([`u:${i}`], [ONE_PER_HOUR]);
  assert.equal(store.take(["g"], [shared]).allowed, false, "g is still drained");
  assert.equal(store.size, 3);
});

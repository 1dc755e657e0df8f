import assert from "node:assert/strict";
import {
  type BucketState,
  msUntilToken,
  retryAfterSeconds,
  takeAll,
  tokensAt,
} from "./token_bucket.ts";

const TEN_PER_MINUTE = { maxTokens: 10, refillMs: 60_000 };

Deno.test("tokensAt() is full for a bucket never seen and refills evenly up to maxTokens", () => {
  assert.equal(tokensAt(undefined, TEN_PER_MINUTE, 5), 10);
  const s: BucketState = { tokens: 0, at: 1000 };
  assert.equal(tokensAt(s, TEN_PER_MINUTE, 1000), 0);
  assert.equal(tokensAt(s, TEN_PER_MINUTE, 1000 + 6000), 1);
  assert.equal(tokensAt(s, TEN_PER_MINUTE, 1000 + 30_000), 5);
  assert.equal(tokensAt(s, TEN_PER_MINUTE, 1000 + 600_000), 10, "capped at maxTokens");
});

Deno.test("tokensAt() counts a clock that went back as no time passed", () => {
  assert.equal(tokensAt({ tokens: 2, at: 10_000 }, TEN_PER_MINUTE, 0), 2);
});

Deno.test("msUntilToken() is the time to one whole token; retryAfterSeconds() rounds up to >= 1", () => {
  assert.equal(msUntilToken(1, TEN_PER_MINUTE), 0);
  assert.equal(msUntilToken(0, TEN_PER_MINUTE), 6000);
  assert.equal(msUntilToken(0.5, TEN_PER_MINUTE), 3000);
  assert.equal(msUntilToken(0, { maxTokens: 1, refillMs: 3_600_000 }), 3_600_000);
  assert.equal(retryAfterSeconds(0), 1);
  assert.equal(retryAfterSeconds(1), 1);
  assert.equal(retryAfterSeconds(6000), 6);
  assert.equal(retryAfterSeconds(6001), 7);
});

Deno.test("takeAll() takes maxTokens calls in a burst, then refuses until a token is back", () => {
  const spec = { maxTokens: 3, refillMs: 3000 };
  let state: BucketState | undefined;
  const take = (now: number) => {
    const r = takeAll([state], [spec], now);
    state = r.states[0];
    return r.decision;
  };
  for (let i = 0; i < 3; i++) assert.equal(take(0).allowed, true);
  assert.deepEqual(take(0), { allowed: false, index: 0, retryAfterMs: 1000 });
  assert.deepEqual(take(400), { allowed: false, index: 0, retryAfterMs: 600 });
  assert.equal(take(1000).allowed, true);
  assert.equal(take(1000).allowed, false);
});

Deno.test("takeAll() takes from no bucket when one refuses, and names the one freeing up last", () => {
  const roomy = { maxTokens: 100, refillMs: 60_000 };
  const tight = { maxTokens: 1, refillMs: 60_000 };
  const tighter = { maxTokens: 1, refillMs: 3_600_000 };
  const states: (BucketState | undefined)[] = [undefined, { tokens: 0, at: 0 }, undefined];
  const r = takeAll(states, [roomy, tight, roomy], 0);
  assert.deepEqual(r.decision, { allowed: false, index: 1, retryAfterMs: 60_000 });
  assert.equal(r.states[0]!.tokens, 100, "the roomy bucket was not drained");
  assert.equal(r.states[2]!.tokens, 100);
  const both = takeAll([{ tokens: 0, at: 0 }, { tokens: 0, at: 0 }], [tight, tighter], 0);
  assert.deepEqual(both.decision, { allowed: false, index: 1, retryAfterMs: 3_600_000 });
  const ok = takeAll([undefined, undefined], [roomy, tight], 0);
  assert.equal(ok.decision.allowed, true);
  assert.deepEqual(ok.states.map((s) => s.tokens), [99, 0]);
});

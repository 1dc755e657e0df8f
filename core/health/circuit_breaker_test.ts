import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { CircuitBreaker, type CircuitState } from "./circuit_breaker.ts";

function setup(failureThreshold = 3, timeoutMs = 60_000) {
  const clock = new ManualClock(1_000_000);
  const changes: string[] = [];
  const cb = new CircuitBreaker({
    failureThreshold,
    timeoutMs,
    clock,
    onStateChange: (from: CircuitState, to: CircuitState) => changes.push(`${from}->${to}`),
  });
  return { clock, cb, changes };
}

Deno.test("a new breaker is closed and lets everything through", () => {
  const { cb, clock } = setup();
  assert.equal(cb.state, "closed");
  assert.equal(cb.lastChanged, clock.now());
  assert.equal(cb.consecutiveFailures, 0);
  assert.ok(cb.canPass() && cb.canPass());
});

Deno.test("the circuit opens after failureThreshold consecutive failures and then blocks", () => {
  const { cb, clock, changes } = setup(3);
  cb.recordFailure();
  cb.recordFailure();
  assert.equal(cb.state, "closed");
  clock.advance(10);
  cb.recordFailure();
  assert.equal(cb.state, "open");
  assert.equal(cb.lastChanged, clock.now());
  assert.equal(cb.consecutiveFailures, 3);
  assert.equal(cb.canPass(), false);
  assert.deepEqual(changes, ["closed->open"]);
});

Deno.test("a success in between resets the count, so only consecutive failures open it", () => {
  const { cb } = setup(3);
  cb.recordFailure();
  cb.recordFailure();
  cb.recordSuccess();
  cb.recordFailure();
  cb.recordFailure();
  assert.equal(cb.state, "closed");
  assert.equal(cb.consecutiveFailures, 2);
});

Deno.test("open turns half-open after the timeout, at openedAt + timeout", () => {
  const { cb, clock, changes } = setup(1, 60_000);
  cb.recordFailure();
  const openedAt = clock.now();
  clock.advance(59_999);
  assert.equal(cb.state, "open");
  assert.equal(cb.canPass(), false);
  clock.advance(5_000);
  assert.equal(cb.state, "half-open");
  assert.equal(cb.lastChanged, openedAt + 60_000);
  assert.deepEqual(changes, ["closed->open", "open->half-open"]);
});

Deno.test("half-open lets exactly one trial through; its success closes the circuit", () => {
  const { cb, clock, changes } = setup(1, 1000);
  cb.recordFailure();
  clock.advance(1000);
  assert.equal(cb.canPass(), true, "the trial");
  assert.equal(cb.canPass(), false, "a second caller waits for the trial");
  assert.equal(cb.state, "half-open");
  cb.recordSuccess();
  assert.equal(cb.state, "closed");
  assert.equal(cb.consecutiveFailures, 0);
  assert.ok(cb.canPass() && cb.canPass());
  assert.deepEqual(changes, ["closed->open", "open->half-open", "half-open->closed"]);
});

Deno.test("a failed half-open trial re-opens the circuit for another full timeout", () => {
  const { cb, clock, changes } = setup(1, 1000);
  cb.recordFailure();
  clock.advance(1500);
  assert.equal(cb.canPass(), true);
  cb.recordFailure();
  assert.equal(cb.state, "open");
  assert.equal(cb.lastChanged, clock.now());
  clock.advance(999);
  assert.equal(cb.canPass(), false);
  clock.advance(1);
  assert.equal(cb.canPass(), true);
  assert.deepEqual(changes, [
    "closed->open",
    "open->half-open",
    "half-open->open",
    "open->half-open",
  ]);
});

Deno.test("a trial whose outcome is never recorded expires after the timeout", () => {
  const { cb, clock } = setup(1, 1000);
  cb.recordFailure();
  clock.advance(1000);
  assert.equal(cb.canPass(), true);
  clock.advance(999);
  assert.equal(cb.canPass(), false);
  clock.advance(1);
  assert.equal(cb.canPass(), true, "a new trial");
});

Deno.test("a late success while open does not close the circuit; failures while open keep counting", () => {
  const { cb, clock } = setup(2, 1000);
  cb.recordFailure();
  cb.recordFailure();
  cb.recordSuccess();
  assert.equal(cb.state, "open");
  cb.recordFailure();
  assert.equal(cb.consecutiveFailures, 1);
  clock.advance(1000);
  assert.equal(cb.state, "half-open", "a failure while open does not extend the timeout");
});

Deno.test("invalid settings are rejected with the field name", () => {
  assert.throws(
    () => new CircuitBreaker({ failureThreshold: 0, timeoutMs: 1 }),
    /failureThreshold must be an integer ≥ 1, got 0/,
  );
  assert.throws(
    () => new CircuitBreaker({ failureThreshold: 1, timeoutMs: 0 }),
    /timeout must be > 0 ms, got 0/,
  );
});

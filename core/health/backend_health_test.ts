import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { BackendHealth, backendHealthOptions } from "./backend_health.ts";
import { OperationalSchema } from "../../crds/aggregation.ts";

function setup(extra: Partial<ConstructorParameters<typeof BackendHealth>[0]> = {}) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const h = new BackendHealth({ unhealthyThreshold: 3, recoveryWindowMs: 30_000, clock, ...extra });
  return { clock, h };
}

Deno.test("a backend starts unknown, routable, with no lastCheck", () => {
  const { h } = setup();
  assert.equal(h.state, "unknown");
  assert.ok(h.isRoutable());
  assert.deepEqual(h.snapshot(), {
    status: "unknown",
    consecutiveFailures: 0,
    message: "Not checked yet",
  });
});

Deno.test("a success makes it healthy and reports ready with the check time", () => {
  const { h, clock } = setup();
  h.recordSuccess(12);
  assert.equal(h.state, "healthy");
  assert.deepEqual(h.snapshot(), {
    status: "ready",
    consecutiveFailures: 0,
    message: "Healthy",
    lastCheck: new Date(clock.now()).toISOString(),
  });
});

Deno.test("a success slower than 5 s is degraded, and a fast one heals it", () => {
  const { h } = setup();
  h.recordSuccess(6200);
  assert.equal(h.state, "degraded");
  assert.ok(h.isRoutable());
  assert.equal(h.snapshot().status, "degraded");
  assert.equal(h.snapshot().message, "Slow response: 6200ms (degraded above 5000ms)");
  h.recordSuccess(5000);
  assert.equal(h.state, "healthy");
});

Deno.test("failures below the threshold keep the state; at the threshold the backend is unavailable", () => {
  const { h } = setup();
  h.recordSuccess();
  h.recordFailure("Health check timed out");
  h.recordFailure("Health check timed out");
  assert.equal(h.state, "healthy");
  assert.equal(h.consecutiveFailures, 2);
  h.recordFailure("Health check\n timed out");
  assert.equal(h.state, "unhealthy");
  assert.equal(h.isRoutable(), false);
  const s = h.snapshot();
  assert.equal(s.status, "unavailable");
  assert.equal(s.consecutiveFailures, 3);
  assert.equal(s.message, "Health check timed out (failures: 3)");
});

Deno.test("the first success after failures is degraded 'recovering' for one interval, then healthy", () => {
  const { h, clock } = setup();
  for (let i = 0; i < 3; i++) h.recordFailure("connection refused");
  h.recordSuccess(10);
  assert.equal(h.state, "degraded");
  assert.ok(h.isRoutable());
  assert.equal(h.snapshot().message, "Recovering after 3 consecutive failures");
  clock.advance(10_000);
  h.recordSuccess(10);
  assert.equal(h.state, "degraded", "a second success inside the window does not end it");
  clock.advance(20_000);
  assert.equal(h.state, "healthy");
  assert.equal(h.snapshot().status, "ready");
});

Deno.test("a failure during recovery keeps the backend degraded until a later success recovers it", () => {
  const { h, clock } = setup();
  h.recordFailure("x");
  h.recordSuccess();
  assert.equal(h.state, "degraded");
  h.recordFailure("y");
  clock.advance(60_000);
  assert.equal(h.state, "degraded", "stays degraded, no matter how long");
  assert.equal(h.snapshot().message, "y (failures: 1)");
  h.recordSuccess();
  assert.equal(h.state, "degraded", "recovering again");
  clock.advance(30_000);
  assert.equal(h.state, "healthy");
});

Deno.test("a 401 without outgoing auth is unauthenticated, routable, and resets failures", () => {
  const { h } = setup();
  h.recordFailure("x");
  h.recordUnauthenticated("Backend answered 401; no outgoing auth is configured");
  assert.equal(h.state, "unauthenticated");
  assert.ok(h.isRoutable());
  assert.deepEqual(
    { ...h.snapshot(), lastCheck: undefined },
    {
      status: "unauthenticated",
      consecutiveFailures: 0,
      message: "Backend answered 401; no outgoing auth is configured",
      lastCheck: undefined,
    },
  );
});

Deno.test("calls and probes both feed the breaker; while open the backend is unavailable and not routable", () => {
  const { h, clock } = setup({
    unhealthyThreshold: 10,
    circuitBreaker: { failureThreshold: 2, timeoutMs: 60_000 },
  });
  h.recordSuccess();
  assert.equal(h.snapshot().circuitBreakerState, "closed");
  h.recordFailure("call failed: 502"); // a real call
  h.recordFailure("probe timed out"); // a probe
  assert.equal(h.state, "healthy", "below unhealthyThreshold");
  assert.equal(h.canPass(), false);
  assert.equal(h.isRoutable(), false);
  const s = h.snapshot();
  assert.equal(s.status, "unavailable");
  assert.equal(s.circuitBreakerState, "open");
  assert.equal(s.message, "Circuit breaker OPEN - probe timed out (failures: 2)");

  clock.advance(60_000);
  assert.equal(h.snapshot().circuitBreakerState, "half-open");
  assert.equal(h.snapshot().status, "unavailable");
  assert.equal(h.canPass(), true, "one trial");
  assert.equal(h.canPass(), false);
  h.recordSuccess(20);
  assert.equal(h.snapshot().circuitBreakerState, "closed");
  assert.ok(h.isRoutable());
  assert.equal(h.snapshot().status, "degraded", "recovering");
});

Deno.test("a failed trial re-opens the breaker", () => {
  const { h, clock } = setup({ circuitBreaker: { failureThreshold: 1, timeoutMs: 1000 } });
  h.recordFailure("down");
  clock.advance(1000);
  assert.ok(h.canPass());
  h.recordFailure("still down");
  assert.equal(h.snapshot().circuitBreakerState, "open");
  assert.equal(h.canPass(), false);
});

Deno.test("options come from operational.failureHandling with its defaults", () => {
  const op = OperationalSchema.parse({});
  assert.deepEqual(backendHealthOptions(op.failureHandling), {
    unhealthyThreshold: 3,
    recoveryWindowMs: 30_000,
  });
  const on = OperationalSchema.parse({
    failureHandling: {
      healthCheckInterval: "10s",
      circuitBreaker: { enabled: true, timeout: "2m" },
    },
  });
  const clock = new ManualClock();
  assert.deepEqual(backendHealthOptions(on.failureHandling, clock), {
    unhealthyThreshold: 3,
    recoveryWindowMs: 10_000,
    clock,
    circuitBreaker: { failureThreshold: 5, timeoutMs: 120_000 },
  });
});

Deno.test("an invalid unhealthyThreshold is rejected with the field name", () => {
  assert.throws(
    () => new BackendHealth({ unhealthyThreshold: 0 }),
    /unhealthyThreshold must be an integer ≥ 1, got 0/,
  );
});

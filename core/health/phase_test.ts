import assert from "node:assert/strict";
import { phaseFromBackends } from "./phase.ts";
import type { BackendStatus } from "./backend_health.ts";

const b = (name: string, status: BackendStatus) => ({ name, status });

Deno.test("no backends is Ready with reason NoBackends", () => {
  assert.deepEqual(phaseFromBackends([]), {
    phase: "Ready",
    reason: "NoBackends",
    message: "No backends in the group",
    routable: 0,
    total: 0,
  });
});

Deno.test("only unknown backends is Pending", () => {
  const p = phaseFromBackends([b("a", "unknown"), b("b", "unknown")]);
  assert.equal(p.phase, "Pending");
  assert.equal(p.reason, "BackendsPending");
});

Deno.test("all routable (ready, degraded, unauthenticated) is Ready", () => {
  const p = phaseFromBackends([
    b("a", "ready"),
    b("b", "degraded"),
    b("c", "unauthenticated"),
    b("d", "unknown"),
  ]);
  assert.equal(p.phase, "Ready");
  assert.equal(p.reason, "AllBackendsRoutable");
  assert.equal(p.routable, 3);
  assert.equal(
    p.message,
    "3/4 backends routable (degraded or unauthenticated: b, c; not checked yet: d)",
  );
});

Deno.test("some unavailable is Degraded with SomeBackendsUnhealthy", () => {
  const p = phaseFromBackends([b("z", "unavailable"), b("a", "ready"), b("m", "unavailable")]);
  assert.deepEqual(p, {
    phase: "Degraded",
    reason: "SomeBackendsUnhealthy",
    message: "1/3 backends routable; unavailable: m, z",
    routable: 1,
    total: 3,
  });
});

Deno.test("none routable is Degraded (not Failed) with NoRoutableBackends", () => {
  const p = phaseFromBackends([b("a", "unavailable"), b("b", "unavailable"), b("c", "unknown")]);
  assert.equal(p.phase, "Degraded");
  assert.equal(p.reason, "NoRoutableBackends");
  assert.equal(p.message, "No routable backends (0/3); unavailable: a, b; not checked yet: c");
});

Deno.test("long backend lists are shortened in the message", () => {
  const list = Array.from({ length: 8 }, (_, i) => b(`b${i}`, "unavailable"));
  assert.match(phaseFromBackends(list).message, /b0, b1, b2, b3, b4 and 3 more$/);
});

import assert from "node:assert/strict";
import { computeStatus, derivePhase, type VmcpObservation } from "./status.ts";

function obs(over: Partial<VmcpObservation> = {}): VmcpObservation {
  return {
    name: "v",
    namespace: "ns",
    generation: 3,
    now: "2026-01-01T00:00:00Z",
    groupName: "g",
    group: "ready",
    configProblems: [],
    podTemplateProblems: [],
    authProblems: [],
    anonymous: false,
    compositeProblems: [],
    backendNames: ["a", "b"],
    deploymentAvailable: true,
    ...over,
  };
}

const cond = (s: ReturnType<typeof computeStatus>, t: string) =>
  s.conditions.find((c) => c.type === t);

Deno.test("computeStatus() is Ready with the service URL when the Deployment is available and backends are healthy", () => {
  const s = computeStatus(
    obs({
      discoveredBackends: [{ name: "a", status: "ready" }, {
        name: "b",
        status: "unauthenticated",
      }],
    }),
  );
  assert.equal(s.phase, "Ready");
  assert.equal(s.url, "http://vmcp-v.ns.svc.cluster.local:4483");
  assert.equal(s.backendCount, 2);
  assert.equal(s.observedGeneration, 3);
  assert.ok(s.conditions.every((c) => c.observedGeneration === 3));
  assert.deepEqual(s.conditions.map((c) => c.type), [
    "GroupRefValidated",
    "AuthConfigured",
    "PodTemplateSpecValid",
    "CompositeToolRefsValidated",
    "Valid",
    "BackendsDiscovered",
    "SessionStorageWarning",
    "RequestStateKeyMissing",
    "ToolNameConflicts",
    "Ready",
  ]);
  assert.equal(cond(s, "ToolNameConflicts")!.status, "False");
});

Deno.test("computeStatus() turns name collisions reported by the proxy into ToolNameConflicts True, the phase unaffected", () => {
  const s = computeStatus(obs({
    discoveredBackends: [{ name: "a", status: "ready" }, { name: "b", status: "ready" }],
    nameCollisions: [{
      kind: "tool",
      name: "weather_get_forecast",
      kept: { backend: "weather", originalName: "get_forecast" },
      dropped: [{ backend: "weather_get", originalName: "forecast" }],
    }],
  }));
  const c = cond(s, "ToolNameConflicts")!;
  assert.equal(c.status, "True");
  assert.equal(c.reason, "NameCollisionsLeft");
  assert.match(
    c.message!,
    /"weather_get_forecast": kept weather\/get_forecast, dropped weather_get\/forecast/,
  );
  assert.equal(s.phase, "Ready");
});

Deno.test("computeStatus() phases: Pending for a missing or unready group and an unavailable Deployment, Degraded for an unavailable backend", () => {
  const missing = computeStatus(obs({ group: "notFound", backendNames: undefined }));
  assert.equal(missing.phase, "Pending");
  assert.equal(cond(missing, "GroupRefValidated")!.reason, "GroupRefNotFound");
  assert.match(missing.message, /MCPGroup "g"/);
  assert.equal(cond(missing, "BackendsDiscovered")!.status, "Unknown");
  assert.equal(computeStatus(obs({ group: "notReady" })).phase, "Pending");
  assert.equal(
    cond(computeStatus(obs({ group: "notReady" })), "GroupRefValidated")!.reason,
    "GroupRefNotReady",
  );
  assert.equal(computeStatus(obs({ deploymentAvailable: false })).phase, "Pending");
  const degraded = computeStatus(
    obs({
      discoveredBackends: [{ name: "a", status: "ready" }, { name: "b", status: "unavailable" }],
    }),
  );
  assert.equal(degraded.phase, "Degraded");
  assert.equal(degraded.backendCount, 1);
  const stale = computeStatus(
    obs({ discoveredBackends: [{ name: "gone", status: "unavailable" }] }),
  );
  assert.equal(stale.phase, "Ready", "reports about backends no longer configured are ignored");
});

Deno.test("computeStatus() is Failed for any invalid part, with the field in the message, even while the group is missing", () => {
  const p = [{
    path: "spec.podTemplateSpec.spec.containers[0].name",
    message: 'Must be "vmcp"',
    value: "x",
  }];
  const s = computeStatus(obs({ podTemplateProblems: p, group: "notFound" }));
  assert.equal(s.phase, "Failed");
  assert.match(s.message, /spec\.podTemplateSpec\.spec\.containers\[0\]\.name/);
  assert.equal(cond(s, "PodTemplateSpecValid")!.reason, "InvalidPodTemplateSpec");
  assert.equal(computeStatus(obs({ authProblems: p })).phase, "Failed");
  assert.equal(
    cond(computeStatus(obs({ authProblems: p })), "AuthConfigured")!.reason,
    "AuthInvalid",
  );
  assert.equal(computeStatus(obs({ compositeProblems: p })).phase, "Failed");
  assert.equal(computeStatus(obs({ configProblems: p })).phase, "Failed");
});

Deno.test("computeStatus() reports anonymous auth as a warning condition and multi-replica memory sessions as SessionStorageWarning", () => {
  const s = computeStatus(obs({ anonymous: true, replicas: 3 }));
  assert.equal(s.phase, "Ready", "warnings do not change the phase");
  assert.equal(cond(s, "AuthConfigured")!.reason, "AnonymousAuth");
  assert.match(cond(s, "AuthConfigured")!.message!, /Warning/);
  assert.deepEqual([
    cond(s, "SessionStorageWarning")!.status,
    cond(s, "SessionStorageWarning")!.reason,
  ], ["True", "SessionStorageMissingForReplicas"]);
  const redis = computeStatus(obs({ replicas: 3, sessionStorageProvider: "redis" }));
  assert.equal(cond(redis, "SessionStorageWarning")!.status, "False");
});

Deno.test("computeStatus() reports multiple replicas without a requestState key as RequestStateKeyMissing, the phase unaffected", () => {
  const s = computeStatus(obs({ replicas: 2, sessionStorageProvider: "redis" }));
  assert.equal(s.phase, "Ready");
  const c = cond(s, "RequestStateKeyMissing")!;
  assert.deepEqual([c.status, c.reason], ["True", "RequestStateKeyMissingForReplicas"]);
  assert.match(c.message!, /stateKeyRef is not set/);
  const keyed = computeStatus(obs({ replicas: 2, requestStateKey: true }));
  assert.equal(cond(keyed, "RequestStateKeyMissing")!.status, "False");
  assert.equal(
    cond(computeStatus(obs({ replicas: 1 })), "RequestStateKeyMissing")!.status,
    "False",
  );
});

Deno.test("computeStatus() keeps lastTransitionTime while a condition's status is unchanged and moves it when the status flips", () => {
  const first = computeStatus(obs({ deploymentAvailable: false }));
  const later = computeStatus(
    obs({
      deploymentAvailable: false,
      now: "2026-01-01T01:00:00Z",
      previousConditions: first.conditions,
      generation: 4,
    }),
  );
  assert.equal(cond(later, "Ready")!.lastTransitionTime, "2026-01-01T00:00:00Z");
  assert.equal(cond(later, "Ready")!.observedGeneration, 4);
  const flipped = computeStatus(
    obs({ now: "2026-01-01T02:00:00Z", previousConditions: later.conditions }),
  );
  assert.equal(cond(flipped, "Ready")!.lastTransitionTime, "2026-01-01T02:00:00Z");
  assert.equal(cond(flipped, "GroupRefValidated")!.lastTransitionTime, "2026-01-01T00:00:00Z");
});

Deno.test("derivePhase() is the single mapping from conditions to phase", () => {
  const c = (type: string, status: string, reason = "R", message = `${type} says`) => ({
    type,
    status,
    reason,
    message,
  });
  assert.deepEqual(derivePhase([c("Valid", "False"), c("GroupRefValidated", "False")]), {
    phase: "Failed",
    message: "Valid says",
  });
  assert.equal(derivePhase([c("GroupRefValidated", "False")]).phase, "Pending");
  assert.equal(
    derivePhase([c("GroupRefValidated", "True"), c("Ready", "False", "DeploymentNotReady")]).phase,
    "Pending",
  );
  assert.equal(
    derivePhase([c("GroupRefValidated", "True"), c("Ready", "False", "BackendsUnavailable")]).phase,
    "Degraded",
  );
  assert.equal(derivePhase([c("GroupRefValidated", "True"), c("Ready", "True")]).phase, "Ready");
});

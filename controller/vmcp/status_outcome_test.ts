import assert from "node:assert/strict";
import { computeStatus, derivePhase, type VmcpObservation } from "./status.ts";
import { deploymentFailure } from "./observe.ts";

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

Deno.test("BackendsDiscovered is False with NoBackends for an empty group and BackendDiscoveryFailed for unreadable members, True otherwise", () => {
  const none = cond(computeStatus(obs({ backendNames: [] })), "BackendsDiscovered")!;
  assert.deepEqual([none.status, none.reason], ["False", "NoBackends"]);
  assert.match(none.message!, /MCPGroup "g" has no MCPServers/);
  const failed = cond(
    computeStatus(obs({
      backendNames: ["a"],
      discoveryProblems: [{ path: "MCPServer bad: spec.url", message: "Invalid URL", value: "x" }],
    })),
    "BackendsDiscovered",
  )!;
  assert.deepEqual([failed.status, failed.reason], ["False", "BackendDiscoveryFailed"]);
  assert.match(failed.message!, /MCPServer bad: spec\.url/);
  const ok = cond(computeStatus(obs()), "BackendsDiscovered")!;
  assert.deepEqual([ok.status, ok.reason, ok.message], [
    "True",
    "BackendsDiscoveredSuccessfully",
    "Discovered 2 backends",
  ]);
  assert.equal(
    cond(computeStatus(obs({ backendNames: undefined, group: "notReady" })), "BackendsDiscovered")!
      .status,
    "Unknown",
  );
});

Deno.test("a failed rollout makes Ready False with DeploymentFailed and the phase Failed, saying whether old pods still serve", () => {
  const down = computeStatus(obs({
    deploymentAvailable: false,
    deploymentFailure: "Progressing ProgressDeadlineExceeded: timed out",
  }));
  assert.equal(down.phase, "Failed");
  const ready = cond(down, "Ready")!;
  assert.deepEqual([ready.status, ready.reason], ["False", "DeploymentFailed"]);
  assert.match(
    ready.message!,
    /Deployment "v" failed to roll out: Progressing ProgressDeadlineExceeded/,
  );
  assert.doesNotMatch(ready.message!, /previous rollout/);
  const stuck = computeStatus(obs({ deploymentFailure: "ReplicaFailure FailedCreate: quota" }));
  assert.equal(stuck.phase, "Failed");
  assert.match(
    stuck.message,
    /ReplicaFailure FailedCreate: quota \(pods of the previous rollout still serve\)/,
  );
  assert.equal(
    derivePhase([
      { type: "GroupRefValidated", status: "True", reason: "GroupRefValid" },
      { type: "Ready", status: "False", reason: "DeploymentFailed", message: "m" },
    ]).phase,
    "Failed",
  );
});

Deno.test("deploymentFailure() reads ReplicaFailure and ProgressDeadlineExceeded of the current generation only", () => {
  const d = (generation: number, observed: number, conditions: unknown[]) => ({
    metadata: { generation },
    status: { observedGeneration: observed, conditions },
  });
  const deadline = {
    type: "Progressing",
    status: "False",
    reason: "ProgressDeadlineExceeded",
    message: 'ReplicaSet "v-1" has timed out progressing.',
  };
  const quota = {
    type: "ReplicaFailure",
    status: "True",
    reason: "FailedCreate",
    message: "exceeded quota",
  };
  assert.equal(
    deploymentFailure(d(2, 2, [deadline])),
    'Progressing ProgressDeadlineExceeded: ReplicaSet "v-1" has timed out progressing.',
  );
  assert.equal(deploymentFailure(d(2, 2, [quota])), "ReplicaFailure FailedCreate: exceeded quota");
  assert.equal(deploymentFailure(d(3, 2, [deadline])), undefined, "an older generation's report");
  assert.equal(
    deploymentFailure(d(2, 2, [{ ...deadline, status: "True", reason: "NewReplicaSetAvailable" }])),
    undefined,
  );
  assert.equal(deploymentFailure(d(2, 2, [{ ...quota, status: "False" }])), undefined);
  assert.equal(deploymentFailure(undefined), undefined);
});

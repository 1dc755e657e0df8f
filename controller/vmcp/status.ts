/**
 * The status of a VirtualMCPServer, computed purely from what a reconcile observed. The
 * conditions are computed first; `phase` is derived from them in one function.
 *
 * Conditions and reasons (README "Troubleshooting by condition reason"):
 * - `GroupRefValidated`: `GroupRefValid` | `GroupRefNotFound` | `GroupRefNotReady`.
 * - `AuthConfigured`: `AuthValid` | `AnonymousAuth` (True, a warning) | `AuthInvalid` |
 *   `AuthzConfigMapNotFound` | `AuthzConfigMapInvalid` (False: the Cedar policy ConfigMap is
 *   missing, or its key is missing or holds no valid policies).
 * - `PodTemplateSpecValid`, `CompositeToolRefsValidated`, `Valid`: False means the
 *   configuration is invalid (phase `Failed`).
 * - `BackendsDiscovered`: `BackendsDiscoveredSuccessfully` | `NoBackends` (False: the group
 *   has no MCPServers; the phase is not affected) | `BackendDiscoveryFailed` (False: a member
 *   cannot be read) | `BackendDiscoveryPending` (Unknown: no Ready group yet).
 * - `SessionStorageWarning`: True when replicas > 1 run without Redis sessions.
 * - `RequestStateKeyMissing`: True when replicas > 1 run without
 *   `operational.inputRequired.stateKeyRef` (each replica then signs requestState with a key
 *   of its own, and a 2026-07-28 client's retry on another replica is refused).
 * - `ToolNameConflicts`: `NameCollisionsLeft` (True: the proxy reported names still claimed by
 *   several backends after conflict resolution; the first by backend name keeps each) |
 *   `NoNameCollisions` (False). The phase is not affected.
 * - `Ready`: `DeploymentReady` | `InvalidConfiguration` | `WaitingForGroup` |
 *   `DeploymentFailed` (phase `Failed`: `ReplicaFailure` or `ProgressDeadlineExceeded` for the
 *   current spec) | `DeploymentNotReady` (phase `Pending`) | `BackendsUnavailable` (phase
 *   `Degraded`).
 * @module
 */
import type { Condition } from "../../crds/common.ts";
import type { DiscoveredBackend, NameCollisionStatus } from "../../crds/virtualmcpserver.ts";
import { formatProblems, type Problem } from "../../core/config/problems.ts";
import { type ConditionInput, mergeConditions } from "../conditions.ts";
import { vmcpUrl } from "../meta.ts";
import { isRoutableStatus } from "../../core/health/phase.ts";
import type { AuthzConfigMapReason } from "./authz_configmap.ts";

export type Phase = "Pending" | "Ready" | "Degraded" | "Failed";

export interface VmcpObservation {
  name: string;
  namespace: string;
  generation?: number | undefined;
  /** RFC 3339 time used for conditions that transition now. */
  now: string;
  previousConditions?: readonly Condition[] | undefined;
  /** Reported by the proxy (`status.discoveredBackends`). */
  discoveredBackends?: readonly DiscoveredBackend[] | undefined;
  /** Reported by the proxy (`status.nameCollisions`). */
  nameCollisions?: readonly NameCollisionStatus[] | undefined;
  groupName: string;
  group: "ready" | "notFound" | "notReady";
  /** Spec or rendered-config problems (the proxy's loader, cross-field rules, apply rejections). */
  configProblems: readonly Problem[];
  podTemplateProblems: readonly Problem[];
  /** Unresolvable auth references and missing Secrets or Secret keys. */
  authProblems: readonly Problem[];
  /** `AuthConfigured` reason for a policy ConfigMap that is missing or invalid (else `AuthInvalid`). */
  authReason?: AuthzConfigMapReason | undefined;
  /** `incomingAuth` omitted or `anonymous`. */
  anonymous: boolean;
  compositeProblems: readonly Problem[];
  compositeReason?: "CompositeToolRefNotFound" | "CompositeToolRefInvalid" | undefined;
  /** Backend names in the rendered config (undefined when nothing was rendered). */
  backendNames?: readonly string[] | undefined;
  /** Group members that could not be read as backends (invalid MCPServer specs). */
  discoveryProblems?: readonly Problem[] | undefined;
  deploymentAvailable: boolean;
  /**
   * Why the Deployment's current rollout failed (`Progressing` False with
   * `ProgressDeadlineExceeded`, or `ReplicaFailure` True), from `deploymentFailure()`.
   */
  deploymentFailure?: string | undefined;
  replicas?: number | undefined;
  sessionStorageProvider?: string | undefined;
  /** `operational.inputRequired.stateKeyRef` is set. */
  requestStateKey?: boolean | undefined;
}

/** The fields of `status` the controller owns (the proxy owns `discoveredBackends`). */
export interface OwnedStatus {
  phase: Phase;
  message: string;
  conditions: Condition[];
  url: string;
  backendCount: number;
  observedGeneration?: number;
}

/** Condition types that mean "the configuration is invalid" when False. */
export const VALIDITY_CONDITIONS = [
  "Valid",
  "PodTemplateSpecValid",
  "AuthConfigured",
  "CompositeToolRefsValidated",
] as const;

// A degraded backend (slow, or recovering) still serves: only "unavailable" degrades the
// phase. Routability is the one rule the proxy uses too (core/health).
const UNHEALTHY = new Set(["unavailable"]);

function cond(
  type: string,
  ok: boolean,
  reasons: [string, string],
  messages: [string, string],
): ConditionInput {
  return {
    type,
    status: ok ? "True" : "False",
    reason: ok ? reasons[0] : reasons[1],
    message: ok ? messages[0] : messages[1],
  };
}

function currentBackends(o: VmcpObservation): DiscoveredBackend[] {
  const names = new Set(o.backendNames ?? []);
  return (o.discoveredBackends ?? []).filter((b) => names.has(b.name));
}

/** Computes every condition the controller owns, in a fixed order. */
export function computeConditions(o: VmcpObservation): ConditionInput[] {
  const out: ConditionInput[] = [];
  const groupMsg = {
    ready: `MCPGroup "${o.groupName}" is Ready`,
    notFound:
      `MCPGroup "${o.groupName}" (spec.groupRef.name) not found in namespace "${o.namespace}"`,
    notReady: `MCPGroup "${o.groupName}" (spec.groupRef.name) is not Ready yet`,
  }[o.group];
  out.push({
    type: "GroupRefValidated",
    status: o.group === "ready" ? "True" : "False",
    reason: {
      ready: "GroupRefValid",
      notFound: "GroupRefNotFound",
      notReady: "GroupRefNotReady",
    }[o.group],
    message: groupMsg,
  });
  if (o.authProblems.length) {
    out.push({
      type: "AuthConfigured",
      status: "False",
      reason: o.authReason ?? "AuthInvalid",
      message: formatProblems(o.authProblems),
    });
  } else if (o.anonymous) {
    out.push({
      type: "AuthConfigured",
      status: "True",
      reason: "AnonymousAuth",
      message:
        "Warning: spec.incomingAuth is not set or anonymous, so clients are NOT authenticated; set spec.incomingAuth (oidc or kubernetes) for anything but development",
    });
  } else {
    out.push({
      type: "AuthConfigured",
      status: "True",
      reason: "AuthValid",
      message: "Incoming and outgoing auth resolved",
    });
  }
  out.push(cond("PodTemplateSpecValid", !o.podTemplateProblems.length, [
    "PodTemplateSpecValid",
    "InvalidPodTemplateSpec",
  ], ["spec.podTemplateSpec is valid", formatProblems(o.podTemplateProblems)]));
  out.push({
    type: "CompositeToolRefsValidated",
    status: o.compositeProblems.length ? "False" : "True",
    reason: o.compositeProblems.length
      ? (o.compositeReason ?? "CompositeToolRefNotFound")
      : "CompositeToolRefsValid",
    message: o.compositeProblems.length
      ? formatProblems(o.compositeProblems)
      : "All composite tool references resolved",
  });
  out.push(cond("Valid", !o.configProblems.length, ["ValidationSucceeded", "ValidationFailed"], [
    "The rendered proxy configuration is valid",
    formatProblems(o.configProblems),
  ]));
  if (o.group !== "notFound" && o.discoveryProblems?.length) {
    out.push({
      type: "BackendsDiscovered",
      status: "False",
      reason: "BackendDiscoveryFailed",
      message: `Could not read every MCPServer of MCPGroup "${o.groupName}": ${
        formatProblems(o.discoveryProblems)
      }`,
    });
  } else if (o.backendNames && !o.backendNames.length) {
    out.push({
      type: "BackendsDiscovered",
      status: "False",
      reason: "NoBackends",
      message:
        `MCPGroup "${o.groupName}" has no MCPServers: add MCPServers with spec.groupRef.name "${o.groupName}" (the proxy serves only composite tools meanwhile)`,
    });
  } else if (o.backendNames) {
    out.push({
      type: "BackendsDiscovered",
      status: "True",
      reason: "BackendsDiscoveredSuccessfully",
      message: `Discovered ${o.backendNames.length} backends`,
    });
  } else {
    out.push({
      type: "BackendsDiscovered",
      status: "Unknown",
      reason: "BackendDiscoveryPending",
      message: `Waiting for MCPGroup "${o.groupName}"`,
    });
  }
  const multi = (o.replicas ?? 1) > 1 && o.sessionStorageProvider !== "redis";
  // SessionStorageWarning is True when the warning applies.
  out.push({
    type: "SessionStorageWarning",
    status: multi ? "True" : "False",
    reason: multi ? "SessionStorageMissingForReplicas" : "SessionStorageConfigured",
    message: multi
      ? `spec.replicas is ${o.replicas} but spec.sessionStorage.provider is not redis: sessions are pinned to one replica and lost when it goes away`
      : "Session storage fits the replica count",
  });
  const keyMissing = (o.replicas ?? 1) > 1 && !o.requestStateKey;
  // RequestStateKeyMissing is True when the warning applies.
  out.push({
    type: "RequestStateKeyMissing",
    status: keyMissing ? "True" : "False",
    reason: keyMissing ? "RequestStateKeyMissingForReplicas" : "RequestStateKeyConfigured",
    message: keyMissing
      ? `spec.replicas is ${o.replicas} but spec.operational.inputRequired.stateKeyRef is not set: each replica signs requestState with a key of its own, so a 2026-07-28 client's retry that lands on another replica is refused`
      : "The requestState key fits the replica count",
  });
  out.push(nameConflictsCondition(o.nameCollisions ?? []));
  out.push(readyCondition(o, out));
  return out;
}

/** True (a warning) while the proxy reports names left claimed by several backends. */
function nameConflictsCondition(collisions: readonly NameCollisionStatus[]): ConditionInput {
  if (!collisions.length) {
    return {
      type: "ToolNameConflicts",
      status: "False",
      reason: "NoNameCollisions",
      message: "Every advertised tool and prompt name has one owner",
    };
  }
  const who = (c: { backend: string; originalName: string }) => `${c.backend}/${c.originalName}`;
  const shown = collisions.slice(0, 10).map((c) =>
    `${c.kind} "${c.name}": ${c.kept ? `kept ${who(c.kept)}` : "none kept"}, dropped ${
      c.dropped.map(who).join(", ")
    }`
  );
  if (collisions.length > 10) shown.push(`and ${collisions.length - 10} more`);
  return {
    type: "ToolNameConflicts",
    status: "True",
    reason: "NameCollisionsLeft",
    message:
      `${collisions.length} name(s) still claimed by several backends after conflict resolution (the first by backend name keeps each; rename with aggregation.tools overrides or change prefixFormat): ${
        shown.join("; ")
      }`,
  };
}

function readyCondition(o: VmcpObservation, conds: ConditionInput[]): ConditionInput {
  const invalid = conds.find((c) =>
    (VALIDITY_CONDITIONS as readonly string[]).includes(c.type) && c.status === "False"
  );
  if (invalid) {
    return {
      type: "Ready",
      status: "False",
      reason: "InvalidConfiguration",
      message: `${invalid.type}: ${invalid.message}`,
    };
  }
  if (o.group !== "ready") {
    return {
      type: "Ready",
      status: "False",
      reason: "WaitingForGroup",
      message: conds[0]!.message,
    };
  }
  if (o.deploymentFailure) {
    return {
      type: "Ready",
      status: "False",
      reason: "DeploymentFailed",
      message: `Deployment "${o.name}" failed to roll out: ${o.deploymentFailure}${
        o.deploymentAvailable ? " (pods of the previous rollout still serve)" : ""
      }`,
    };
  }
  if (!o.deploymentAvailable) {
    return {
      type: "Ready",
      status: "False",
      reason: "DeploymentNotReady",
      message: `Deployment "${o.name}" has no available replica yet`,
    };
  }
  const unhealthy = currentBackends(o).filter((b) => UNHEALTHY.has(b.status));
  if (unhealthy.length) {
    return {
      type: "Ready",
      status: "False",
      reason: "BackendsUnavailable",
      message: `Backends not healthy: ${
        unhealthy.map((b) => `${b.name} (${b.status}${b.message ? `: ${b.message}` : ""})`).join(
          ", ",
        )
      }`,
    };
  }
  return {
    type: "Ready",
    status: "True",
    reason: "DeploymentReady",
    message: "Deployment available and all reported backends healthy",
  };
}

/** The one place `phase` comes from: the conditions. */
export function derivePhase(
  conditions: readonly {
    type: string;
    status: string;
    reason: string;
    message?: string | undefined;
  }[],
): {
  phase: Phase;
  message: string;
} {
  const get = (t: string) => conditions.find((c) => c.type === t);
  for (const t of VALIDITY_CONDITIONS) {
    const c = get(t);
    if (c?.status === "False") return { phase: "Failed", message: c.message ?? t };
  }
  const group = get("GroupRefValidated");
  if (group?.status !== "True") {
    return { phase: "Pending", message: group?.message ?? "Waiting for the MCPGroup" };
  }
  const ready = get("Ready");
  if (ready?.status === "True") return { phase: "Ready", message: ready.message ?? "Ready" };
  if (ready?.reason === "DeploymentFailed") {
    return { phase: "Failed", message: ready.message ?? "Deployment failed" };
  }
  if (ready?.reason === "BackendsUnavailable") {
    return { phase: "Degraded", message: ready.message ?? "Degraded" };
  }
  return { phase: "Pending", message: ready?.message ?? "Waiting" };
}

/** The complete controller-owned status. */
export function computeStatus(o: VmcpObservation): OwnedStatus {
  const conditions = mergeConditions(
    o.previousConditions,
    computeConditions(o),
    o.now,
    o.generation,
  );
  const { phase, message } = derivePhase(conditions);
  const out: OwnedStatus = {
    phase,
    message,
    conditions,
    url: vmcpUrl(o.name, o.namespace),
    backendCount: currentBackends(o).filter((b) => isRoutableStatus(b.status)).length,
  };
  if (o.generation !== undefined) out.observedGeneration = o.generation;
  return out;
}

/**
 * The VirtualMCPServer reconciler: read → compute desired children → server-side apply the
 * changed ones with one field manager → compute status → write the owned status fields once
 * (only when they changed). User errors end in a condition and no retry; transient API
 * errors throw, so the work queue backs off.
 * @module
 */
import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import type { Problem } from "../../core/config/problems.ts";
import type { Condition } from "../../crds/common.ts";
import type { DiscoveredBackend, NameCollisionStatus } from "../../crds/virtualmcpserver.ts";
import { type KubeApi, KubeApiError, type KubeObject } from "../runtime/kube.ts";
import type { HandlerResult } from "../runtime/queue.ts";
import { applyIfChanged } from "../apply.ts";
import { sameConditions, timeString } from "../conditions.ts";
import { DEFAULT_PROXY_IMAGE, FIELD_MANAGER, splitKey } from "../meta.ts";
import { TYPES, type View } from "../view.ts";
import {
  buildClusterRbac,
  buildConfigMap,
  buildRbac,
  buildService,
  type Parent,
} from "./children.ts";
import { deleteClusterRbac, needsTokenReview } from "./cluster_rbac.ts";
import { buildDeployment, deploymentAvailable } from "./deployment.ts";
import { deploymentFailure, observeVmcp, type VmcpInputs } from "./observe.ts";
import { configYaml, sha256 } from "./render_config.ts";
import { computeStatus, type OwnedStatus } from "./status.ts";

export interface VmcpReconcilerOptions {
  kube: KubeApi;
  view: View;
  clock: Clock;
  logger: Logger;
  /** Image for proxies whose spec sets none. @default DEFAULT_PROXY_IMAGE */
  proxyImage?: string | undefined;
}

interface VmcpObject extends KubeObject {
  status?: {
    phase?: string;
    message?: string;
    url?: string;
    backendCount?: number;
    observedGeneration?: number;
    conditions?: Condition[];
    discoveredBackends?: DiscoveredBackend[];
    nameCollisions?: NameCollisionStatus[];
  };
}

/** Whether the live status already says what `next` says. */
export function statusUpToDate(live: VmcpObject["status"], next: OwnedStatus): boolean {
  const s = live ?? {};
  return s.phase === next.phase && (s.message ?? "") === next.message && s.url === next.url &&
    s.backendCount === next.backendCount && s.observedGeneration === next.observedGeneration &&
    sameConditions(s.conditions, next.conditions);
}

function desiredChildren(parent: Parent, inputs: VmcpInputs, image: string): KubeObject[] {
  const spec = inputs.spec!;
  const render = inputs.render!;
  const yaml = configYaml(render.config);
  const checksum = sha256(yaml);
  const children = [
    ...buildRbac(parent),
    buildConfigMap(parent, yaml, checksum),
    buildDeployment({
      parent,
      image,
      // Cedar policies are left out: the proxy reloads them from the mounted config without
      // dropping sessions, so a policy change must not roll the pods.
      configChecksum: sha256(configYaml(withoutAuthzPolicies(render.config))),
      secretEnv: render.env,
      replicas: spec.replicas,
      podTemplateSpec: spec.podTemplateSpec,
      logLevel: spec.operational?.logLevel,
    }),
    buildService(parent, spec.serviceType ?? "ClusterIP"),
  ];
  if (needsTokenReview(spec)) children.push(...buildClusterRbac(parent));
  return children;
}

/** `config` with the authorization policies left out (what the pod checksum covers). */
function withoutAuthzPolicies<T extends { incomingAuth?: { authzConfig?: unknown } }>(
  config: T,
): T {
  if (!config.incomingAuth?.authzConfig) return config;
  return { ...config, incomingAuth: { ...config.incomingAuth, authzConfig: { type: "inline" } } };
}

function isUserError(err: unknown): err is KubeApiError {
  return err instanceof KubeApiError && (err.status === 422 || err.status === 400);
}

/** Reconciles the VirtualMCPServer `namespace/name`. */
export async function reconcileVirtualMCPServer(
  opts: VmcpReconcilerOptions,
  key: string,
  signal?: AbortSignal,
): Promise<HandlerResult> {
  const { kube, view, clock } = opts;
  const { namespace, name } = splitKey(key);
  const log = opts.logger.with({ kind: "VirtualMCPServer", namespace, name });
  const vmcp = await view.get<VmcpObject>(TYPES.vmcp, namespace, name);
  if (!vmcp) {
    // Namespaced children go with the ownerReferences; cluster-scoped RBAC is ours to delete.
    await deleteClusterRbac(kube, view, namespace, name, log, signal);
    return;
  }
  if (vmcp.metadata?.deletionTimestamp) return;
  const parent = vmcp as Parent;
  const inputs = await observeVmcp(view, vmcp);
  const applyProblems: Problem[] = [];
  const invalid = inputs.configProblems.length + inputs.podTemplateProblems.length +
      inputs.authProblems.length + inputs.compositeProblems.length > 0;
  let deployment = await view.get(TYPES.deployment, namespace, name);
  if (!invalid && inputs.group === "ready" && inputs.spec && inputs.render) {
    const image = inputs.spec.image ?? opts.proxyImage ?? DEFAULT_PROXY_IMAGE;
    for (const child of desiredChildren(parent, inputs, image)) {
      const cns = child.metadata?.namespace;
      const cname = child.metadata?.name ?? "";
      const live = await view.get({ apiVersion: child.apiVersion!, kind: child.kind! }, cns, cname);
      try {
        const res = await applyIfChanged(kube, child, live, signal);
        if (res.changed) log.info(`Applied ${child.kind}`, { child: cname });
        if (child.kind === "Deployment") deployment = res.object;
      } catch (err) {
        if (!isUserError(err)) {
          await kube.createEvent(vmcp, {
            type: "Warning",
            reason: "ApplyFailed",
            message: `Failed to apply ${child.kind} "${cname}": ${(err as Error).message}`,
          });
          throw err;
        }
        applyProblems.push({
          path: `${child.kind} ${cname}`,
          message: `Rejected by the API server: ${err.apiMessage}`,
        });
      }
    }
  }
  if (!invalid && inputs.spec && !needsTokenReview(inputs.spec)) {
    await deleteClusterRbac(kube, view, namespace, name, log, signal);
  }
  const status = computeStatus({
    name,
    namespace,
    generation: vmcp.metadata?.generation,
    now: timeString(clock.now()),
    previousConditions: vmcp.status?.conditions,
    discoveredBackends: vmcp.status?.discoveredBackends,
    nameCollisions: vmcp.status?.nameCollisions,
    groupName: inputs.groupName,
    group: inputs.group,
    configProblems: [...inputs.configProblems, ...applyProblems],
    podTemplateProblems: inputs.podTemplateProblems,
    authProblems: inputs.authProblems,
    authReason: inputs.authReason,
    anonymous: inputs.anonymous,
    compositeProblems: inputs.compositeProblems,
    compositeReason: inputs.compositeReason,
    backendNames: inputs.render ? inputs.servers.map((s) => s.name) : undefined,
    discoveryProblems: inputs.discoveryProblems,
    deploymentAvailable: deploymentAvailable(deployment),
    deploymentFailure: deploymentFailure(deployment),
    replicas: inputs.spec?.replicas,
    sessionStorageProvider: inputs.spec?.sessionStorage?.provider,
    requestStateKey: inputs.spec?.operational?.inputRequired?.stateKeyRef !== undefined,
  });
  if (statusUpToDate(vmcp.status, status)) return;
  await kube.applyStatus({
    apiVersion: vmcp.apiVersion ?? TYPES.vmcp.apiVersion,
    kind: TYPES.vmcp.kind,
    metadata: { name, namespace },
    status,
  }, { fieldManager: FIELD_MANAGER, force: true, ...(signal ? { signal } : {}) });
  await recordTransitions(kube, vmcp, status, log);
}

async function recordTransitions(kube: KubeApi, vmcp: VmcpObject, next: OwnedStatus, log: Logger) {
  const before = vmcp.status?.phase;
  if (before !== next.phase) {
    log.info("Changed phase", { from: before ?? "(none)", to: next.phase, message: next.message });
    await kube.createEvent(vmcp, {
      type: next.phase === "Failed" || next.phase === "Degraded" ? "Warning" : "Normal",
      reason: `Phase${next.phase}`,
      message: `Phase ${before ?? "(none)"} → ${next.phase}: ${next.message}`.slice(0, 1000),
    });
  }
  const prevAuth = vmcp.status?.conditions?.find((c) => c.type === "AuthConfigured");
  const auth = next.conditions.find((c) => c.type === "AuthConfigured");
  if (auth?.reason === "AnonymousAuth" && prevAuth?.reason !== "AnonymousAuth") {
    log.warn("Serving anonymously", { message: auth.message });
    await kube.createEvent(vmcp, {
      type: "Warning",
      reason: "AnonymousAuth",
      message: auth.message ?? "",
    });
  }
}

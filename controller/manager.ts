/**
 * Runs the controllers while leading: informers (one per watched type) feed keys through
 * {@link mapChange} into one work queue per root kind; each queue runs its reconciler.
 * Returns when `signal` aborts (shutdown or lost leadership), after in-flight work stopped.
 * @module
 */
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/log.ts";
import type { KubeClient, KubeObject } from "./runtime/kube.ts";
import { configMapTrimmed, Informer, secretKeysOnly } from "./runtime/informer.ts";
import { type HandlerResult, WorkQueue } from "./runtime/queue.ts";
import type { ControllerMetrics } from "./runtime/http.ts";
import { MANAGED_BY, MANAGED_BY_LABEL, OWNER_NAMESPACE_LABEL } from "./meta.ts";
import { apiView, cacheView, type ResourceType, typeKey, TYPES, type View } from "./view.ts";
import { type Controller, mapChange } from "./watches.ts";
import { reconcileVirtualMCPServer } from "./vmcp/reconcile.ts";
import { reconcileMCPGroup } from "./mcpgroup/reconcile.ts";
import { reconcileMCPServer } from "./mcpserver/reconcile.ts";
import { reconcileCompositeToolDefinition } from "./compositetool/reconcile.ts";
import { sweepOrphanClusterRbac } from "./vmcp/cluster_rbac.ts";

export interface ManagerOptions {
  kube: KubeClient;
  clock: Clock;
  logger: Logger;
  metrics?: ControllerMetrics | undefined;
  /** Watch one namespace only. @default all */
  namespace?: string | undefined;
  proxyImage?: string | undefined;
  /** Workers of the VirtualMCPServer queue. @default 4 */
  workers?: number | undefined;
  /** Called with true once every informer has synced, false when the manager stops. */
  onSynced?: ((synced: boolean) => void) | undefined;
}

const CHILD_SELECTOR = "toolhive=true";

/**
 * The watched types and their selectors. With one watched namespace, the cluster-scoped
 * TokenReview RBAC is watched only where its owner label names that namespace: the
 * ClusterRoles of VirtualMCPServers elsewhere are not ours to reconcile or delete.
 */
function watched(
  namespace: string | undefined,
): {
  type: ResourceType;
  labelSelector?: string;
  clusterScoped?: boolean;
  transform?: (obj: KubeObject) => KubeObject;
}[] {
  const owned = `${MANAGED_BY_LABEL}=${MANAGED_BY}` +
    (namespace ? `,${OWNER_NAMESPACE_LABEL}=${namespace}` : "");
  return [
    { type: TYPES.vmcp },
    { type: TYPES.group },
    { type: TYPES.server },
    { type: TYPES.authConfig },
    { type: TYPES.compositeDef },
    // Only names and data keys are cached (secretKeysOnly): never a value.
    { type: TYPES.secret, transform: secretKeysOnly },
    { type: TYPES.deployment, labelSelector: CHILD_SELECTOR },
    { type: TYPES.service, labelSelector: CHILD_SELECTOR },
    // Every ConfigMap: the children, and the ones holding OIDC settings
    // (incomingAuth.oidcConfig.type configMap), whose changes re-render their servers; managed
    // fields, kubectl's last-applied copy and binaryData are not cached (configMapTrimmed).
    { type: TYPES.configMap, transform: configMapTrimmed },
    { type: TYPES.serviceAccount, labelSelector: CHILD_SELECTOR },
    { type: TYPES.role, labelSelector: CHILD_SELECTOR },
    { type: TYPES.roleBinding, labelSelector: CHILD_SELECTOR },
    { type: TYPES.clusterRole, labelSelector: owned, clusterScoped: true },
    { type: TYPES.clusterRoleBinding, labelSelector: owned, clusterScoped: true },
  ];
}

/** Runs informers, queues and reconcilers until `signal` aborts. */
export async function runManager(opts: ManagerOptions, signal: AbortSignal): Promise<void> {
  const { kube, clock, logger } = opts;
  const informers = new Map<string, Informer<KubeObject>>();
  for (const w of watched(opts.namespace)) {
    informers.set(
      typeKey(w.type),
      new Informer<KubeObject>(kube, {
        apiVersion: w.type.apiVersion,
        kind: w.type.kind,
        ...(opts.namespace && !w.clusterScoped ? { namespace: opts.namespace } : {}),
        ...(w.labelSelector ? { labelSelector: w.labelSelector } : {}),
        ...(w.transform ? { transform: w.transform } : {}),
        clock,
        logger,
      }),
    );
  }
  const view: View = cacheView(informers, apiView(kube, signal));
  const queues = new Map<Controller, WorkQueue<string>>();
  for (const c of ["vmcp", "group", "server", "compositeDef"] as const) {
    const hooks = opts.metrics?.queueHooks(c);
    queues.set(c, new WorkQueue<string>({ clock, logger, ...(hooks ? { metrics: hooks } : {}) }));
  }
  const vmcpInf = informers.get(typeKey(TYPES.vmcp))!;
  const authInf = informers.get(typeKey(TYPES.authConfig))!;
  for (const [id, inf] of informers) {
    const kind = id.slice(id.lastIndexOf("/") + 1);
    inf.on((ev) => {
      const old = ev.type === "update" ? ev.old : undefined;
      for (
        const e of mapChange(kind, ev.object, old, (n) => vmcpInf.list(n), (n) => authInf.list(n))
      ) {
        queues.get(e.controller)!.add(e.key);
      }
    });
  }
  const runs = [...informers.values()].map((inf) => inf.run(signal));
  try {
    const synced = await Promise.all([...informers.values()].map((inf) => inf.waitForSync(signal)));
    if (signal.aborted || !synced.every(Boolean)) return;
    opts.onSynced?.(true);
    logger.info("Synced informers", { types: informers.size });
    await sweepOrphanClusterRbac(kube, logger, signal, opts.namespace).catch((err) => {
      if (!signal.aborted) logger.warn("Failed to sweep orphaned cluster RBAC", { error: err });
    });
    const base = { kube, view, clock, logger };
    const handlers: Record<Controller, (key: string, s: AbortSignal) => Promise<HandlerResult>> = {
      vmcp: (key, s) => reconcileVirtualMCPServer({ ...base, proxyImage: opts.proxyImage }, key, s),
      group: (key, s) => reconcileMCPGroup(base, key, s),
      server: (key, s) => reconcileMCPServer({ ...base, proxyImage: opts.proxyImage }, key, s),
      compositeDef: (key, s) => reconcileCompositeToolDefinition(base, key, s),
    };
    await Promise.all(
      [...queues].map(([c, q]) => q.run(c === "vmcp" ? opts.workers ?? 4 : 2, handlers[c], signal)),
    );
  } finally {
    for (const q of queues.values()) q.shutDown();
    opts.onSynced?.(false);
    await Promise.allSettled(runs);
  }
}

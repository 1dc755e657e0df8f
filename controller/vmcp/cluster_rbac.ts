/**
 * The cluster-scoped TokenReview RBAC of VirtualMCPServers with Kubernetes incoming auth.
 * No ownerReference can point from a cluster-scoped object to a namespaced CR, so these are
 * found by their deterministic name or owner labels and deleted by the controller
 * (docs/adr/0002-cluster-scoped-rbac-cleanup.md).
 * @module
 */
import type { KubeApi, KubeObject } from "../runtime/kube.ts";
import type { Logger } from "../../core/log.ts";
import {
  MANAGED_BY,
  MANAGED_BY_LABEL,
  OWNER_NAME_LABEL,
  OWNER_NAMESPACE_LABEL,
  vmcpNames,
} from "../meta.ts";
import { TYPES, type View } from "../view.ts";

/** Whether a parsed spec needs TokenReview rights. */
export function needsTokenReview(
  spec: {
    incomingAuth?: { type?: string; oidcConfig?: { type?: string } | undefined } | undefined;
  } | undefined,
): boolean {
  const ia = spec?.incomingAuth;
  return ia?.type === "kubernetes" || (ia?.type === "oidc" && ia.oidcConfig?.type === "kubernetes");
}

/** Deletes the TokenReview RBAC of one VirtualMCPServer, if present. Returns whether any was deleted. */
export async function deleteClusterRbac(
  kube: Pick<KubeApi, "delete">,
  view: View,
  namespace: string,
  name: string,
  logger: Logger,
  signal?: AbortSignal,
): Promise<boolean> {
  const n = vmcpNames(name, namespace).clusterRbac;
  let deleted = false;
  for (const t of [TYPES.clusterRoleBinding, TYPES.clusterRole]) {
    if (!(await view.get(t, undefined, n))) continue;
    if (await kube.delete(t.apiVersion, t.kind, undefined, n, signal ? { signal } : {})) {
      logger.info(`Deleted ${t.kind}`, { name: n, owner: `${namespace}/${name}` });
      deleted = true;
    }
  }
  return deleted;
}

/**
 * Deletes TokenReview RBAC whose owner VirtualMCPServer no longer exists (for deletions the
 * controller missed while it was not running). Run once when leadership starts. With
 * `namespace` (one watched namespace), only RBAC whose owner is in that namespace.
 */
export async function sweepOrphanClusterRbac(
  kube: Pick<KubeApi, "list" | "get" | "delete">,
  logger: Logger,
  signal?: AbortSignal,
  namespace?: string,
): Promise<number> {
  const opts = signal ? { signal } : {};
  const owner = namespace ? `${OWNER_NAMESPACE_LABEL}=${namespace}` : OWNER_NAMESPACE_LABEL;
  const selector = `${MANAGED_BY_LABEL}=${MANAGED_BY},${OWNER_NAME_LABEL},${owner}`;
  let removed = 0;
  for (const t of [TYPES.clusterRoleBinding, TYPES.clusterRole]) {
    const { items } = await kube.list<KubeObject>(t.apiVersion, t.kind, undefined, selector, opts);
    for (const o of items) {
      const labels = o.metadata?.labels ?? {};
      const ns = labels[OWNER_NAMESPACE_LABEL]!;
      const owner = labels[OWNER_NAME_LABEL]!;
      const live = await kube.get(TYPES.vmcp.apiVersion, TYPES.vmcp.kind, ns, owner, opts);
      if (live) continue;
      if (await kube.delete(t.apiVersion, t.kind, undefined, o.metadata?.name ?? "", opts)) {
        logger.info(`Deleted orphaned ${t.kind}`, {
          name: o.metadata?.name,
          owner: `${ns}/${owner}`,
        });
        removed++;
      }
    }
  }
  return removed;
}

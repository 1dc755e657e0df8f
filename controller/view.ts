/**
 * How reconcilers read the cluster: a `View` answers get/list either from informer caches
 * (the running controller) or straight from the API server (tests, one-off reconciles).
 * @module
 */
import type { KubeApi, KubeObject } from "./runtime/kube.ts";
import type { Informer } from "./runtime/informer.ts";
import { CRD_API_VERSION, KIND } from "./meta.ts";

export interface ResourceType {
  apiVersion: string;
  kind: string;
}

export const TYPES = {
  vmcp: { apiVersion: CRD_API_VERSION, kind: KIND.VirtualMCPServer },
  group: { apiVersion: CRD_API_VERSION, kind: KIND.MCPGroup },
  server: { apiVersion: CRD_API_VERSION, kind: KIND.MCPServer },
  authConfig: { apiVersion: CRD_API_VERSION, kind: KIND.MCPExternalAuthConfig },
  compositeDef: { apiVersion: CRD_API_VERSION, kind: KIND.CompositeToolDefinition },
  secret: { apiVersion: "v1", kind: "Secret" },
  configMap: { apiVersion: "v1", kind: "ConfigMap" },
  service: { apiVersion: "v1", kind: "Service" },
  serviceAccount: { apiVersion: "v1", kind: "ServiceAccount" },
  deployment: { apiVersion: "apps/v1", kind: "Deployment" },
  role: { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role" },
  roleBinding: { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding" },
  clusterRole: { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole" },
  clusterRoleBinding: { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding" },
} as const satisfies Record<string, ResourceType>;

export interface View {
  get<T extends KubeObject = KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
  ): Promise<T | undefined>;
  list<T extends KubeObject = KubeObject>(type: ResourceType, namespace: string): Promise<T[]>;
}

/** Reads straight from the API server. */
export function apiView(kube: KubeApi, signal?: AbortSignal): View {
  const opts = signal ? { signal } : {};
  return {
    get: (t, ns, name) => kube.get(t.apiVersion, t.kind, ns, name, opts),
    list: async <T extends KubeObject>(t: ResourceType, ns: string) =>
      (await kube.list<T>(t.apiVersion, t.kind, ns, undefined, opts)).items,
  };
}

/**
 * Reads from informer caches; a type without an informer falls back to `fallback`
 * (normally {@link apiView}).
 */
export function cacheView(
  informers: ReadonlyMap<string, Informer<KubeObject>>,
  fallback: View,
): View {
  const find = (t: ResourceType) => informers.get(`${t.apiVersion}/${t.kind}`);
  return {
    get<T extends KubeObject>(t: ResourceType, ns: string | undefined, name: string) {
      const inf = find(t);
      if (!inf) return fallback.get<T>(t, ns, name);
      return Promise.resolve(inf.get(ns, name) as T | undefined);
    },
    list<T extends KubeObject>(t: ResourceType, ns: string) {
      const inf = find(t);
      if (!inf) return fallback.list<T>(t, ns);
      return Promise.resolve(inf.list(ns) as T[]);
    },
  };
}

/** Map key of an informer in {@link cacheView}. */
export function typeKey(t: ResourceType): string {
  return `${t.apiVersion}/${t.kind}`;
}

/**
 * Maps a change of any watched object to the keys (`namespace/name`) of the roots it
 * affects, per controller. Pure functions over the changed object(s) and a cache lookup.
 * @module
 */
import type { KubeObject } from "./runtime/kube.ts";
import { KIND, OWNER_NAME_LABEL, OWNER_NAMESPACE_LABEL } from "./meta.ts";

/** Work-queue names, one per root kind. */
export type Controller = "vmcp" | "group" | "server" | "compositeDef";

export interface Enqueue {
  controller: Controller;
  key: string;
}

/** Cached VirtualMCPServers of a namespace (the lookup a mapping needs). */
export type VmcpLister = (namespace: string) => KubeObject[];
/** Cached MCPExternalAuthConfigs of a namespace. */
export type AuthConfigLister = (namespace: string) => KubeObject[];

const ns = (o: KubeObject) => o.metadata?.namespace ?? "";
const nm = (o: KubeObject) => o.metadata?.name ?? "";
const k = (namespace: string, name: string) => `${namespace}/${name}`;
const spec = (o: KubeObject | undefined) => (o?.spec ?? {}) as Record<string, unknown>;
const groupOf = (o: KubeObject | undefined) =>
  (spec(o).groupRef as { name?: string } | undefined)?.name;
/** The ConfigMap an `incomingAuth.oidcConfig.type: configMap` server takes its OIDC settings from. */
const oidcConfigMapOf = (o: KubeObject) => {
  const oc = (spec(o).incomingAuth as
    | { oidcConfig?: { type?: string; configMap?: { name?: string } } }
    | undefined)?.oidcConfig;
  return oc?.type === "configMap" ? oc.configMap?.name : undefined;
};
/** The ConfigMap an `incomingAuth.authzConfig.type: configMap` server takes its policies from. */
const authzConfigMapOf = (o: KubeObject) => {
  const ac = (spec(o).incomingAuth as
    | { authzConfig?: { type?: string; configMap?: { name?: string } } }
    | undefined)?.authzConfig;
  return ac?.type === "configMap" ? ac.configMap?.name : undefined;
};
const refsOf = (o: KubeObject | undefined) =>
  ((spec(o).compositeToolRefs as { name: string }[] | undefined) ?? []).map((r) => r.name);

function unique(list: Enqueue[]): Enqueue[] {
  const seen = new Set<string>();
  return list.filter((e) => {
    const id = `${e.controller}|${e.key}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/**
 * What to reconcile after `obj` (and, for updates, `old`) of `kind` changed. `kind` is the
 * watched type's kind; for owned children it is Deployment/Service/ConfigMap/….
 */
export function mapChange(
  kind: string,
  obj: KubeObject,
  old: KubeObject | undefined,
  vmcps: VmcpLister,
  authConfigs: AuthConfigLister,
): Enqueue[] {
  const out: Enqueue[] = [];
  const namespace = ns(obj);
  const vmcpsWhere = (pred: (v: KubeObject) => boolean) => {
    for (const v of vmcps(namespace)) {
      if (pred(v)) out.push({ controller: "vmcp", key: k(namespace, nm(v)) });
    }
  };
  switch (kind) {
    case KIND.VirtualMCPServer:
      out.push({ controller: "vmcp", key: k(namespace, nm(obj)) });
      for (const r of new Set([...refsOf(obj), ...refsOf(old)])) {
        out.push({ controller: "compositeDef", key: k(namespace, r) });
      }
      break;
    case KIND.MCPGroup:
      out.push({ controller: "group", key: k(namespace, nm(obj)) });
      vmcpsWhere((v) => groupOf(v) === nm(obj));
      break;
    case KIND.MCPServer: {
      out.push({ controller: "server", key: k(namespace, nm(obj)) });
      const groups = new Set([groupOf(obj), groupOf(old)].filter((g): g is string => !!g));
      for (const g of groups) out.push({ controller: "group", key: k(namespace, g) });
      vmcpsWhere((v) => groups.has(groupOf(v) ?? ""));
      break;
    }
    case KIND.MCPExternalAuthConfig:
      // Referenced from outgoingAuth or from member servers: every server of the namespace may use it.
      vmcpsWhere(() => true);
      break;
    case KIND.CompositeToolDefinition:
      out.push({ controller: "compositeDef", key: k(namespace, nm(obj)) });
      vmcpsWhere((v) => refsOf(v).includes(nm(obj)));
      break;
    case "Secret": {
      const needle = `"name":"${nm(obj)}"`;
      const inAuthConfig = authConfigs(namespace).some((a) =>
        JSON.stringify(a.spec ?? {}).includes(needle)
      );
      vmcpsWhere((v) => inAuthConfig || JSON.stringify(v.spec ?? {}).includes(needle));
      break;
    }
    case "ConfigMap":
      // A user's ConfigMap holding OIDC settings or Cedar policies, or (below) a child of a
      // VirtualMCPServer.
      vmcpsWhere((v) => oidcConfigMapOf(v) === nm(obj) || authzConfigMapOf(v) === nm(obj));
      out.push(...ownerEnqueues(obj, namespace));
      break;
    case "ClusterRole":
    case "ClusterRoleBinding": {
      const labels = obj.metadata?.labels ?? {};
      const owner = labels[OWNER_NAME_LABEL];
      const ownerNs = labels[OWNER_NAMESPACE_LABEL];
      if (owner && ownerNs) out.push({ controller: "vmcp", key: k(ownerNs, owner) });
      break;
    }
    default:
      out.push(...ownerEnqueues(obj, namespace));
  }
  return unique(out);
}

/** The controlling owner of a child object, as the root to reconcile. */
function ownerEnqueues(obj: KubeObject, namespace: string): Enqueue[] {
  const out: Enqueue[] = [];
  for (const ref of obj.metadata?.ownerReferences ?? []) {
    if (!ref.controller) continue;
    if (ref.kind === KIND.VirtualMCPServer) {
      out.push({ controller: "vmcp", key: k(namespace, ref.name) });
    }
    if (ref.kind === KIND.MCPServer) {
      out.push({ controller: "server", key: k(namespace, ref.name) });
    }
  }
  return out;
}

/**
 * RBAC bookkeeping for deploy/rbac_test.ts and rbac_namespaced_test.ts: permissions as
 * `group|resource|verb` keys, expanded from RBAC rules or collected from a kube-apiserver
 * audit log, and which resources the API server serves namespaced.
 * @module
 */
import { type KubeConn, kubeRequest } from "../tests/harness/kube.ts";
import { buildClusterRbac, buildRbac, type Parent } from "../controller/vmcp/children.ts";
import { CRD_API_VERSION } from "../controller/meta.ts";
import type { KubeObject } from "../controller/runtime/kube.ts";
import type { Obj } from "./_kubectl.ts";

/** `apiGroup|resource[/subresource]|verb`, core group as "". */
export type Permission = string;

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}

export const perm = (group: string, resource: string, verb: string): Permission =>
  `${group}|${resource}|${verb}`;

/** Every permission the rules grant (resourceNames are not part of the key). */
export function expandRules(rules: PolicyRule[]): Set<Permission> {
  const out = new Set<Permission>();
  for (const r of rules) {
    for (const g of r.apiGroups ?? [""]) {
      for (const res of r.resources ?? []) {
        for (const v of r.verbs) out.add(perm(g, res, v));
      }
    }
  }
  return out;
}

/**
 * The rules deploy/ (or deploy/namespaced/) binds to the operator's ServiceAccount: the
 * ClusterRole, the Lease Role and (deploy/namespaced/ only) the Role `vmcp-controller` in
 * the watched namespace, which `watched` names.
 */
export function operatorRules(objs: Obj[]): {
  cluster: PolicyRule[];
  lease: PolicyRule[];
  namespaced: PolicyRule[];
  watched: string | undefined;
} {
  const find = (kind: string, name: string) =>
    objs.find((o) => o.kind === kind && o.metadata.name === name);
  const rulesOf = (kind: string, name: string) => (find(kind, name)?.rules ?? []) as PolicyRule[];
  return {
    cluster: rulesOf("ClusterRole", "vmcp-controller"),
    lease: rulesOf("Role", "vmcp-controller-leader-election"),
    namespaced: rulesOf("Role", "vmcp-controller"),
    watched: find("Role", "vmcp-controller")?.metadata.namespace,
  };
}

/**
 * What the controller grants the RBAC it creates for each proxy: the proxy's Role
 * (`namespaced`, in the VirtualMCPServer's namespace) and its TokenReview ClusterRole
 * (`cluster`). It must hold these (RBAC forbids granting what one does not hold).
 */
export function proxyGrants(): { namespaced: Set<Permission>; cluster: Set<Permission> } {
  const parent: Parent = {
    apiVersion: CRD_API_VERSION,
    kind: "VirtualMCPServer",
    metadata: { name: "x", namespace: "y", uid: "z" },
  };
  const rulesOf = (objs: KubeObject[]) =>
    expandRules(objs.flatMap((o) => (o.rules ?? []) as PolicyRule[]));
  return { namespaced: rulesOf(buildRbac(parent)), cluster: rulesOf(buildClusterRbac(parent)) };
}

/** Grants the controller holds only to hand them on to the RBAC it creates for proxies. */
export function handedOn(): Set<Permission> {
  const { namespaced, cluster } = proxyGrants();
  return new Set([...namespaced, ...cluster]);
}

/**
 * A SelfSubjectAccessReview as `conn`'s user: may it `verb` `group`/`resource[/sub]` in
 * `namespace` ("" = all namespaces or cluster-scoped), optionally the object `name`?
 */
export function canI(conn: KubeConn) {
  return async (
    verb: string,
    group: string,
    resource: string,
    namespace: string,
    name?: string,
  ): Promise<boolean> => {
    const [res, sub] = resource.split("/");
    const r = await kubeRequest<{ status: { allowed: boolean } }>(
      conn,
      "POST",
      "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
      {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SelfSubjectAccessReview",
        spec: {
          resourceAttributes: { verb, group, resource: res, subresource: sub, namespace, name },
        },
      },
    );
    return r.status.allowed;
  };
}

/** Event folding (controller/runtime/_events.ts) patches the count of a repeated Event. */
export const EVENT_FOLDING = perm("", "events", "patch");

/**
 * Whether each resource of the given API versions is namespaced (`group|resource` →
 * boolean), from the API server's discovery documents.
 */
export async function resourceScopes(
  conn: KubeConn,
  apiVersions: Iterable<string>,
): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>();
  for (const gv of new Set(apiVersions)) {
    const group = gv.includes("/") ? gv.split("/")[0]! : "";
    const list = await kubeRequest<{ resources: { name: string; namespaced: boolean }[] }>(
      conn,
      "GET",
      gv.includes("/") ? `/apis/${gv}` : `/api/${gv}`,
    );
    for (const r of list.resources) out.set(`${group}|${r.name}`, r.namespaced);
  }
  return out;
}

/** The audit policy: every request of `user` at Metadata level, nothing else. */
export function auditPolicy(user: string): string {
  return JSON.stringify({
    apiVersion: "audit.k8s.io/v1",
    kind: "Policy",
    omitStages: ["RequestReceived"],
    rules: [{ level: "Metadata", users: [user] }, { level: "None" }],
  });
}

interface AuditEvent {
  verb: string;
  requestURI: string;
  user?: { username?: string };
  objectRef?: {
    apiGroup?: string;
    apiVersion?: string;
    resource?: string;
    subresource?: string;
    namespace?: string;
    name?: string;
  };
  responseStatus?: { code?: number };
}

/** One audited resource request. */
export interface ResourceRequest {
  verb: string;
  /** `group/version`, or `version` for the core group. */
  apiVersion: string;
  group: string;
  /** `resource[/subresource]`. */
  resource: string;
  /** Unset for a cluster-scoped resource and for a list/watch across all namespaces. */
  namespace?: string;
  name?: string;
  code?: number;
}

export interface AuditSummary {
  /** Resource permissions `user` exercised (a server-side apply answered 201 counts as create too). */
  used: Set<Permission>;
  /** Requests refused with 403, as `verb requestURI`. */
  forbidden: string[];
  /** Every request as `verb namespace/resource/name` (for messages). */
  requests: string[];
  /** Every resource request, as the audit log describes it. */
  resourceRequests: ResourceRequest[];
}

/** Reads the audit log (JSON lines) and summarises the requests of `user`. */
export function summariseAudit(text: string, user: string): AuditSummary {
  const used = new Set<Permission>();
  const forbidden: string[] = [];
  const requests: string[] = [];
  const resourceRequests: ResourceRequest[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const ev = JSON.parse(line) as AuditEvent;
    if (ev.user?.username !== user) continue;
    const code = ev.responseStatus?.code;
    if (code === 403) forbidden.push(`${ev.verb} ${ev.requestURI}`);
    const ref = ev.objectRef;
    if (!ref?.resource) continue;
    const res = ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource;
    requests.push(`${ev.verb} ${ref.namespace ?? ""}/${res}/${ref.name ?? ""}`);
    const group = ref.apiGroup ?? "";
    resourceRequests.push({
      verb: ev.verb,
      apiVersion: group ? `${group}/${ref.apiVersion}` : `${ref.apiVersion}`,
      group,
      resource: res,
      ...(ref.namespace ? { namespace: ref.namespace } : {}),
      ...(ref.name ? { name: ref.name } : {}),
      ...(code !== undefined ? { code } : {}),
    });
    used.add(perm(ref.apiGroup ?? "", res, ev.verb));
    // An apply (PATCH) that creates the object is authorized for create as well.
    if (ev.verb === "patch" && code === 201) used.add(perm(ref.apiGroup ?? "", res, "create"));
  }
  return { used, forbidden, requests, resourceRequests };
}

/** Elements of `a` not in `b`, sorted. */
export function minus(a: Iterable<Permission>, b: Set<Permission>): Permission[] {
  return [...a].filter((x) => !b.has(x)).sort();
}

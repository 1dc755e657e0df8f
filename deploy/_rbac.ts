/**
 * RBAC bookkeeping for deploy/rbac_test.ts: permissions as `group|resource|verb` keys,
 * expanded from RBAC rules or collected from a kube-apiserver audit log.
 * @module
 */
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

/** The rules of the ClusterRole and Role that deploy/ binds to the operator's ServiceAccount. */
export function operatorRules(objs: Obj[]): { cluster: PolicyRule[]; lease: PolicyRule[] } {
  const rulesOf = (kind: string, name: string) =>
    (objs.find((o) => o.kind === kind && o.metadata.name === name)?.rules ?? []) as PolicyRule[];
  return {
    cluster: rulesOf("ClusterRole", "vmcp-controller"),
    lease: rulesOf("Role", "vmcp-controller-leader-election"),
  };
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
    resource?: string;
    subresource?: string;
    namespace?: string;
    name?: string;
  };
  responseStatus?: { code?: number };
}

export interface AuditSummary {
  /** Resource permissions `user` exercised (a server-side apply answered 201 counts as create too). */
  used: Set<Permission>;
  /** Requests refused with 403, as `verb requestURI`. */
  forbidden: string[];
  /** Every request as `verb namespace/resource/name` (for messages). */
  requests: string[];
}

/** Reads the audit log (JSON lines) and summarises the requests of `user`. */
export function summariseAudit(text: string, user: string): AuditSummary {
  const used = new Set<Permission>();
  const forbidden: string[] = [];
  const requests: string[] = [];
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
    used.add(perm(ref.apiGroup ?? "", res, ev.verb));
    // An apply (PATCH) that creates the object is authorized for create as well.
    if (ev.verb === "patch" && code === 201) used.add(perm(ref.apiGroup ?? "", res, "create"));
  }
  return { used, forbidden, requests };
}

/** Elements of `a` not in `b`, sorted. */
export function minus(a: Iterable<Permission>, b: Set<Permission>): Permission[] {
  return [...a].filter((x) => !b.has(x)).sort();
}

/**
 * The reconcile scenario of the RBAC tests (deploy/rbac_test.ts, rbac_namespaced_test.ts):
 * custom resources that exercise every grant of the operator, the operator process leading,
 * and the waits until it has reconciled all of it. The tests then read the audit log.
 * @module
 */
import { type KubeCluster, kubeRequest, startKubeCluster } from "../tests/harness/kube.ts";
import { freePort } from "../tests/harness/ports.ts";
import { until } from "../tests/harness/until.ts";
import type { ServiceProcess } from "../tests/harness/process.ts";
import { LEASE_NAME } from "../controller/main.ts";
import { CRD_API_VERSION } from "../controller/meta.ts";
import {
  type Obj,
  OPERATOR_NAMESPACE,
  OPERATOR_USER,
  operatorKubeconfig,
  startOperator,
} from "./_kubectl.ts";
import { auditPolicy } from "./_rbac.ts";

const GV = CRD_API_VERSION;
const RBAC = "rbac.authorization.k8s.io";

/** Polls `f` every 200 ms until it returns something truthy; throws after `ms`. */
/**
 * A private kube-apiserver that writes an audit log of the operator's requests to
 * `dir/audit.log` (the policy in `dir/policy.json`).
 */
export async function startAuditedCluster(dir: string): Promise<KubeCluster> {
  await Deno.writeTextFile(`${dir}/policy.json`, auditPolicy(OPERATOR_USER));
  return await startKubeCluster({
    apiServerArgs: [`--audit-policy-file=${dir}/policy.json`, `--audit-log-path=${dir}/audit.log`],
  });
}

export { until };

type Created = Record<string, unknown> & { kind: string; namespace?: string };

/** Creates and reads CRs (namespaced) and ClusterRoles/Bindings as the cluster admin. */
export function admin(cluster: KubeCluster) {
  const path = (o: { kind: string; namespace?: string }, plural: string, name = "") =>
    o.kind.startsWith("Cluster")
      ? `/apis/${RBAC}/v1/${plural}${name ? `/${name}` : ""}`
      : `/apis/${GV}/namespaces/${o.namespace}/${plural}${name ? `/${name}` : ""}`;
  return {
    create: (plural: string, o: Created) => {
      const { namespace, ...rest } = o;
      const apiVersion = o.kind.startsWith("Cluster") ? `${RBAC}/v1` : GV;
      const metadata = { ...(rest.metadata as object), ...(namespace ? { namespace } : {}) };
      return kubeRequest(cluster, "POST", path(o, plural), { apiVersion, ...rest, metadata });
    },
    get: (plural: string, o: { kind: string; namespace?: string }, name: string) =>
      kubeRequest(cluster, "GET", path(o, plural, name), undefined, {
        raw: true,
      }),
  };
}

/** Whether GET `path` answers 200 (as the cluster admin). */
export async function exists(cluster: KubeCluster, path: string): Promise<boolean> {
  return (await kubeRequest(cluster, "GET", path, undefined, { raw: true })).status === 200;
}

/**
 * A TokenReview ClusterRole left behind by VirtualMCPServer `<ownerNamespace>/old`, deleted
 * while no operator ran; returns its name (the orphan sweep must delete it).
 */
export async function createOrphanRbac(cluster: KubeCluster, ownerNamespace: string) {
  const name = `vmcp-${ownerNamespace}-old-tokenreview`;
  await admin(cluster).create("clusterroles", {
    kind: "ClusterRole",
    metadata: {
      name,
      labels: {
        "app.kubernetes.io/managed-by": "vmcp-controller",
        "vmcp.toolhive.stacklok.dev/owner-namespace": ownerNamespace,
        "vmcp.toolhive.stacklok.dev/owner-name": "old",
      },
    },
    rules: [],
  });
  return name;
}

/**
 * In `namespace`: MCPGroup g, MCPServers remote (URL) and img (image), a composite tool
 * definition and VirtualMCPServer v with Kubernetes incoming auth (so TokenReview RBAC).
 */
export async function createWorkload(cluster: KubeCluster, namespace: string): Promise<void> {
  const api = admin(cluster);
  const n = { namespace };
  await api.create("mcpgroups", { ...n, kind: "MCPGroup", metadata: { name: "g" }, spec: {} });
  await api.create("mcpservers", {
    ...n,
    kind: "MCPServer",
    metadata: { name: "remote" },
    spec: { groupRef: { name: "g" }, url: "http://127.0.0.1:9/mcp" },
  });
  await api.create("mcpservers", {
    ...n,
    kind: "MCPServer",
    metadata: { name: "img" },
    spec: { groupRef: { name: "g" }, image: "example.test/img:1", transport: "streamable-http" },
  });
  await api.create("virtualmcpcompositetooldefinitions", {
    ...n,
    kind: "VirtualMCPCompositeToolDefinition",
    metadata: { name: "def" },
    spec: { name: "def", description: "d", steps: [{ id: "a", tool: "remote.echo" }] },
  });
  await api.create("virtualmcpservers", {
    ...n,
    kind: "VirtualMCPServer",
    metadata: { name: "v" },
    spec: { groupRef: { name: "g" }, incomingAuth: { type: "kubernetes" } },
  });
}

type Lease = { metadata: { resourceVersion: string }; spec: { holderIdentity?: string } };

/** The leader-election Lease in vmcp-system. */
export const readLease = (cluster: KubeCluster): Promise<Lease> =>
  kubeRequest<Lease>(
    cluster,
    "GET",
    `/apis/coordination.k8s.io/v1/namespaces/${OPERATOR_NAMESPACE}/leases/${LEASE_NAME}`,
  );

/**
 * Starts the operator of `objs` (rendered manifests) as the ServiceAccount, pod
 * vmcp-controller-0, and waits until it is healthy, leads and is ready.
 */
export async function startLeadingOperator(
  cluster: KubeCluster,
  objs: Obj[],
  dir: string,
): Promise<ServiceProcess> {
  const { path: kubeconfig } = await operatorKubeconfig(cluster, dir);
  const port = freePort();
  const operator = startOperator(objs, {
    kubeconfig,
    pod: "vmcp-controller-0",
    metricsPort: port,
    logPath: `${dir}/operator.log`,
  });
  const probe = async (p: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${p}`);
    await res.body?.cancel();
    return res.status;
  };
  await until("/healthz 200", async () => (await probe("/healthz")) === 200);
  await until(
    "the pod to lead",
    async () => (await readLease(cluster)).spec.holderIdentity === "vmcp-controller-0",
  );
  await until("/readyz 200", async () => (await probe("/readyz")) === 200);
  return operator;
}

/**
 * Waits until the operator reconciled {@link createWorkload} in `namespace`: children,
 * TokenReview RBAC, statuses, an Event and the sweep of `orphan`; then switches v to
 * anonymous auth and waits for its TokenReview RBAC to go, and for a Lease renewal.
 */
export async function awaitReconciled(
  cluster: KubeCluster,
  namespace: string,
  orphan: string,
): Promise<void> {
  const api = admin(cluster);
  const has = (path: string) => exists(cluster, path);
  const nsPath = (g: string, plural: string, name: string) =>
    `${g === "" ? "/api/v1" : `/apis/${g}`}/namespaces/${namespace}/${plural}/${name}`;
  for (
    const p of [
      nsPath("apps/v1", "deployments", "v"),
      nsPath("", "services", "vmcp-v"),
      nsPath("", "configmaps", "v-vmcp-config"),
      nsPath("", "serviceaccounts", "v-vmcp"),
      nsPath(`${RBAC}/v1`, "roles", "v-vmcp"),
      nsPath(`${RBAC}/v1`, "rolebindings", "v-vmcp"),
      nsPath("apps/v1", "deployments", "mcp-img"),
      `/apis/${RBAC}/v1/clusterroles/vmcp-${namespace}-v-tokenreview`,
      `/apis/${RBAC}/v1/clusterrolebindings/vmcp-${namespace}-v-tokenreview`,
    ]
  ) await until(p, () => has(p));
  const statusOf = async (plural: string, name: string) =>
    JSON.parse((await api.get(plural, { kind: "x", namespace }, name)).body).status;
  await until(
    "VirtualMCPServer status",
    async () => (await statusOf("virtualmcpservers", "v"))?.phase,
  );
  await until("MCPGroup status", async () => (await statusOf("mcpgroups", "g"))?.phase);
  await until("MCPServer status", async () => (await statusOf("mcpservers", "img"))?.phase);
  await until(
    "definition status",
    async () => (await statusOf("virtualmcpcompositetooldefinitions", "def"))?.validationStatus,
  );
  await until(
    "an Event",
    async () => ((await kubeRequest<{ items: unknown[] }>(
      cluster,
      "GET",
      `/api/v1/namespaces/${namespace}/events`,
    ))
      .items.length > 0),
  );
  await until(
    "the orphan sweep",
    async () => !(await has(`/apis/${RBAC}/v1/clusterroles/${orphan}`)),
  );

  // Switching away from Kubernetes auth deletes the TokenReview RBAC.
  await kubeRequest(
    cluster,
    "PATCH",
    nsPath(GV, "virtualmcpservers", "v"),
    { spec: { incomingAuth: { type: "anonymous" } } },
    { contentType: "application/merge-patch+json" },
  );
  await until(
    "TokenReview RBAC deleted",
    async () => !(await has(`/apis/${RBAC}/v1/clusterroles/vmcp-${namespace}-v-tokenreview`)),
  );
  const rv = (await readLease(cluster)).metadata.resourceVersion;
  await until(
    "a Lease renewal",
    async () => (await readLease(cluster)).metadata.resourceVersion !== rv,
  );
}

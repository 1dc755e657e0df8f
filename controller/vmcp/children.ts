/**
 * Desired RBAC, ConfigMap and Service of a VirtualMCPServer, as plain objects ready for
 * server-side apply. The Deployment lives in deployment.ts.
 * @module
 */
import type { KubeObject } from "../runtime/kube.ts";
import {
  CONTENT_CHECKSUM_ANNOTATION,
  controllerRef,
  CRD_API_VERSION,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  OWNER_NAME_LABEL,
  OWNER_NAMESPACE_LABEL,
  VMCP_PORT,
  vmcpLabels,
  vmcpNames,
} from "../meta.ts";

/** The parent as the builders need it: read from the API server (uid set). */
export interface Parent extends KubeObject {
  metadata: { name: string; namespace: string; uid: string; [k: string]: unknown };
}

function meta(parent: Parent, name: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    namespace: parent.metadata.namespace,
    labels: vmcpLabels(parent.metadata.name),
    ownerReferences: [controllerRef(parent)],
    ...extra,
  };
}

/** ServiceAccount, Role and RoleBinding `<name>-vmcp`: the proxy may only read its own CR and write its status. */
export function buildRbac(parent: Parent): KubeObject[] {
  const { name } = parent.metadata;
  const n = vmcpNames(name, parent.metadata.namespace);
  const group = CRD_API_VERSION.split("/")[0]!;
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta(parent, n.serviceAccount) },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: meta(parent, n.role),
      rules: [
        {
          apiGroups: [group],
          resources: ["virtualmcpservers"],
          resourceNames: [name],
          verbs: ["get"],
        },
        {
          apiGroups: [group],
          resources: ["virtualmcpservers/status"],
          resourceNames: [name],
          verbs: ["patch", "update"],
        },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: meta(parent, n.roleBinding),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: n.role },
      subjects: [{
        kind: "ServiceAccount",
        name: n.serviceAccount,
        namespace: parent.metadata.namespace,
      }],
    },
  ];
}

/** Label selector of the cluster-scoped RBAC objects owned by one VirtualMCPServer. */
export function clusterRbacSelector(namespace: string, name: string): string {
  return `${OWNER_NAMESPACE_LABEL}=${namespace},${OWNER_NAME_LABEL}=${name}`;
}

/** Label selector of every cluster-scoped object the controller created. */
export const CLUSTER_RBAC_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY},${OWNER_NAME_LABEL}`;

/**
 * ClusterRole + ClusterRoleBinding `vmcp-<ns>-<name>-tokenreview` (create tokenreviews),
 * needed only for Kubernetes service-account incoming auth. Cluster-scoped objects cannot be
 * owned by a namespaced CR, so they carry owner labels and are deleted by label
 * (docs/adr/0002-cluster-scoped-rbac-cleanup.md).
 */
export function buildClusterRbac(parent: Parent): KubeObject[] {
  const { name, namespace } = parent.metadata;
  const n = vmcpNames(name, namespace);
  const labels = {
    ...vmcpLabels(name),
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [OWNER_NAMESPACE_LABEL]: namespace,
    [OWNER_NAME_LABEL]: name,
  };
  return [
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: n.clusterRbac, labels },
      rules: [{
        apiGroups: ["authentication.k8s.io"],
        resources: ["tokenreviews"],
        verbs: ["create"],
      }],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: n.clusterRbac, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: n.clusterRbac },
      subjects: [{ kind: "ServiceAccount", name: n.serviceAccount, namespace }],
    },
  ];
}

/** ConfigMap `<name>-vmcp-config` with `config.yaml` and its checksum annotation. */
export function buildConfigMap(parent: Parent, yaml: string, checksum: string): KubeObject {
  const n = vmcpNames(parent.metadata.name, parent.metadata.namespace);
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: meta(parent, n.configMap, {
      annotations: { [CONTENT_CHECKSUM_ANNOTATION]: checksum },
    }),
    data: { "config.yaml": yaml },
  };
}

/** Service `vmcp-<name>`: port 4483 named http, type from `spec.serviceType`. */
export function buildService(parent: Parent, serviceType: string): KubeObject {
  const n = vmcpNames(parent.metadata.name, parent.metadata.namespace);
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(parent, n.service),
    spec: {
      type: serviceType,
      selector: vmcpLabels(parent.metadata.name),
      ports: [{ name: "http", port: VMCP_PORT, targetPort: "http", protocol: "TCP" }],
    },
  };
}

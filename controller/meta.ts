/**
 * Names, labels, owner references and constants shared by every vmcp reconciler. Child
 * names are deterministic functions of the parent's name, so a reconcile never has to
 * remember what it created.
 * @module
 */
import { CONTROLLER_FIELD_MANAGER, GROUP_VERSION, PROXY_FIELD_MANAGER } from "../crds/common.ts";
import type { KubeObject } from "./runtime/kube.ts";

/** The one server-side-apply field manager of the controller (objects and status). */
export const FIELD_MANAGER = CONTROLLER_FIELD_MANAGER;
/** The field manager the proxy uses for `status.discoveredBackends` (never the controller's). */
export { PROXY_FIELD_MANAGER };
/** The port of the proxy container and its Service. */
export const VMCP_PORT = 4483;
/** Default image of proxy Deployments (the operator option `proxyImage` overrides it). */
export const DEFAULT_PROXY_IMAGE = "ghcr.io/vmcp/vmcp:latest";
/** ConfigMap annotation: sha256 of `config.yaml`. */
export const CONTENT_CHECKSUM_ANNOTATION = "toolhive.stacklok.dev/content-checksum";
/** Pod-template annotation: the config checksum; a change rolls the pods. */
export const POD_CONFIG_CHECKSUM_ANNOTATION = "toolhive.stacklok.dev/runconfig-checksum";
/** Labels on cluster-scoped children, which cannot carry an ownerReference to a namespaced CR. */
export const OWNER_NAMESPACE_LABEL = "vmcp.toolhive.stacklok.dev/owner-namespace";
export const OWNER_NAME_LABEL = "vmcp.toolhive.stacklok.dev/owner-name";
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "vmcp-controller";

export const CRD_API_VERSION = GROUP_VERSION;
export const KIND = {
  VirtualMCPServer: "VirtualMCPServer",
  MCPGroup: "MCPGroup",
  MCPServer: "MCPServer",
  MCPExternalAuthConfig: "MCPExternalAuthConfig",
  CompositeToolDefinition: "VirtualMCPCompositeToolDefinition",
} as const;

/** Names of the children of VirtualMCPServer `name` in namespace `namespace`. */
export function vmcpNames(name: string, namespace: string) {
  return {
    deployment: name,
    service: `vmcp-${name}`,
    configMap: `${name}-vmcp-config`,
    serviceAccount: `${name}-vmcp`,
    role: `${name}-vmcp`,
    roleBinding: `${name}-vmcp`,
    clusterRbac: `vmcp-${namespace}-${name}-tokenreview`,
  };
}

/** Client URL of a VirtualMCPServer (clients append `/mcp`). */
export function vmcpUrl(name: string, namespace: string): string {
  return `http://vmcp-${name}.${namespace}.svc.cluster.local:${VMCP_PORT}`;
}

/** Labels of the proxy Deployment, its pods (selector) and Service selector. */
export function vmcpLabels(name: string): Record<string, string> {
  return {
    app: "virtualmcpserver",
    "app.kubernetes.io/name": "virtualmcpserver",
    "app.kubernetes.io/instance": name,
    toolhive: "true",
    "toolhive-name": name,
  };
}

/** Name of the Deployment and Service of an image MCPServer. */
export function mcpServerWorkloadName(name: string): string {
  return `mcp-${name}`;
}

/** Labels of an image MCPServer's Deployment, pods and Service selector. */
export function mcpServerLabels(name: string): Record<string, string> {
  return {
    app: "mcpserver",
    "app.kubernetes.io/name": "mcpserver",
    "app.kubernetes.io/instance": name,
    toolhive: "true",
    "toolhive-name": name,
  };
}

/** A controller ownerReference to `owner` (which must have been read from the API server). */
export function controllerRef(owner: KubeObject) {
  const m = owner.metadata ?? {};
  if (!owner.apiVersion || !owner.kind || !m.name || !m.uid) {
    throw new TypeError(
      `Cannot build an ownerReference: owner apiVersion "${owner.apiVersion}", kind "${owner.kind}", name "${m.name}" and uid "${m.uid}" are all required`,
    );
  }
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: m.name,
    uid: m.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** `namespace/name` work-queue key of an object. */
export function keyOf(obj: KubeObject): string {
  return `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`;
}

/** Splits a `namespace/name` key. */
export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf("/");
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

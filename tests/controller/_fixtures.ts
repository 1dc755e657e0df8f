/**
 * Objects and one-shot reconcile helpers for the controller integration tests.
 */
import assert from "node:assert/strict";
import YAML from "yaml";
import { validateConfig } from "../../core/config/load.ts";
import { silentLogger } from "../../core/log.ts";
import { systemClock } from "../../core/clock.ts";
import type { KubeClient, KubeObject } from "../../controller/runtime/kube.ts";
import { apiView } from "../../controller/view.ts";
import { reconcileVirtualMCPServer } from "../../controller/vmcp/reconcile.ts";
import { reconcileMCPGroup } from "../../controller/mcpgroup/reconcile.ts";
import { GV } from "./_setup.ts";

export function group(ns: string, name: string): KubeObject {
  return {
    apiVersion: GV,
    kind: "MCPGroup",
    metadata: { name, namespace: ns },
    spec: { description: "test" },
  };
}

export function urlServer(
  ns: string,
  name: string,
  groupName: string,
  extra: Record<string, unknown> = {},
): KubeObject {
  return {
    apiVersion: GV,
    kind: "MCPServer",
    metadata: { name, namespace: ns },
    spec: { groupRef: { name: groupName }, url: `http://${name}.example.test:8080/mcp`, ...extra },
  };
}

export function imageServer(
  ns: string,
  name: string,
  groupName: string,
  transport = "stdio",
): KubeObject {
  return {
    apiVersion: GV,
    kind: "MCPServer",
    metadata: { name, namespace: ns },
    spec: {
      groupRef: { name: groupName },
      image: `example.test/${name}:1`,
      transport,
      args: ["--x"],
    },
  };
}

export function vmcp(ns: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: GV, kind: "VirtualMCPServer", metadata: { name, namespace: ns }, spec };
}

/** One reconcile pass of the VirtualMCPServer, reading straight from the API server. */
export function reconcileOnce(kube: KubeClient, ns: string, name: string, proxyImage?: string) {
  return reconcileVirtualMCPServer(
    { kube, view: apiView(kube), clock: systemClock, logger: silentLogger, proxyImage },
    `${ns}/${name}`,
  );
}

export function reconcileGroupOnce(kube: KubeClient, ns: string, name: string) {
  return reconcileMCPGroup(
    { kube, view: apiView(kube), clock: systemClock, logger: silentLogger },
    `${ns}/${name}`,
  );
}

/** Creates objects with the controller's client (not a field manager the controller uses). */
export async function createAll(kube: KubeClient, objs: KubeObject[]): Promise<void> {
  for (const o of objs) await kube.create(o);
}

export interface VmcpStatusView {
  phase?: string;
  message?: string;
  url?: string;
  backendCount?: number;
  observedGeneration?: number;
  conditions?: {
    type: string;
    status: string;
    reason: string;
    message?: string;
    lastTransitionTime: string;
    observedGeneration?: number;
  }[];
  discoveredBackends?: { name: string; status: string }[];
}

export async function getVmcp(kube: KubeClient, ns: string, name: string) {
  return await kube.get<KubeObject & { status?: VmcpStatusView }>(GV, "VirtualMCPServer", ns, name);
}

export function condition(status: VmcpStatusView | undefined, type: string) {
  return status?.conditions?.find((c) => c.type === type);
}

/** Marks a Deployment available, as the deployment controller + kubelet would. */
export async function markDeploymentAvailable(
  kube: KubeClient,
  ns: string,
  name: string,
): Promise<void> {
  await kube.patchStatus({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns },
  }, {
    status: {
      replicas: 1,
      readyReplicas: 1,
      availableReplicas: 1,
      updatedReplicas: 1,
      conditions: [{
        type: "Available",
        status: "True",
        reason: "MinimumReplicasAvailable",
        message: "test",
        lastUpdateTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      }],
    },
  });
}

/** Writes `discoveredBackends` as the proxy does: SSA on status with its own field manager. */
export async function reportBackends(
  kube: KubeClient,
  ns: string,
  name: string,
  backends: { name: string; status: string; message?: string }[],
): Promise<void> {
  await kube.applyStatus({
    apiVersion: GV,
    kind: "VirtualMCPServer",
    metadata: { name, namespace: ns },
    status: { discoveredBackends: backends },
  }, { fieldManager: "vmcp-proxy", force: true });
}

/** A Secret with `data` base64-encoded. */
export function secret(ns: string, name: string, data: Record<string, string>): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: ns },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, btoa(v)])),
  } as KubeObject;
}

/**
 * The proxy config the controller rendered for VirtualMCPServer `name` (parsed as the proxy
 * reads it, and required to validate), or undefined while its ConfigMap does not exist.
 */
export async function renderedConfig(kube: KubeClient, ns: string, name: string) {
  const cm = await kube.get<KubeObject & { data: Record<string, string> }>(
    "v1",
    "ConfigMap",
    ns,
    `${name}-vmcp-config`,
  );
  if (!cm) return undefined;
  const text = cm.data["config.yaml"]!;
  const { config, problems } = validateConfig(YAML.parse(text, { version: "1.1" }), {
    standalone: false,
  });
  assert.deepEqual(problems, []);
  return { config: config!, text };
}

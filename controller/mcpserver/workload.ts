/**
 * Deployment and Service `mcp-<name>` of an image MCPServer.
 *
 * HTTP images run as they are. A stdio image runs behind vmcp's own stdio bridge: an init
 * container (the vmcp image, distroless: no shell, no `cp`) runs `vmcp copy-binary
 * /vmcp-bin/vmcp` to copy the vmcp binary into a shared emptyDir, and the server
 * container starts `/vmcp-bin/vmcp --mode=proxy --stdio-bridge --host=0.0.0.0 --port=<port>
 * -- <spec.args…>`. The bridge replaces the image's entrypoint, so for stdio servers
 * `spec.args` must hold the full command (e.g. `[node, /app/server.js]`). The vmcp binary is
 * self-contained (deno compile) but needs a glibc-based server image.
 * @module
 */
import type { MCPServerSpec } from "../../crds/backends.ts";
import type { Problem } from "../../core/config/problems.ts";
import type { KubeObject } from "../runtime/kube.ts";
import { controllerRef, mcpServerLabels, mcpServerWorkloadName } from "../meta.ts";
import { mcpServerPort } from "./backend.ts";

/** Where the vmcp binary lives in the vmcp image. */
export const VMCP_BINARY_PATH = "/usr/local/bin/vmcp";
/** Where the init container puts it for the bridge. */
export const BRIDGE_DIR = "/vmcp-bin";

/** Problems that prevent building a workload (user errors, named by field). */
export function checkWorkload(spec: MCPServerSpec): Problem[] {
  if (spec.image && spec.transport === "stdio" && !(spec.args?.length)) {
    return [{
      path: "spec.args",
      message:
        "Required for a stdio image: the command the stdio bridge runs (the image entrypoint is replaced)",
    }];
  }
  return [];
}

/** The Deployment and Service of an image server; `bridgeImage` is the vmcp image. */
export function buildServerWorkload(
  owner: KubeObject,
  spec: MCPServerSpec,
  bridgeImage: string,
): KubeObject[] {
  const name = owner.metadata!.name!;
  const namespace = owner.metadata!.namespace!;
  const wname = mcpServerWorkloadName(name);
  const labels = mcpServerLabels(name);
  const port = mcpServerPort(spec);
  const env = (spec.env ?? []).map((e) => ({ name: e.name, value: e.value ?? "" }));
  const stdio = spec.transport === "stdio";
  const container: Record<string, unknown> = {
    name: "mcp",
    image: spec.image,
    ports: [{ name: "http", containerPort: port, protocol: "TCP" }],
    env,
  };
  const podSpec: Record<string, unknown> = { containers: [container] };
  if (stdio) {
    container.command = [`${BRIDGE_DIR}/vmcp`];
    container.args = [
      "--mode=proxy",
      "--stdio-bridge",
      "--host=0.0.0.0",
      `--port=${port}`,
      "--",
      ...(spec.args ?? []),
    ];
    container.volumeMounts = [{ name: "vmcp-bin", mountPath: BRIDGE_DIR, readOnly: true }];
    container.readinessProbe = { tcpSocket: { port: "http" }, periodSeconds: 5 };
    podSpec.initContainers = [{
      name: "vmcp-bridge-init",
      image: bridgeImage,
      // The vmcp image is distroless (no `cp`): the binary copies itself.
      command: [VMCP_BINARY_PATH, "copy-binary", `${BRIDGE_DIR}/vmcp`],
      volumeMounts: [{ name: "vmcp-bin", mountPath: BRIDGE_DIR }],
    }];
    podSpec.volumes = [{ name: "vmcp-bin", emptyDir: {} }];
  } else {
    if (spec.args?.length) container.args = spec.args;
    container.readinessProbe = { tcpSocket: { port: "http" }, periodSeconds: 5 };
  }
  const meta = { name: wname, namespace, labels, ownerReferences: [controllerRef(owner)] };
  return [
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: meta,
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: podSpec },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: meta,
      spec: {
        selector: labels,
        ports: [{ name: "http", port, targetPort: "http", protocol: "TCP" }],
      },
    },
  ];
}

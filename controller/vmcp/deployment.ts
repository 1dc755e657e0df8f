/**
 * The proxy Deployment `<name>` of a VirtualMCPServer.
 * @module
 */
import type { KubeObject } from "../runtime/kube.ts";
import {
  controllerRef,
  POD_CONFIG_CHECKSUM_ANNOTATION,
  VMCP_PORT,
  vmcpLabels,
  vmcpNames,
} from "../meta.ts";
import type { Parent } from "./children.ts";
import { merge } from "./pod_template.ts";
import type { SecretEnvVar } from "./secret_env.ts";

export const CONFIG_MOUNT_PATH = "/etc/vmcp-config";

export interface DeploymentInput {
  parent: Parent;
  image: string;
  /** sha256 of config.yaml; a pod-template annotation, so a change rolls the pods. */
  configChecksum: string;
  secretEnv: readonly SecretEnvVar[];
  /** Unset: the field is not managed (an autoscaler may own it; 1 on creation). */
  replicas?: number | undefined;
  /** Already checked with `checkPodTemplateSpec`. */
  podTemplateSpec?: Record<string, unknown> | undefined;
  logLevel?: string | undefined;
}

/** Builds the Deployment; `podTemplateSpec` is merged over the generated template. */
export function buildDeployment(input: DeploymentInput): KubeObject {
  const { name, namespace } = input.parent.metadata;
  const n = vmcpNames(name, namespace);
  const labels = vmcpLabels(name);
  const args = [
    "--mode=proxy",
    `--config=${CONFIG_MOUNT_PATH}/config.yaml`,
    "--host=0.0.0.0",
    `--port=${VMCP_PORT}`,
  ];
  if (input.logLevel) args.push(`--log-level=${input.logLevel}`);
  const env: Record<string, unknown>[] = [
    { name: "VMCP_NAME", value: name },
    { name: "VMCP_NAMESPACE", value: namespace },
    ...input.secretEnv.map((v) => ({
      name: v.name,
      valueFrom: { secretKeyRef: { name: v.secretRef.name, key: v.secretRef.key } },
    })),
  ];
  const generated = {
    metadata: { labels, annotations: { [POD_CONFIG_CHECKSUM_ANNOTATION]: input.configChecksum } },
    spec: {
      serviceAccountName: n.serviceAccount,
      terminationGracePeriodSeconds: 30,
      containers: [{
        name: "vmcp",
        image: input.image,
        args,
        ports: [{ name: "http", containerPort: VMCP_PORT, protocol: "TCP" }],
        env,
        livenessProbe: {
          httpGet: { path: "/healthz", port: "http" },
          initialDelaySeconds: 10,
          periodSeconds: 10,
          timeoutSeconds: 5,
          failureThreshold: 3,
        },
        readinessProbe: {
          httpGet: { path: "/readyz", port: "http" },
          initialDelaySeconds: 2,
          periodSeconds: 5,
          timeoutSeconds: 3,
          failureThreshold: 3,
        },
        resources: {
          requests: { cpu: "100m", memory: "128Mi" },
          limits: { cpu: "500m", memory: "512Mi" },
        },
        volumeMounts: [{ name: "vmcp-config", mountPath: CONFIG_MOUNT_PATH, readOnly: true }],
      }],
      volumes: [{ name: "vmcp-config", configMap: { name: n.configMap } }],
    },
  };
  const template = merge(generated, input.podTemplateSpec) as {
    metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
    spec: Record<string, unknown>;
  };
  // Selector labels and the checksum stay ours whatever the podTemplateSpec says.
  template.metadata.labels = { ...template.metadata.labels, ...labels };
  template.metadata.annotations = {
    ...template.metadata.annotations,
    [POD_CONFIG_CHECKSUM_ANNOTATION]: input.configChecksum,
  };
  const spec: Record<string, unknown> = { selector: { matchLabels: labels }, template };
  if (input.replicas !== undefined) spec.replicas = input.replicas;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: n.deployment,
      namespace,
      labels,
      ownerReferences: [controllerRef(input.parent)],
    },
    spec,
  };
}

/** Whether an observed Deployment is rolled out and has an available replica. */
export function deploymentAvailable(d: KubeObject | undefined): boolean {
  if (!d) return false;
  const status = (d.status ?? {}) as {
    conditions?: { type: string; status: string }[];
    availableReplicas?: number;
  };
  const cond = status.conditions?.find((c) => c.type === "Available");
  return cond?.status === "True" && (status.availableReplicas ?? 0) > 0;
}

import assert from "node:assert/strict";
import { configMapTrimmed } from "./informer.ts";
import type { KubeObject } from "./kube_types.ts";

Deno.test("configMapTrimmed keeps identity, labels, owners, other annotations and data, and drops managed fields, kubectl's last-applied copy and binaryData", () => {
  const big = "x".repeat(10_000);
  const kept = configMapTrimmed({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: "oidc",
      namespace: "n",
      uid: "u",
      resourceVersion: "7",
      labels: { a: "b" },
      ownerReferences: [{ kind: "VirtualMCPServer", name: "v" }],
      annotations: { "kubectl.kubernetes.io/last-applied-configuration": big, keep: "me" },
      managedFields: [{ manager: "kubectl", fieldsV1: { big } }],
    },
    data: { "oidc.json": '{"issuer":"https://issuer"}' },
    binaryData: { blob: big },
  } as unknown as KubeObject);
  assert.deepEqual(kept, {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: "oidc",
      namespace: "n",
      uid: "u",
      resourceVersion: "7",
      labels: { a: "b" },
      ownerReferences: [{ kind: "VirtualMCPServer", name: "v" }],
      annotations: { keep: "me" },
    },
    data: { "oidc.json": '{"issuer":"https://issuer"}' },
  });
  const onlyLastApplied = configMapTrimmed({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: "c",
      annotations: { "kubectl.kubernetes.io/last-applied-configuration": big },
    },
  } as unknown as KubeObject);
  assert.deepEqual(onlyLastApplied, {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "c" },
  });
});

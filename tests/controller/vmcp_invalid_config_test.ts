/**
 * Issue #15 on a real kube-apiserver: a VirtualMCPServer the API server stores (its duration
 * matches the CRD pattern) but whose value is outside the field's range becomes phase Failed
 * with Ready InvalidConfiguration naming the field and value, and nothing is deployed; a
 * mistyped composite-step field is refused by the API server under strict field validation
 * (what `kubectl apply` uses), naming the field.
 */
import assert from "node:assert/strict";
import { createTestNamespace, getTestCluster, kubeRequest } from "../harness/kube.ts";
import { installCrds, testClient } from "./_setup.ts";
import {
  condition,
  createAll,
  getVmcp,
  group,
  reconcileGroupOnce,
  reconcileOnce,
  urlServer,
  vmcp,
} from "./_fixtures.ts";

const cluster = await getTestCluster();
await installCrds(cluster);

Deno.test("A VirtualMCPServer with operational.timeouts.default 597h is Failed with Ready InvalidConfiguration naming the field, the value and the range", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-invalid");
  const kube = testClient(cluster);
  await createAll(kube, [
    group(ns.name, "g"),
    urlServer(ns.name, "one", "g"),
    vmcp(ns.name, "v", {
      groupRef: { name: "g" },
      operational: { timeouts: { default: "597h" } },
    }),
  ]);
  await reconcileGroupOnce(kube, ns.name, "g");
  await reconcileOnce(kube, ns.name, "v", "example.test/vmcp:dev");
  const cr = await getVmcp(kube, ns.name, "v");
  assert.equal(cr?.status?.phase, "Failed", JSON.stringify(cr?.status));
  const ready = condition(cr?.status, "Ready");
  assert.equal(ready?.status, "False");
  assert.equal(ready?.reason, "InvalidConfiguration");
  const valid = condition(cr?.status, "Valid");
  assert.equal(valid?.status, "False");
  assert.match(valid?.message ?? "", /spec\.operational\.timeouts\.default/);
  assert.match(valid?.message ?? "", /100ms to 24h/);
  assert.match(valid?.message ?? "", /597h/);
  const deployment = await kube.get("apps/v1", "Deployment", ns.name, "v");
  assert.equal(deployment, undefined, "no Deployment for an invalid configuration");
});

Deno.test("The API server refuses a composite step with the typo dependson under strict field validation, naming the field", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-strict");
  const r = await kubeRequest(
    cluster,
    "POST",
    `/apis/toolhive.stacklok.dev/v1alpha1/namespaces/${ns.name}/virtualmcpcompositetooldefinitions?fieldValidation=Strict`,
    {
      apiVersion: "toolhive.stacklok.dev/v1alpha1",
      kind: "VirtualMCPCompositeToolDefinition",
      metadata: { name: "wf" },
      spec: {
        name: "wf",
        description: "d",
        steps: [{ id: "a", tool: "one.x" }, { id: "b", tool: "one.y", dependson: ["a"] }],
      },
    },
    { raw: true },
  );
  assert.notEqual(r.status, 201, r.body);
  assert.match(r.body, /dependson/);
});

/**
 * The requestState key (ADR 0010 §4) against a real kube-apiserver: several replicas without a
 * key get the RequestStateKeyMissing condition; `operational.inputRequired.stateKeyRef` and
 * `previousStateKeyRef` reach the proxy container as env from the Secret, never through the
 * ConfigMap.
 */
import assert from "node:assert/strict";
import { createTestNamespace, getTestCluster } from "../harness/kube.ts";
import type { KubeObject } from "../../controller/runtime/kube.ts";
import { installCrds, testClient } from "./_setup.ts";
import {
  condition,
  createAll,
  getVmcp,
  group,
  reconcileGroupOnce,
  reconcileOnce,
  renderedConfig,
  secret,
  urlServer,
  vmcp,
} from "./_fixtures.ts";

const cluster = await getTestCluster();
await installCrds(cluster);

// deno-lint-ignore no-explicit-any
type Obj = KubeObject & Record<string, any>;

Deno.test("replicas > 1 without a requestState key is RequestStateKeyMissing; with stateKeyRef the key reaches the pod as env from the Secret", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-state-key");
  const kube = testClient(cluster);
  await createAll(kube, [
    group(ns.name, "g"),
    urlServer(ns.name, "github", "g"),
    secret(ns.name, "mrtr", { current: "c".repeat(48), previous: "p".repeat(48) }),
    vmcp(ns.name, "v", { groupRef: { name: "g" }, replicas: 2 }),
  ]);
  await reconcileGroupOnce(kube, ns.name, "g");
  await reconcileOnce(kube, ns.name, "v", "example.test/vmcp:dev");
  const missing = condition((await getVmcp(kube, ns.name, "v"))!.status, "RequestStateKeyMissing");
  assert.deepEqual(
    [missing?.status, missing?.reason],
    ["True", "RequestStateKeyMissingForReplicas"],
  );
  assert.match(missing!.message!, /stateKeyRef is not set/);

  const cr = (await getVmcp(kube, ns.name, "v"))!;
  await kube.replace({
    ...cr,
    spec: {
      ...(cr as Obj).spec,
      operational: {
        inputRequired: {
          timeout: "2m",
          stateKeyRef: { name: "mrtr", key: "current" },
          previousStateKeyRef: { name: "mrtr", key: "previous" },
        },
      },
    },
  } as KubeObject);
  await reconcileOnce(kube, ns.name, "v", "example.test/vmcp:dev");
  const after = (await getVmcp(kube, ns.name, "v"))!.status;
  assert.equal(condition(after, "RequestStateKeyMissing")?.status, "False");
  assert.equal(after?.phase === "Failed", false, JSON.stringify(after?.conditions));

  const d = await kube.get<Obj>("apps/v1", "Deployment", ns.name, "v");
  const env = d!.spec.template.spec.containers[0].env as Obj[];
  const byName = (n: string) => env.find((e) => e.name === n);
  assert.deepEqual(byName("VMCP_REQUEST_STATE_KEY")?.valueFrom, {
    secretKeyRef: { name: "mrtr", key: "current" },
  });
  assert.deepEqual(byName("VMCP_REQUEST_STATE_KEY_PREVIOUS")?.valueFrom, {
    secretKeyRef: { name: "mrtr", key: "previous" },
  });
  const rendered = await renderedConfig(kube, ns.name, "v");
  assert.equal(rendered?.config.operational?.inputRequired?.timeout, "2m");
  assert.equal(rendered?.text.includes("mrtr"), false, "no Secret name in the ConfigMap");
});

Deno.test("a stateKeyRef naming a missing Secret key is reported by field", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-state-key-missing");
  const kube = testClient(cluster);
  await createAll(kube, [
    group(ns.name, "g"),
    urlServer(ns.name, "github", "g"),
    secret(ns.name, "mrtr", { other: "x".repeat(40) }),
    vmcp(ns.name, "v", {
      groupRef: { name: "g" },
      operational: { inputRequired: { stateKeyRef: { name: "mrtr", key: "current" } } },
    }),
  ]);
  await reconcileGroupOnce(kube, ns.name, "g");
  await reconcileOnce(kube, ns.name, "v", "example.test/vmcp:dev");
  const status = (await getVmcp(kube, ns.name, "v"))!.status;
  const text = JSON.stringify(status?.conditions);
  assert.match(text, /VMCP_REQUEST_STATE_KEY/);
  assert.match(text, /Secret \\"mrtr\\" has no key \\"current\\"/);
});

/**
 * `incomingAuth.authzConfig` on a real kube-apiserver: inline policies that Cedar cannot parse
 * make `AuthConfigured` False naming the policy, line and column; policies in a ConfigMap
 * (ToolHive's authz.json) are rendered inline; with the running manager a change of the
 * ConfigMap re-renders the proxy config WITHOUT changing the pod template's checksum (the proxy
 * reloads the policies from its mounted config, so sessions are not dropped).
 */
import assert from "node:assert/strict";
import { createTestNamespace, getTestCluster } from "../harness/kube.ts";
import type { KubeClient, KubeObject } from "../../controller/runtime/kube.ts";
import { eventually, installCrds, testClient } from "./_setup.ts";
import {
  condition,
  createAll,
  getVmcp,
  group,
  reconcileGroupOnce,
  reconcileOnce,
  renderedConfig,
  urlServer,
  vmcp,
} from "./_fixtures.ts";
import { startManager } from "./_manager.ts";

const cluster = await getTestCluster();
await installCrds(cluster);

// deno-lint-ignore no-explicit-any
type Obj = KubeObject & Record<string, any>;

const authzFile = (policies: string[]) =>
  JSON.stringify({ version: "1.0", type: "cedarv1", cedar: { policies, entities_json: "[]" } });
const permitEcho = 'permit(principal, action == Action::"call_tool", resource == Tool::"a_echo");';
const permitAdd = 'permit(principal, action == Action::"call_tool", resource == Tool::"a_add");';

function policiesConfigMap(ns: string, data: Record<string, string>): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "policies", namespace: ns },
    data,
  } as KubeObject;
}

const configMapAuthz = {
  type: "anonymous",
  authzConfig: { type: "configMap", configMap: { name: "policies" } },
};

async function auth(kube: KubeClient, ns: string) {
  return condition((await getVmcp(kube, ns, "v"))!.status, "AuthConfigured");
}

Deno.test("authz: a bad inline policy or a missing/bad ConfigMap sets AuthConfigured False saying where and why (AuthInvalid, AuthzConfigMapNotFound, AuthzConfigMapInvalid)", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-authz");
  const kube = testClient(cluster);
  await createAll(kube, [
    group(ns.name, "g"),
    urlServer(ns.name, "a", "g"),
    vmcp(ns.name, "v", {
      groupRef: { name: "g" },
      incomingAuth: {
        type: "anonymous",
        authzConfig: {
          type: "inline",
          inline: { policies: [permitEcho, "permit(principal,\n action resource);"] },
        },
      },
    }),
  ]);
  await reconcileGroupOnce(kube, ns.name, "g");
  await reconcileOnce(kube, ns.name, "v");
  let a = await auth(kube, ns.name);
  assert.equal(a?.status, "False");
  assert.equal(a?.reason, "AuthInvalid");
  assert.match(
    a!.message!,
    /authzConfig\.inline\.policies\[1\]: Invalid Cedar policy 1: line 2, column 9/,
  );

  await kube.patch(
    {
      apiVersion: "toolhive.stacklok.dev/v1alpha1",
      kind: "VirtualMCPServer",
      metadata: { name: "v", namespace: ns.name },
    },
    { spec: { incomingAuth: configMapAuthz } },
  );
  await reconcileOnce(kube, ns.name, "v");
  a = await auth(kube, ns.name);
  assert.equal(a?.status, "False");
  assert.equal(a?.reason, "AuthzConfigMapNotFound");
  assert.match(a!.message!, /authzConfig\.configMap\.name: ConfigMap "policies" not found/);

  // The ConfigMap exists but lacks the key: its payload is at fault.
  await createAll(kube, [policiesConfigMap(ns.name, { "other.json": "{}" })]);
  await reconcileOnce(kube, ns.name, "v");
  a = await auth(kube, ns.name);
  assert.equal(a?.reason, "AuthzConfigMapInvalid");
  assert.match(a!.message!, /ConfigMap "policies" has no key "authz\.json"/);

  await kube.patch(
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "policies", namespace: ns.name } },
    { data: { "authz.json": authzFile(["permit(principal"]) } },
  );
  await reconcileOnce(kube, ns.name, "v");
  a = await auth(kube, ns.name);
  assert.equal(a?.status, "False");
  assert.equal(a?.reason, "AuthzConfigMapInvalid");
  assert.match(
    a!.message!,
    /ConfigMap policies key authz\.json: cedar\.policies\[0\]: Invalid Cedar policy 0: line 1/,
  );

  // ToolHive's group options in the file are rendered inline with the policies.
  const file = JSON.parse(authzFile([permitEcho]));
  file.cedar.group_claim_name = "realm_access.roles";
  file.cedar.group_entity_type = "Group";
  await kube.patch(
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "policies", namespace: ns.name } },
    { data: { "authz.json": JSON.stringify(file) } },
  );
  await reconcileOnce(kube, ns.name, "v");
  assert.equal((await auth(kube, ns.name))?.status, "True");
  const inline = (await renderedConfig(kube, ns.name, "v"))?.config.incomingAuth?.authzConfig
    ?.inline;
  assert.deepEqual(inline?.policies, [permitEcho]);
  assert.equal(inline?.groupClaimName, "realm_access.roles");
  assert.equal(inline?.groupEntityType, "Group");
});

Deno.test({
  name:
    "authz: with the controller running, a policy ConfigMap change re-renders the config without rolling the pods",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using ns = await createTestNamespace(cluster, "vmcp-authz-watch");
    const kube = testClient(cluster);
    await createAll(kube, [
      group(ns.name, "g"),
      urlServer(ns.name, "a", "g"),
      policiesConfigMap(ns.name, { "authz.json": authzFile([permitEcho]) }),
      vmcp(ns.name, "v", { groupRef: { name: "g" }, incomingAuth: configMapAuthz }),
    ]);
    const policies = async () =>
      (await renderedConfig(kube, ns.name, "v"))?.config.incomingAuth?.authzConfig?.inline
        ?.policies;
    const checksum = async () =>
      (await kube.get<Obj>("apps/v1", "Deployment", ns.name, "v"))?.spec.template.metadata
        .annotations["toolhive.stacklok.dev/runconfig-checksum"];
    {
      await using _m = await startManager(kube, ns.name);
      await eventually(
        "the first policies rendered",
        async () => JSON.stringify(await policies()) === JSON.stringify([permitEcho]),
      );
      await eventually("the Deployment exists", async () => (await checksum()) !== undefined);
      await kube.patch(
        { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "policies", namespace: ns.name } },
        { data: { "authz.json": authzFile([permitEcho, permitAdd]) } },
      );
      await eventually(
        "the changed policies rendered (the ConfigMap is watched)",
        async () => JSON.stringify(await policies()) === JSON.stringify([permitEcho, permitAdd]),
      );
    }
    // One more complete pass (children applied when it returns): the pod template still has
    // the checksum of the config without the policies, i.e. the same as for the first policies.
    const before = await checksum();
    await kube.patch(
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "policies", namespace: ns.name } },
      { data: { "authz.json": authzFile([permitAdd]) } },
    );
    await reconcileOnce(kube, ns.name, "v");
    assert.equal(JSON.stringify(await policies()), JSON.stringify([permitAdd]));
    assert.equal(await checksum(), before, "a policy change does not roll the pods");
    assert.equal((await auth(kube, ns.name))?.status, "True");
  },
});

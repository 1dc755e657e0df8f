/**
 * `incomingAuth.oidcConfig.type: configMap` on a real kube-apiserver: the controller reads the
 * OIDC settings from the ConfigMap and renders them inline (the client secret stays a
 * secretKeyRef), reports a missing ConfigMap, key, invalid or plain-text-secret content by
 * name, and — with the running manager — re-renders when the ConfigMap changes.
 */
import assert from "node:assert/strict";
import YAML from "yaml";
import { createTestNamespace, getTestCluster } from "../harness/kube.ts";
import type { KubeClient, KubeObject } from "../../controller/runtime/kube.ts";
import { parseConfig } from "../../core/config/load.ts";
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

const configMapAuth = {
  type: "oidc",
  oidcConfig: { type: "configMap", configMap: { name: "oidc" } },
};

function oidcConfigMap(ns: string, data: Record<string, string>): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "oidc", namespace: ns },
    data,
  } as KubeObject;
}

async function setData(kube: KubeClient, ns: string, data: Record<string, string | null>) {
  await kube.patch({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "oidc", namespace: ns },
  }, {
    data,
  });
}

const rendered = (kube: KubeClient, ns: string) => renderedConfig(kube, ns, "v");

async function authMessage(kube: KubeClient, ns: string) {
  const s = (await getVmcp(kube, ns, "v"))!.status;
  return { phase: s?.phase, auth: condition(s, "AuthConfigured") };
}

Deno.test("OIDC settings from a ConfigMap are rendered inline, with the client secret as a secretKeyRef; a missing ConfigMap or key, bad content and a plain-text secret are reported by name", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-oidccm");
  const kube = testClient(cluster);
  await createAll(kube, [
    group(ns.name, "g"),
    urlServer(ns.name, "a", "g"),
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "oidc-client", namespace: ns.name },
      data: { secret: btoa("s3cr3t") },
    } as KubeObject,
    vmcp(ns.name, "v", { groupRef: { name: "g" }, incomingAuth: configMapAuth }),
  ]);
  await reconcileGroupOnce(kube, ns.name, "g");
  await reconcileOnce(kube, ns.name, "v");
  let r = await authMessage(kube, ns.name);
  assert.equal(r.phase, "Failed");
  assert.equal(r.auth?.reason, "AuthInvalid");
  assert.match(
    r.auth!.message!,
    /spec\.incomingAuth\.oidcConfig\.configMap\.name: ConfigMap "oidc" not found/,
  );
  assert.equal(await kube.get("apps/v1", "Deployment", ns.name, "v"), undefined);

  await createAll(kube, [oidcConfigMap(ns.name, { other: "{}" })]);
  await reconcileOnce(kube, ns.name, "v");
  r = await authMessage(kube, ns.name);
  assert.match(r.auth!.message!, /ConfigMap "oidc" has no key "oidc\.json"; its keys: other/);

  await setData(kube, ns.name, {
    "oidc.json": JSON.stringify({ issuer: "https://idp.example.test", audince: "vmcp" }),
  });
  await reconcileOnce(kube, ns.name, "v");
  r = await authMessage(kube, ns.name);
  assert.match(
    r.auth!.message!,
    /ConfigMap oidc key oidc\.json: audince: Unknown field "audince"; did you mean "audience"\?/,
  );

  await setData(kube, ns.name, {
    "oidc.json": JSON.stringify({ issuer: "https://idp.example.test", clientSecret: "s3cr3t" }),
  });
  await reconcileOnce(kube, ns.name, "v");
  r = await authMessage(kube, ns.name);
  assert.match(
    r.auth!.message!,
    /clientSecret: Plain-text client secrets are not accepted .*clientSecretRef/,
  );

  await setData(kube, ns.name, {
    "oidc.json": JSON.stringify({
      issuer: "https://idp.example.test",
      audience: "vmcp",
      introspectionUrl: "https://idp.example.test/introspect",
      clientId: "vmcp",
      clientSecretRef: { name: "oidc-client", key: "secret" },
    }),
  });
  await reconcileOnce(kube, ns.name, "v");
  r = await authMessage(kube, ns.name);
  assert.equal(r.auth?.reason, "AuthValid", r.auth?.message ?? "");
  const out = (await rendered(kube, ns.name))!;
  assert.ok(!out.text.includes("s3cr3t"));
  assert.deepEqual(out.config.incomingAuth?.oidcConfig, {
    type: "inline",
    inline: {
      issuer: "https://idp.example.test",
      audience: "vmcp",
      introspectionUrl: "https://idp.example.test/introspect",
      clientId: "vmcp",
      clientSecretEnv: "VMCP_OIDC_CLIENT_SECRET",
      clockSkew: "30s",
    },
    resourceUrl: `http://vmcp-v.${ns.name}.svc.cluster.local:4483/mcp`,
  });
  const d = await kube.get<Obj>("apps/v1", "Deployment", ns.name, "v");
  const env = d!.spec.template.spec.containers[0].env as Obj[];
  assert.deepEqual(env.find((e) => e.name === "VMCP_OIDC_CLIENT_SECRET")?.valueFrom, {
    secretKeyRef: { name: "oidc-client", key: "secret" },
  });
});

Deno.test({
  name:
    "with the controller running, changing the OIDC ConfigMap re-renders the proxy config (and so rolls the pods) without touching the VirtualMCPServer",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using ns = await createTestNamespace(cluster, "vmcp-oidccm-watch");
    const kube = testClient(cluster);
    await createAll(kube, [
      group(ns.name, "g"),
      urlServer(ns.name, "a", "g"),
      oidcConfigMap(ns.name, {
        "oidc.json": JSON.stringify({ issuer: "https://idp.example.test", audience: "first" }),
      }),
      vmcp(ns.name, "v", { groupRef: { name: "g" }, incomingAuth: configMapAuth }),
    ]);
    await using _m = await startManager(kube, ns.name);
    const audience = async () =>
      (await rendered(kube, ns.name))?.config.incomingAuth?.oidcConfig?.inline?.audience;
    await eventually("the first audience rendered", async () => (await audience()) === "first");
    const checksum = async () =>
      (await kube.get<Obj>("apps/v1", "Deployment", ns.name, "v"))?.spec.template.metadata
        .annotations["toolhive.stacklok.dev/runconfig-checksum"];
    const before = await checksum();
    const generation = (await getVmcp(kube, ns.name, "v"))!.metadata!.generation;
    await setData(kube, ns.name, {
      "oidc.json": YAML.stringify({ issuer: "https://idp.example.test", audience: "second" }),
    });
    await eventually("the changed audience rendered", async () => (await audience()) === "second");
    // The Deployment is applied after the ConfigMap in the same pass: wait for it too.
    await eventually(
      "the pod template's config checksum changed",
      async () => (await checksum()) !== before,
    );
    assert.equal((await getVmcp(kube, ns.name, "v"))!.metadata!.generation, generation);
  },
});

Deno.test("a standalone config cannot use oidcConfig.type configMap and is told to use inline", () => {
  assert.throws(
    () =>
      parseConfig(JSON.stringify({
        name: "v",
        incomingAuth: {
          type: "oidc",
          oidcConfig: { type: "configMap", configMap: { name: "oidc" } },
        },
      })),
    /incomingAuth\.oidcConfig\.type: oidcConfig\.type "configMap" needs Kubernetes: .* under oidcConfig\.inline/,
  );
});

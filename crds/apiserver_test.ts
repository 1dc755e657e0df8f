/**
 * The generated CRDs on a real kube-apiserver: accepted as structural schemas, the seed's
 * minimal example applies unchanged, one instance of each kind is created, and bad instances
 * are rejected by the server's schema with the field named.
 */
import assert from "node:assert/strict";
import YAML from "yaml";
import { createTestNamespace, getTestCluster, kubeRequest } from "../tests/harness/kube.ts";
import { installCrds } from "../tests/controller/_setup.ts";

const cluster = await getTestCluster();
const base = "/apis/toolhive.stacklok.dev/v1alpha1/namespaces";

async function create(ns: string, plural: string, obj: unknown) {
  return await kubeRequest(cluster, "POST", `${base}/${ns}/${plural}`, obj, { raw: true });
}

Deno.test("the generated CRDs are accepted and an instance of every kind can be created", async () => {
  await installCrds(cluster);
  await using ns = await createTestNamespace(cluster, "crds");
  const seed = YAML.parse(
    await Deno.readTextFile(new URL("../examples/k8s/minimal.yaml", import.meta.url)),
  );
  const objects: [string, unknown][] = [
    ["virtualmcpservers", seed],
    ["mcpgroups", {
      apiVersion: "toolhive.stacklok.dev/v1alpha1",
      kind: "MCPGroup",
      metadata: { name: "my-group" },
      spec: {},
    }],
    ["mcpservers", {
      apiVersion: "toolhive.stacklok.dev/v1alpha1",
      kind: "MCPServer",
      metadata: { name: "github" },
      spec: { groupRef: { name: "my-group" }, url: "http://github.example:8080/mcp" },
    }],
    ["mcpexternalauthconfigs", {
      apiVersion: "toolhive.stacklok.dev/v1alpha1",
      kind: "MCPExternalAuthConfig",
      metadata: { name: "hdr" },
      spec: {
        type: "headerInjection",
        headerInjection: { headerName: "X-Key", valueSecretRef: { name: "s", key: "k" } },
      },
    }],
    ["virtualmcpcompositetooldefinitions", {
      apiVersion: "toolhive.stacklok.dev/v1alpha1",
      kind: "VirtualMCPCompositeToolDefinition",
      metadata: { name: "wf" },
      spec: {
        name: "wf",
        description: "d",
        steps: [{ id: "a", tool: "github.search", arguments: { q: "{{.params.q}}" } }],
      },
    }],
  ];
  for (const [plural, obj] of objects) {
    const r = await create(ns.name, plural, obj);
    assert.equal(r.status, 201, `${plural}: ${r.body}`);
  }
  const got = await kubeRequest<{ spec: { groupRef: { name: string }; serviceType?: string } }>(
    cluster,
    "GET",
    `${base}/${ns.name}/virtualmcpservers/my-vmcp`,
  );
  assert.equal(got.spec.groupRef.name, "my-group");
  assert.equal(
    got.spec.serviceType,
    "ClusterIP",
    "the schema default is applied by the API server",
  );
});

Deno.test("the API server rejects bad instances and names the field", async () => {
  await installCrds(cluster);
  await using ns = await createTestNamespace(cluster, "crds-bad");
  const vmcp = (spec: unknown) => ({
    apiVersion: "toolhive.stacklok.dev/v1alpha1",
    kind: "VirtualMCPServer",
    metadata: { name: "bad" },
    spec,
  });
  const bad = await create(
    ns.name,
    "virtualmcpservers",
    vmcp({ groupRef: { name: "g" }, serviceType: "Foo" }),
  );
  assert.equal(bad.status, 422);
  assert.match(bad.body, /spec\.serviceType/);
  assert.match(bad.body, /Foo/);
  const noGroup = await create(ns.name, "virtualmcpservers", vmcp({ serviceType: "NodePort" }));
  assert.equal(noGroup.status, 422);
  assert.match(noGroup.body, /spec\.groupRef/);
  const both = await create(ns.name, "mcpservers", {
    apiVersion: "toolhive.stacklok.dev/v1alpha1",
    kind: "MCPServer",
    metadata: { name: "both" },
    spec: { url: "http://a.example/mcp", image: "x:1" },
  });
  assert.equal(both.status, 422);
  assert.match(both.body, /exactly one of url or image/);
});

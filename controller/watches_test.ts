import assert from "node:assert/strict";
import { mapChange } from "./watches.ts";
import type { KubeObject } from "./runtime/kube.ts";

const v = (name: string, spec: Record<string, unknown>): KubeObject => ({
  metadata: { name, namespace: "ns" },
  spec,
});
const vmcps = [
  v("one", { groupRef: { name: "g1" }, compositeToolRefs: [{ name: "flow" }] }),
  v("two", {
    groupRef: { name: "g2" },
    tokenCache: { redis: { passwordRef: { name: "redis-pw", key: "k" } } },
  }),
];
const lister = () => vmcps;
const keys = (kind: string, obj: KubeObject, old?: KubeObject, auth: KubeObject[] = []) =>
  mapChange(kind, obj, old, lister, () => auth).map((e) => `${e.controller}:${e.key}`);

Deno.test("mapChange() sends a group change to the group and the VirtualMCPServers that use it", () => {
  assert.deepEqual(keys("MCPGroup", v("g1", {})), ["group:ns/g1", "vmcp:ns/one"]);
});

Deno.test("mapChange() sends an MCPServer moving between groups to both groups and their servers", () => {
  assert.deepEqual(
    keys("MCPServer", v("s", { groupRef: { name: "g2" } }), v("s", { groupRef: { name: "g1" } })),
    [
      "server:ns/s",
      "group:ns/g2",
      "group:ns/g1",
      "vmcp:ns/one",
      "vmcp:ns/two",
    ],
  );
});

Deno.test("mapChange() sends composite definitions, Secrets and auth configs to the servers that reference them", () => {
  assert.deepEqual(keys("VirtualMCPCompositeToolDefinition", v("flow", {})), [
    "compositeDef:ns/flow",
    "vmcp:ns/one",
  ]);
  assert.deepEqual(keys("Secret", v("redis-pw", {})), ["vmcp:ns/two"]);
  assert.deepEqual(keys("Secret", v("unrelated", {})), []);
  const auth = [v("hdr", { headerInjection: { valueSecretRef: { name: "api", key: "k" } } })];
  assert.deepEqual(keys("Secret", v("api", {}), undefined, auth), ["vmcp:ns/one", "vmcp:ns/two"]);
  assert.deepEqual(keys("MCPExternalAuthConfig", v("hdr", {})), ["vmcp:ns/one", "vmcp:ns/two"]);
});

Deno.test("mapChange() sends owned children to their controller owner and a VirtualMCPServer to its old and new definitions", () => {
  const child: KubeObject = {
    metadata: {
      name: "x",
      namespace: "ns",
      ownerReferences: [{
        apiVersion: "a",
        kind: "VirtualMCPServer",
        name: "one",
        uid: "u",
        controller: true,
      }],
    },
  };
  assert.deepEqual(keys("Deployment", child), ["vmcp:ns/one"]);
  assert.deepEqual(
    keys(
      "VirtualMCPServer",
      v("one", { compositeToolRefs: [{ name: "b" }] }),
      v("one", { compositeToolRefs: [{ name: "a" }] }),
    ),
    [
      "vmcp:ns/one",
      "compositeDef:ns/b",
      "compositeDef:ns/a",
    ],
  );
});

/**
 * MCPGroup status through the running controller (in-process manager) on a real
 * kube-apiserver: members join and leave through their own `spec.groupRef`.
 */
import assert from "node:assert/strict";
import { createTestNamespace, getTestCluster } from "../harness/kube.ts";
import type { KubeClient, KubeObject } from "../../controller/runtime/kube.ts";
import { eventually, GV, installCrds, testClient } from "./_setup.ts";
import { group, urlServer } from "./_fixtures.ts";
import { startManager } from "./_manager.ts";

const cluster = await getTestCluster();
await installCrds(cluster);

interface GroupView extends KubeObject {
  status?: {
    phase?: string;
    servers?: string[];
    serverCount?: number;
    observedGeneration?: number;
    conditions?: { type: string; status: string; reason: string; message?: string }[];
  };
}

function groupHas(kube: KubeClient, ns: string, name: string, servers: string[]) {
  return eventually(
    `MCPGroup ${name} lists [${servers}]`,
    async () => {
      const g = await kube.get<GroupView>(GV, "MCPGroup", ns, name);
      const s = g?.status;
      return s && s.phase === "Ready" && s.serverCount === servers.length &&
          JSON.stringify(s.servers ?? []) === JSON.stringify(servers)
        ? g
        : undefined;
    },
    15_000,
    50,
  );
}

Deno.test({
  name:
    "An MCPGroup is Ready and its servers/serverCount follow members as they join, move to another group and leave",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using ns = await createTestNamespace(cluster, "mcpgroup");
    const kube = testClient(cluster);
    await using _mgr = await startManager(kube, ns.name);
    await kube.create(group(ns.name, "g"));
    await kube.create(group(ns.name, "h"));
    const empty = await groupHas(kube, ns.name, "g", []);
    assert.equal(empty.status!.observedGeneration, empty.metadata!.generation);
    const checked = empty.status!.conditions!.find((c) => c.type === "MCPServersChecked")!;
    assert.deepEqual([checked.status, checked.reason], ["True", "AllServersValid"]);

    await kube.create(urlServer(ns.name, "b", "g"));
    await groupHas(kube, ns.name, "g", ["b"]);
    await kube.create(urlServer(ns.name, "a", "g"));
    const two = await groupHas(kube, ns.name, "g", ["a", "b"]);
    assert.match(
      two.status!.conditions!.find((c) => c.type === "MCPServersChecked")!.message!,
      /2 member/,
    );

    await kube.patch({
      apiVersion: GV,
      kind: "MCPServer",
      metadata: { name: "b", namespace: ns.name },
    }, {
      spec: { groupRef: { name: "h" } },
    });
    await groupHas(kube, ns.name, "g", ["a"]);
    await groupHas(kube, ns.name, "h", ["b"]);

    await kube.delete(GV, "MCPServer", ns.name, "a");
    await groupHas(kube, ns.name, "g", []);
    await groupHas(kube, ns.name, "h", ["b"]);
  },
});

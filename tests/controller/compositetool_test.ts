/**
 * VirtualMCPCompositeToolDefinition through the running controller (in-process manager) on
 * a real kube-apiserver: the definition's validation status, its referencing servers, and
 * the VirtualMCPServer that references it (missing → invalid → fixed), which proves the
 * watch mapping between the two kinds in both directions.
 */
import assert from "node:assert/strict";
import { createTestNamespace, getTestCluster } from "../harness/kube.ts";
import type { KubeClient, KubeObject } from "../../controller/runtime/kube.ts";
import { eventually, GV, installCrds, testClient } from "./_setup.ts";
import { condition, getVmcp, group, urlServer, vmcp, type VmcpStatusView } from "./_fixtures.ts";
import { startManager } from "./_manager.ts";

const cluster = await getTestCluster();
await installCrds(cluster);

// deno-lint-ignore no-explicit-any
type Obj = KubeObject & Record<string, any>;
const KIND = "VirtualMCPCompositeToolDefinition";

const INVALID_STEPS = [
  { id: "a", tool: "s1.echo", dependsOn: ["b"] },
  { id: "b", tool: "s1.echo", dependsOn: ["a"] },
  { id: "c", tool: "s1.echo", dependsOn: ["nope"] },
  { id: "d", tool: "s1.echo", arguments: { q: "{{ .params.x " } },
];
const VALID_STEPS = [
  { id: "a", tool: "s1.echo", arguments: { message: "{{ .params.x }}" } },
  { id: "b", tool: "s1.echo", dependsOn: ["a"], arguments: { message: "again" } },
];

function definition(ns: string, name: string, steps: unknown[]): KubeObject {
  return {
    apiVersion: GV,
    kind: KIND,
    metadata: { name, namespace: ns },
    spec: { name: "wf_tool", description: "A workflow", steps },
  };
}

function defWhere(
  kube: KubeClient,
  ns: string,
  name: string,
  what: string,
  pred: (d: Obj) => boolean,
) {
  return eventually(
    `${KIND} ${name}: ${what}`,
    async () => {
      const d = await kube.get<Obj>(GV, KIND, ns, name);
      return d?.status && pred(d) ? d : undefined;
    },
    15_000,
    50,
  );
}

function vmcpWhere(
  kube: KubeClient,
  ns: string,
  name: string,
  what: string,
  pred: (s: VmcpStatusView) => boolean,
) {
  return eventually(
    `VirtualMCPServer ${name}: ${what}`,
    async () => {
      const v = await getVmcp(kube, ns, name);
      return v?.status && pred(v.status) ? v.status : undefined;
    },
    15_000,
    50,
  );
}

const refs = (s: VmcpStatusView) => condition(s, "CompositeToolRefsValidated");

Deno.test({
  name:
    "A composite tool definition reports Invalid with step id, field and value for a cycle, an unknown step and a template error; the VirtualMCPServer referencing it goes NotFound → Invalid (Failed) → valid as the definition appears and is fixed",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using ns = await createTestNamespace(cluster, "ctd");
    const kube = testClient(cluster);
    await using _mgr = await startManager(kube, ns.name);
    await kube.create(group(ns.name, "g"));
    await kube.create(urlServer(ns.name, "s1", "g"));
    await kube.create(
      vmcp(ns.name, "v", { groupRef: { name: "g" }, compositeToolRefs: [{ name: "wf" }] }),
    );

    let s = await vmcpWhere(
      kube,
      ns.name,
      "v",
      "ref not found",
      (s) => refs(s)?.reason === "CompositeToolRefNotFound",
    );
    assert.equal(s.phase, "Failed");
    assert.equal(refs(s)!.status, "False");
    assert.match(refs(s)!.message!, /VirtualMCPCompositeToolDefinition "wf" not found/);

    await kube.create(definition(ns.name, "wf", INVALID_STEPS));
    const bad = await defWhere(
      kube,
      ns.name,
      "wf",
      "Invalid",
      (d) => d.status.validationStatus === "Invalid",
    );
    const errors: string[] = bad.status.validationErrors;
    assert.ok(
      errors.some((e) =>
        e.startsWith('spec.steps[0] (step "a").dependsOn:') && /a -> b -> a/.test(e)
      ),
      `cycle named with its steps: ${errors.join(" | ")}`,
    );
    assert.ok(
      errors.some((e) =>
        e.startsWith('spec.steps[2] (step "c").dependsOn[0]:') && e.includes('"nope"')
      ),
      `unknown step named with step id, field and value: ${errors.join(" | ")}`,
    );
    assert.ok(
      errors.some((e) =>
        e.startsWith('spec.steps[3] (step "d").arguments.q:') && /template syntax error/.test(e) &&
        e.includes(JSON.stringify("{{ .params.x "))
      ),
      `template error named with step id, field and value: ${errors.join(" | ")}`,
    );
    assert.deepEqual(bad.status.referencingVirtualServers, ["v"]);
    assert.equal(bad.status.observedGeneration, bad.metadata!.generation);
    const cond = (d: Obj, t: string) => d.status.conditions.find((c: Obj) => c.type === t);
    assert.deepEqual(
      [cond(bad, "WorkflowValidated").status, cond(bad, "WorkflowValidated").reason],
      ["False", "DependencyCycle"],
    );
    assert.deepEqual([cond(bad, "Ready").status, cond(bad, "Ready").reason], [
      "False",
      "WorkflowNotReady",
    ]);

    s = await vmcpWhere(
      kube,
      ns.name,
      "v",
      "ref invalid",
      (s) => refs(s)?.reason === "CompositeToolRefInvalid",
    );
    assert.equal(s.phase, "Failed");
    assert.match(refs(s)!.message!, /spec\.compositeToolRefs\[0\]\.name/);
    assert.match(refs(s)!.message!, /dependency cycle/);
    assert.equal(await kube.get("apps/v1", "Deployment", ns.name, "v"), undefined);

    await kube.patch({ apiVersion: GV, kind: KIND, metadata: { name: "wf", namespace: ns.name } }, {
      spec: { steps: VALID_STEPS },
    });
    const good = await defWhere(
      kube,
      ns.name,
      "wf",
      "Valid",
      (d) => d.status.validationStatus === "Valid",
    );
    assert.deepEqual(good.status.validationErrors, []);
    assert.equal(good.status.observedGeneration, good.metadata!.generation);
    assert.ok(good.metadata!.generation! > bad.metadata!.generation!);
    assert.deepEqual(
      [cond(good, "WorkflowValidated").reason, cond(good, "Ready").reason],
      ["ValidationSuccess", "WorkflowReady"],
    );

    s = await vmcpWhere(kube, ns.name, "v", "refs valid", (s) => refs(s)?.status === "True");
    assert.notEqual(s.phase, "Failed");
    assert.equal(refs(s)!.reason, "CompositeToolRefsValid");
    const cm = await eventually(
      "the rendered config",
      () => kube.get<Obj>("v1", "ConfigMap", ns.name, "v-vmcp-config"),
    );
    assert.match(cm.data["config.yaml"], /wf_tool/);

    await kube.create(
      vmcp(ns.name, "v2", { groupRef: { name: "g" }, compositeToolRefs: [{ name: "wf" }] }),
    );
    await defWhere(
      kube,
      ns.name,
      "wf",
      "two referrers",
      (d) => JSON.stringify(d.status.referencingVirtualServers) === '["v","v2"]',
    );
    await kube.delete(GV, "VirtualMCPServer", ns.name, "v2");
    await defWhere(
      kube,
      ns.name,
      "wf",
      "one referrer again",
      (d) => JSON.stringify(d.status.referencingVirtualServers) === '["v"]',
    );
  },
});

/**
 * The VirtualMCPServer reconciler against a real kube-apiserver: children, idempotence,
 * the phase walk and user errors.
 */
import assert from "node:assert/strict";
import YAML from "yaml";
import { createTestNamespace, getTestCluster } from "../harness/kube.ts";
import type { KubeObject } from "../../controller/runtime/kube.ts";
import { validateConfig } from "../../core/config/load.ts";
import { installCrds, testClient } from "./_setup.ts";
import {
  condition,
  createAll,
  getVmcp,
  group,
  imageServer,
  markDeploymentAvailable,
  reconcileGroupOnce,
  reconcileOnce,
  reportBackends,
  urlServer,
  vmcp,
} from "./_fixtures.ts";

const cluster = await getTestCluster();
await installCrds(cluster);

// deno-lint-ignore no-explicit-any
type Obj = KubeObject & Record<string, any>;

async function children(kube: ReturnType<typeof testClient>, ns: string, name: string) {
  return {
    deployment: await kube.get<Obj>("apps/v1", "Deployment", ns, name),
    service: await kube.get<Obj>("v1", "Service", ns, `vmcp-${name}`),
    configMap: await kube.get<Obj>("v1", "ConfigMap", ns, `${name}-vmcp-config`),
    serviceAccount: await kube.get<Obj>("v1", "ServiceAccount", ns, `${name}-vmcp`),
    role: await kube.get<Obj>("rbac.authorization.k8s.io/v1", "Role", ns, `${name}-vmcp`),
    roleBinding: await kube.get<Obj>(
      "rbac.authorization.k8s.io/v1",
      "RoleBinding",
      ns,
      `${name}-vmcp`,
    ),
  };
}

Deno.test("A VirtualMCPServer over a Ready group gets owned children with the right names, labels, container, probes and service type; a second reconcile writes nothing", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-children");
  const kube = testClient(cluster);
  await createAll(kube, [
    group(ns.name, "g"),
    urlServer(ns.name, "github", "g"),
    imageServer(ns.name, "fetch", "g"),
    vmcp(ns.name, "v", { groupRef: { name: "g" }, serviceType: "NodePort", replicas: 1 }),
  ]);
  await reconcileGroupOnce(kube, ns.name, "g");
  await reconcileOnce(kube, ns.name, "v", "example.test/vmcp:dev");
  const cr = (await getVmcp(kube, ns.name, "v"))!;
  const c = await children(kube, ns.name, "v");
  for (const [what, obj] of Object.entries(c)) {
    assert.ok(obj, `${what} exists`);
    const ref = obj.metadata!.ownerReferences?.[0];
    assert.deepEqual(
      [ref?.kind, ref?.name, ref?.uid, ref?.controller],
      ["VirtualMCPServer", "v", cr.metadata!.uid, true],
      `${what} is owned by the VirtualMCPServer`,
    );
  }
  const d = c.deployment!;
  const labels = {
    app: "virtualmcpserver",
    "app.kubernetes.io/name": "virtualmcpserver",
    "app.kubernetes.io/instance": "v",
    toolhive: "true",
    "toolhive-name": "v",
  };
  assert.deepEqual(d.spec.selector.matchLabels, labels);
  for (const [k, v] of Object.entries(labels)) assert.equal(d.spec.template.metadata.labels[k], v);
  const container = d.spec.template.spec.containers[0];
  assert.equal(container.name, "vmcp");
  assert.equal(container.image, "example.test/vmcp:dev");
  assert.deepEqual(container.args, [
    "--mode=proxy",
    "--config=/etc/vmcp-config/config.yaml",
    "--host=0.0.0.0",
    "--port=4483",
  ]);
  assert.deepEqual(container.ports.map((p: Obj) => [p.name, p.containerPort]), [["http", 4483]]);
  assert.equal(container.livenessProbe.httpGet.path, "/healthz");
  assert.equal(container.readinessProbe.httpGet.path, "/readyz");
  assert.deepEqual(container.resources, {
    requests: { cpu: "100m", memory: "128Mi" },
    limits: { cpu: "500m", memory: "512Mi" },
  });
  assert.deepEqual(container.env.slice(0, 2), [{ name: "VMCP_NAME", value: "v" }, {
    name: "VMCP_NAMESPACE",
    value: ns.name,
  }]);
  assert.equal(d.spec.template.spec.serviceAccountName, "v-vmcp");
  const checksum = c.configMap!.metadata!.annotations!["toolhive.stacklok.dev/content-checksum"];
  assert.match(checksum!, /^[0-9a-f]{64}$/);
  assert.equal(
    d.spec.template.metadata.annotations["toolhive.stacklok.dev/runconfig-checksum"],
    checksum,
  );
  assert.equal(c.service!.spec.type, "NodePort");
  assert.deepEqual(c.service!.spec.ports.map((p: Obj) => [p.name, p.port]), [["http", 4483]]);
  assert.deepEqual(c.role!.rules.map((r: Obj) => [r.resources, r.resourceNames, r.verbs]), [
    [["virtualmcpservers"], ["v"], ["get"]],
    [["virtualmcpservers/status"], ["v"], ["patch", "update"]],
  ]);
  const text = c.configMap!.data["config.yaml"];
  const { config, problems } = validateConfig(YAML.parse(text, { version: "1.1" }), {
    standalone: false,
  });
  assert.deepEqual(problems, []);
  assert.deepEqual(config!.backends.map((b) => [b.name, b.transport, b.url]), [
    ["fetch", "streamable-http", `http://mcp-fetch.${ns.name}.svc.cluster.local:8080/mcp`],
    ["github", "streamable-http", "http://github.example.test:8080/mcp"],
  ]);
  assert.equal(cr.status?.url, `http://vmcp-v.${ns.name}.svc.cluster.local:4483`);
  assert.equal(cr.status?.phase, "Pending");
  assert.equal(cr.status?.observedGeneration, cr.metadata!.generation);
  for (const cond of cr.status?.conditions ?? []) {
    assert.equal(cond.observedGeneration, cr.metadata!.generation);
  }

  const versions = (o: Record<string, KubeObject | undefined>) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v?.metadata?.resourceVersion]));
  const before = { ...versions(c), vmcp: cr.metadata!.resourceVersion };
  await reconcileOnce(kube, ns.name, "v", "example.test/vmcp:dev");
  await reconcileOnce(kube, ns.name, "v", "example.test/vmcp:dev");
  const after = {
    ...versions(await children(kube, ns.name, "v")),
    vmcp: (await getVmcp(kube, ns.name, "v"))!.metadata!.resourceVersion,
  };
  assert.deepEqual(after, before, "no object was written by the repeated reconciles");
});

Deno.test("The phase walks Pending (group missing, named) → Pending (deployment not available) → Ready → Degraded as the world changes", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-phase");
  const kube = testClient(cluster);
  await createAll(kube, [vmcp(ns.name, "v", { groupRef: { name: "team" } })]);
  await reconcileOnce(kube, ns.name, "v");
  let s = (await getVmcp(kube, ns.name, "v"))!.status;
  assert.equal(s?.phase, "Pending");
  assert.equal(condition(s, "GroupRefValidated")?.reason, "GroupRefNotFound");
  assert.match(condition(s, "GroupRefValidated")!.message!, /MCPGroup "team"/);
  assert.equal(condition(s, "AuthConfigured")?.reason, "AnonymousAuth");
  assert.equal(await kube.get("apps/v1", "Deployment", ns.name, "v"), undefined);

  await createAll(kube, [
    group(ns.name, "team"),
    urlServer(ns.name, "a", "team"),
    urlServer(ns.name, "b", "team"),
  ]);
  await reconcileGroupOnce(kube, ns.name, "team");
  await reconcileOnce(kube, ns.name, "v");
  assert.ok(
    await kube.get("apps/v1", "Deployment", ns.name, "v"),
    "Deployment created once the group is Ready",
  );
  s = (await getVmcp(kube, ns.name, "v"))!.status;
  assert.equal(s?.phase, "Pending");
  assert.equal(condition(s, "Ready")?.reason, "DeploymentNotReady");
  const groupReadyAt = condition(s, "GroupRefValidated")!.lastTransitionTime;

  await markDeploymentAvailable(kube, ns.name, "v");
  await reconcileOnce(kube, ns.name, "v");
  s = (await getVmcp(kube, ns.name, "v"))!.status;
  assert.equal(s?.phase, "Ready");

  await reportBackends(kube, ns.name, "v", [{ name: "a", status: "ready" }, {
    name: "b",
    status: "ready",
  }]);
  await reconcileOnce(kube, ns.name, "v");
  s = (await getVmcp(kube, ns.name, "v"))!.status;
  assert.equal(s?.phase, "Ready");
  assert.equal(s?.backendCount, 2);

  await reportBackends(kube, ns.name, "v", [{ name: "a", status: "ready" }, {
    name: "b",
    status: "unavailable",
    message: "connection refused",
  }]);
  await reconcileOnce(kube, ns.name, "v");
  s = (await getVmcp(kube, ns.name, "v"))!.status;
  assert.equal(s?.phase, "Degraded");
  assert.match(s!.message!, /b \(unavailable: connection refused\)/);
  assert.equal(s?.backendCount, 1);
  assert.deepEqual(
    s?.discoveredBackends?.map((b) => b.name),
    ["a", "b"],
    "the proxy's field survives the controller's writes",
  );
  assert.equal(
    condition(s, "GroupRefValidated")!.lastTransitionTime,
    groupReadyAt,
    "unchanged condition keeps its time",
  );

  const cr = (await getVmcp(kube, ns.name, "v"))!;
  const managers = (cr.metadata!.managedFields as {
    manager: string;
    subresource?: string;
    fieldsV1: Record<string, Record<string, unknown>>;
  }[])
    .filter((m) => m.subresource === "status");
  const owns = (m: string, f: string) =>
    managers.some((x) => x.manager === m && f in (x.fieldsV1["f:status"] ?? {}));
  assert.ok(owns("vmcp-controller", "f:phase") && !owns("vmcp-controller", "f:discoveredBackends"));
  assert.ok(owns("vmcp-proxy", "f:discoveredBackends") && !owns("vmcp-proxy", "f:phase"));

  const events = await kube.list<Obj>("v1", "Event", ns.name);
  const reasons = events.items.filter((e) => e.involvedObject?.name === "v").map((e) => e.reason);
  for (const r of ["PhasePending", "PhaseReady", "PhaseDegraded", "AnonymousAuth"]) {
    assert.ok(reasons.includes(r), `event ${r} in ${reasons}`);
  }
});

Deno.test("An invalid spec sets Failed with a message naming the field and leaves the Deployment untouched", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-invalid");
  const kube = testClient(cluster);
  await createAll(kube, [
    group(ns.name, "g"),
    urlServer(ns.name, "a", "g"),
    vmcp(ns.name, "v", { groupRef: { name: "g" } }),
  ]);
  await reconcileGroupOnce(kube, ns.name, "g");
  await reconcileOnce(kube, ns.name, "v");
  const rv = (await kube.get("apps/v1", "Deployment", ns.name, "v"))!.metadata!.resourceVersion;

  await kube.patch({
    apiVersion: vmcp("", "", {}).apiVersion,
    kind: "VirtualMCPServer",
    metadata: { name: "v", namespace: ns.name },
  }, {
    spec: { podTemplateSpec: { spec: { containers: [{ name: "sidecar", image: "x" }] } } },
  });
  await reconcileOnce(kube, ns.name, "v");
  let s = (await getVmcp(kube, ns.name, "v"))!.status;
  assert.equal(s?.phase, "Failed");
  assert.match(s!.message!, /spec\.podTemplateSpec\.spec\.containers\[0\]\.name/);
  assert.equal(condition(s, "PodTemplateSpecValid")?.reason, "InvalidPodTemplateSpec");
  assert.equal(
    (await kube.get("apps/v1", "Deployment", ns.name, "v"))!.metadata!.resourceVersion,
    rv,
  );

  await kube.patch({
    apiVersion: vmcp("", "", {}).apiVersion,
    kind: "VirtualMCPServer",
    metadata: { name: "v", namespace: ns.name },
  }, {
    spec: { podTemplateSpec: null, aggregation: { conflictResolution: "priority" } },
  });
  await reconcileOnce(kube, ns.name, "v");
  s = (await getVmcp(kube, ns.name, "v"))!.status;
  assert.equal(s?.phase, "Failed");
  assert.match(s!.message!, /spec\.aggregation\.conflictResolutionConfig\.priorityOrder/);
  assert.equal(condition(s, "Valid")?.reason, "ValidationFailed");
  assert.equal(
    (await kube.get("apps/v1", "Deployment", ns.name, "v"))!.metadata!.resourceVersion,
    rv,
  );
});

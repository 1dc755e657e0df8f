/**
 * The install manifests on a real kube-apiserver: `kubectl apply --server-side -k deploy/`
 * installs everything, the examples apply against the generated CRDs, and bad examples are
 * rejected by server-side validation.
 */
import assert from "node:assert/strict";
import YAML from "yaml";
import { createTestNamespace, getTestCluster } from "../tests/harness/kube.ts";
import {
  applyDeploy,
  DEPLOY_DIR,
  EXAMPLES_DIR,
  kubectl,
  kubectlOk,
  NAMESPACED_DIR,
  type Obj,
  OPERATOR_NAMESPACE,
  OPERATOR_SA,
  renderDeploy,
} from "./_kubectl.ts";
import { expandRules, operatorRules } from "./_rbac.ts";

const cluster = await getTestCluster();

type Container = {
  args: string[];
  env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  securityContext: Record<string, unknown>;
};

Deno.test("deploy/ renders the namespace, CRDs, RBAC and a two-replica leader-elected operator", async () => {
  const objs = await renderDeploy(cluster.binDir);
  const kinds = objs.map((o) => `${o.kind}/${o.metadata.name}`);
  for (
    const k of [
      `Namespace/${OPERATOR_NAMESPACE}`,
      `ServiceAccount/${OPERATOR_SA}`,
      "ClusterRole/vmcp-controller",
      "ClusterRoleBinding/vmcp-controller",
      "Role/vmcp-controller-leader-election",
      "RoleBinding/vmcp-controller-leader-election",
      "Deployment/vmcp-controller",
      "CustomResourceDefinition/virtualmcpservers.toolhive.stacklok.dev",
    ]
  ) assert.ok(kinds.includes(k), `${k} in ${kinds.join(", ")}`);
  assert.equal(objs.filter((o) => o.kind === "CustomResourceDefinition").length, 5);
  for (const o of objs) {
    if (
      o.kind !== "Namespace" && !o.kind.startsWith("Cluster") &&
      o.kind !== "CustomResourceDefinition"
    ) {
      assert.equal(o.metadata.namespace, OPERATOR_NAMESPACE, `${o.kind}/${o.metadata.name}`);
    }
  }
  const dep = objs.find((o) => o.kind === "Deployment") as Obj & {
    spec: {
      replicas: number;
      template: {
        spec: {
          serviceAccountName: string;
          securityContext: Record<string, unknown>;
          containers: Container[];
        };
      };
    };
  };
  const pod = dep.spec.template.spec;
  assert.equal(dep.spec.replicas, 2);
  assert.equal(pod.serviceAccountName, OPERATOR_SA);
  assert.equal(pod.securityContext.runAsNonRoot, true);
  const c = pod.containers[0]!;
  assert.ok(c.args.includes("--mode=controller"));
  assert.ok(c.args.includes("--leader-elect=true"));
  assert.ok(c.args.includes("--metrics-port=8081"));
  assert.deepEqual(c.ports.map((p) => [p.name, p.containerPort]), [["metrics", 8081]]);
  assert.deepEqual(c.livenessProbe.httpGet, { path: "/healthz", port: "metrics" });
  assert.deepEqual(c.readinessProbe.httpGet, { path: "/readyz", port: "metrics" });
  const fieldRef = (n: string) => c.env.find((e) => e.name === n)?.valueFrom?.fieldRef?.fieldPath;
  assert.equal(fieldRef("POD_NAME"), "metadata.name");
  assert.equal(fieldRef("POD_NAMESPACE"), "metadata.namespace");
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.equal(c.securityContext.runAsNonRoot, true);
  assert.deepEqual(c.securityContext.capabilities, { drop: ["ALL"] });
});

const id = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
type Deployment = Obj & { spec: { template: { spec: { containers: Container[] } } } };
const watchEnv = (d: Deployment) =>
  d.spec.template.spec.containers[0]!.env.find((e) => e.name === "VMCP_WATCH_NAMESPACE")?.value;

Deno.test("deploy/namespaced/ renders deploy/'s CRDs and operator, a Role in vmcp-workloads for everything namespaced, and a ClusterRole of cluster-scoped grants only", async () => {
  const all = new Map((await renderDeploy(cluster.binDir)).map((o) => [id(o), o]));
  const nsObjs = await renderDeploy(cluster.binDir, NAMESPACED_DIR);
  const ns = new Map(nsObjs.map((o) => [id(o), o]));
  assert.deepEqual([...ns.keys()].filter((k) => !all.has(k)).sort(), [
    "Role/vmcp-workloads/vmcp-controller",
    "RoleBinding/vmcp-workloads/vmcp-controller",
  ]);
  assert.deepEqual([...all.keys()].filter((k) => !ns.has(k)), []);
  for (const [k, o] of all) {
    if (k === "ClusterRole//vmcp-controller" || k.startsWith("Deployment/")) continue;
    assert.deepEqual(ns.get(k), o, `${k} as in deploy/`);
  }
  // The Deployment differs only by the watched namespace.
  const key = `Deployment/${OPERATOR_NAMESPACE}/vmcp-controller`;
  const dep = structuredClone(ns.get(key)) as Deployment;
  assert.equal(watchEnv(dep), "vmcp-workloads");
  const c = dep.spec.template.spec.containers[0]!;
  c.env = c.env.filter((e) => e.name !== "VMCP_WATCH_NAMESPACE");
  assert.deepEqual(dep, all.get(key));
  // Role + ClusterRole grant exactly what deploy/'s ClusterRole grants, split by scope.
  const split = operatorRules(nsObjs);
  const whole = operatorRules([...all.values()]);
  const sorted = (s: Set<string>) => [...s].sort();
  assert.deepEqual(
    sorted(expandRules([...split.cluster, ...split.namespaced])),
    sorted(expandRules(whole.cluster)),
  );
  assert.deepEqual(
    [...new Set([...expandRules(split.cluster)].map((p) => p.replace(/\|[^|]*$/, "")))].sort(),
    [
      "authentication.k8s.io|tokenreviews",
      "rbac.authorization.k8s.io|clusterrolebindings",
      "rbac.authorization.k8s.io|clusterroles",
    ],
  );
  const rb = ns.get("RoleBinding/vmcp-workloads/vmcp-controller")!;
  assert.deepEqual(rb.roleRef, {
    apiGroup: "rbac.authorization.k8s.io",
    kind: "Role",
    name: "vmcp-controller",
  });
  assert.deepEqual(rb.subjects, [
    { kind: "ServiceAccount", name: OPERATOR_SA, namespace: OPERATOR_NAMESPACE },
  ]);
});

Deno.test("setting namespace: in deploy/namespaced/watched/ moves the Role, its binding and the operator's watch there", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vmcp-overlay-" });
  try {
    const cp = await new Deno.Command("cp", { args: ["-r", DEPLOY_DIR, `${dir}/deploy`] }).output();
    assert.equal(cp.code, 0);
    const file = `${dir}/deploy/namespaced/watched/kustomization.yaml`;
    const k = YAML.parse(await Deno.readTextFile(file));
    k.namespace = "team-a";
    await Deno.writeTextFile(file, YAML.stringify(k));
    const objs = await renderDeploy(cluster.binDir, `${dir}/deploy/namespaced/`);
    const ids = objs.map(id);
    assert.ok(ids.includes("Role/team-a/vmcp-controller"), ids.join(", "));
    assert.ok(ids.includes("RoleBinding/team-a/vmcp-controller"), ids.join(", "));
    assert.equal(watchEnv(objs.find((o) => o.kind === "Deployment") as Deployment), "team-a");
    assert.doesNotMatch(JSON.stringify(objs), /vmcp-workloads/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kubectl apply --server-side -k deploy/ installs everything, and a second apply changes nothing", async () => {
  const out = await applyDeploy(cluster);
  assert.match(out, /namespace\/vmcp-system serverside-applied/);
  assert.match(out, /deployment\.apps\/vmcp-controller serverside-applied/);
  const versions = async () =>
    await kubectlOk(cluster.binDir, [
      "get",
      "-n",
      OPERATOR_NAMESPACE,
      "deployment/vmcp-controller",
      "serviceaccount/vmcp-controller",
      "role/vmcp-controller-leader-election",
      "clusterrole/vmcp-controller",
      "crd/virtualmcpservers.toolhive.stacklok.dev",
      "-o",
      "jsonpath={.items[*].metadata.resourceVersion}",
    ], cluster.kubeconfigPath);
  const before = await versions();
  assert.equal(before.split(" ").length, 5);
  await applyDeploy(cluster);
  assert.equal(await versions(), before, "re-applying the same manifests is a no-op");
});

Deno.test("plain client-side kubectl apply -k deploy/ is accepted too (server dry run)", async () => {
  await applyDeploy(cluster);
  const out = await kubectlOk(cluster.binDir, [
    "apply",
    "--dry-run=server",
    "-k",
    new URL("./", import.meta.url).pathname,
  ], cluster.kubeconfigPath);
  assert.match(out, /deployment\.apps\/vmcp-controller (configured|unchanged) \(server dry run\)/);
});

Deno.test("every example in examples/k8s applies server-side against the installed CRDs", async () => {
  await applyDeploy(cluster);
  await using ns = await createTestNamespace(cluster, "examples");
  const out = await kubectlOk(cluster.binDir, [
    "apply",
    "--server-side",
    "-n",
    ns.name,
    "-f",
    EXAMPLES_DIR,
  ], cluster.kubeconfigPath);
  for (
    const want of [
      "mcpgroup.toolhive.stacklok.dev/my-group",
      "mcpserver.toolhive.stacklok.dev/github",
      "mcpserver.toolhive.stacklok.dev/fetch",
      "virtualmcpserver.toolhive.stacklok.dev/my-vmcp",
      "virtualmcpserver.toolhive.stacklok.dev/secure-vmcp",
      "virtualmcpserver.toolhive.stacklok.dev/prod-vmcp",
      "mcpexternalauthconfig.toolhive.stacklok.dev/github-exchange",
    ]
  ) assert.match(out, new RegExp(`${want.replaceAll(".", "\\.")} serverside-applied`));
  // Defaults from the CRD schema are filled in by the server.
  const type = await kubectlOk(cluster.binDir, [
    "get",
    "-n",
    ns.name,
    "virtualmcpserver/my-vmcp",
    "-o",
    "jsonpath={.spec.serviceType}",
  ], cluster.kubeconfigPath);
  assert.equal(type, "ClusterIP");
});

async function applyBad(mutate: (spec: Record<string, unknown>) => void) {
  const minimal = YAML.parse(await Deno.readTextFile(`${EXAMPLES_DIR}/minimal.yaml`));
  mutate(minimal.spec);
  const dir = await Deno.makeTempDir({ prefix: "vmcp-bad-example-" });
  try {
    await Deno.writeTextFile(`${dir}/bad.yaml`, YAML.stringify(minimal));
    await using ns = await createTestNamespace(cluster, "bad-example");
    return await kubectl(cluster.binDir, [
      "apply",
      "--server-side",
      "-n",
      ns.name,
      "-f",
      `${dir}/bad.yaml`,
    ], cluster.kubeconfigPath);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the API server rejects an example whose serviceType is not ClusterIP, NodePort or LoadBalancer", async () => {
  await applyDeploy(cluster);
  const r = await applyBad((s) => (s.serviceType = "Foo"));
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /spec\.serviceType/);
  assert.match(r.stderr, /"Foo"/);
  assert.match(r.stderr, /supported values: "ClusterIP", "NodePort", "LoadBalancer"/);
});

Deno.test("the API server rejects an example with an unknown spec field (strict field validation)", async () => {
  await applyDeploy(cluster);
  const r = await applyBad((s) => (s.groupRefs = { name: "typo" }));
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /groupRefs/);
});

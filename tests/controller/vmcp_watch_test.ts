/**
 * VirtualMCPServer behaviour that needs the running controller (in-process manager) on a
 * real kube-apiserver: the cluster-scoped TokenReview RBAC follows `incomingAuth` and the
 * server's lifetime, and a Secret referenced by outgoing auth re-queues the server when it
 * appears or changes.
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
const RBAC = "rbac.authorization.k8s.io/v1";
const inProcess = { sanitizeResources: false, sanitizeOps: false };

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

async function clusterRbac(kube: KubeClient, name: string) {
  return {
    role: await kube.get<Obj>(RBAC, "ClusterRole", undefined, name),
    binding: await kube.get<Obj>(RBAC, "ClusterRoleBinding", undefined, name),
  };
}

const patchVmcp = (kube: KubeClient, ns: string, name: string, spec: Record<string, unknown>) =>
  kube.patch({ apiVersion: GV, kind: "VirtualMCPServer", metadata: { name, namespace: ns } }, {
    spec,
  });

Deno.test({
  name:
    "Kubernetes incoming auth creates the TokenReview ClusterRole and ClusterRoleBinding; switching to anonymous removes them, switching back restores them, deleting the VirtualMCPServer removes them",
  ...inProcess,
  fn: async () => {
    await using ns = await createTestNamespace(cluster, "vmcp-crbac");
    const kube = testClient(cluster);
    const name = `vmcp-${ns.name}-v-tokenreview`;
    try {
      await using _mgr = await startManager(kube, ns.name);
      await kube.create(group(ns.name, "g"));
      await kube.create(urlServer(ns.name, "s1", "g"));
      await kube.create(
        vmcp(ns.name, "v", { groupRef: { name: "g" }, incomingAuth: { type: "kubernetes" } }),
      );
      const present = await eventually("cluster RBAC created", async () => {
        const r = await clusterRbac(kube, name);
        return r.role && r.binding ? r : undefined;
      });
      for (const o of [present.role!, present.binding!]) {
        const labels = o.metadata!.labels!;
        assert.equal(labels["app.kubernetes.io/managed-by"], "vmcp-controller");
        assert.equal(labels["vmcp.toolhive.stacklok.dev/owner-namespace"], ns.name);
        assert.equal(labels["vmcp.toolhive.stacklok.dev/owner-name"], "v");
      }
      assert.deepEqual(present.role!.rules, [{
        apiGroups: ["authentication.k8s.io"],
        resources: ["tokenreviews"],
        verbs: ["create"],
      }]);
      assert.deepEqual(present.binding!.roleRef.name, name);
      assert.deepEqual(present.binding!.subjects, [{
        kind: "ServiceAccount",
        name: "v-vmcp",
        namespace: ns.name,
      }]);

      await patchVmcp(kube, ns.name, "v", { incomingAuth: { type: "anonymous" } });
      await eventually("cluster RBAC removed after switching to anonymous", async () => {
        const r = await clusterRbac(kube, name);
        return !r.role && !r.binding;
      });
      await vmcpWhere(
        kube,
        ns.name,
        "v",
        "anonymous",
        (s) => condition(s, "AuthConfigured")?.reason === "AnonymousAuth",
      );

      await patchVmcp(kube, ns.name, "v", { incomingAuth: { type: "kubernetes" } });
      await eventually("cluster RBAC restored", async () => {
        const r = await clusterRbac(kube, name);
        return r.role && r.binding;
      });

      await kube.delete(GV, "VirtualMCPServer", ns.name, "v");
      await eventually("cluster RBAC removed after deleting the VirtualMCPServer", async () => {
        const r = await clusterRbac(kube, name);
        return !r.role && !r.binding;
      });
    } finally {
      await kube.delete(RBAC, "ClusterRoleBinding", undefined, name).catch(() => {});
      await kube.delete(RBAC, "ClusterRole", undefined, name).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "A Secret referenced by outgoing auth re-queues the VirtualMCPServer: AuthInvalid while it is missing, then lacking the key, AuthValid once the key is added",
  ...inProcess,
  fn: async () => {
    await using ns = await createTestNamespace(cluster, "vmcp-secret");
    const kube = testClient(cluster);
    const crb = `vmcp-${ns.name}-v-tokenreview`;
    try {
      await using _mgr = await startManager(kube, ns.name);
      await kube.create(group(ns.name, "g"));
      await kube.create(urlServer(ns.name, "s1", "g"));
      await kube.create(vmcp(ns.name, "v", {
        groupRef: { name: "g" },
        incomingAuth: { type: "kubernetes" },
        outgoingAuth: {
          source: "inline",
          default: {
            type: "headerInjection",
            headerInjection: {
              headerName: "X-Api-Key",
              valueSecretRef: { name: "api-key", key: "token" },
            },
          },
        },
      }));
      let s = await vmcpWhere(
        kube,
        ns.name,
        "v",
        "AuthInvalid (missing Secret)",
        (s) => condition(s, "AuthConfigured")?.reason === "AuthInvalid",
      );
      assert.equal(s.phase, "Failed");
      assert.match(condition(s, "AuthConfigured")!.message!, /Secret "api-key" not found/);
      assert.equal(await kube.get("apps/v1", "Deployment", ns.name, "v"), undefined);

      await kube.create({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "api-key", namespace: ns.name },
        stringData: { other: "x" },
      });
      s = await vmcpWhere(
        kube,
        ns.name,
        "v",
        "AuthInvalid (missing key)",
        (s) => /has no key "token"/.test(condition(s, "AuthConfigured")?.message ?? ""),
      );
      assert.equal(s.phase, "Failed");

      await kube.patch({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "api-key", namespace: ns.name },
      }, { stringData: { token: "s3cret" } });
      s = await vmcpWhere(
        kube,
        ns.name,
        "v",
        "AuthValid",
        (s) => condition(s, "AuthConfigured")?.reason === "AuthValid",
      );
      assert.notEqual(s.phase, "Failed");
      const d = await eventually(
        "the proxy Deployment",
        () => kube.get<Obj>("apps/v1", "Deployment", ns.name, "v"),
      );
      const env = d.spec.template.spec.containers[0].env as Obj[];
      const fromSecret = env.find((e) => e.valueFrom?.secretKeyRef?.name === "api-key");
      assert.deepEqual(fromSecret?.valueFrom.secretKeyRef, { name: "api-key", key: "token" });
      const cm = (await kube.get<Obj>("v1", "ConfigMap", ns.name, "v-vmcp-config"))!;
      assert.ok(!cm.data["config.yaml"].includes("s3cret"), "the secret value is not rendered");
    } finally {
      await kube.delete(RBAC, "ClusterRoleBinding", undefined, crb).catch(() => {});
      await kube.delete(RBAC, "ClusterRole", undefined, crb).catch(() => {});
    }
  },
});

/**
 * deploy/namespaced/ installs the operator watching one namespace with least privilege.
 *
 * As in deploy/rbac_test.ts, the controller runs as a real process with the overlay's
 * Deployment args and env, authenticated by a TokenRequest token of the ServiceAccount, on a
 * kube-apiserver that audits that user. Here the audit log must also show that every request
 * for a namespaced resource stayed in the watched namespace (the Lease aside): no
 * cluster-wide list or watch of Secrets or of anything else namespaced, and nothing at all
 * in another namespace, whose VirtualMCPServer is ignored.
 */
import assert from "node:assert/strict";
import { createTestNamespace, kubeRequest } from "../tests/harness/kube.ts";
import { logTail, type ServiceProcess } from "../tests/harness/process.ts";
import { LEASE_NAME } from "../controller/main.ts";
import { CRD_API_VERSION } from "../controller/meta.ts";
import { buildClusterRbac, type Parent } from "../controller/vmcp/children.ts";
import {
  applyDeploy,
  kubectlOk,
  NAMESPACED_DIR,
  OPERATOR_NAMESPACE,
  OPERATOR_USER,
  operatorKubeconfig,
  renderDeploy,
} from "./_kubectl.ts";
import {
  canI,
  EVENT_FOLDING,
  expandRules,
  handedOn,
  minus,
  operatorRules,
  proxyGrants,
  resourceScopes,
  summariseAudit,
} from "./_rbac.ts";
import {
  admin,
  awaitReconciled,
  createOrphanRbac,
  createWorkload,
  exists,
  startAuditedCluster,
  startLeadingOperator,
} from "./_scenario.ts";

const RBAC = "rbac.authorization.k8s.io";
const GROUP = CRD_API_VERSION.split("/")[0]!;

Deno.test("the operator of deploy/namespaced/ reconciles its namespace without a 403, never reads outside it, and ignores other namespaces", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vmcp-rbac-ns-" });
  const cluster = await startAuditedCluster(dir);
  let operator: ServiceProcess | undefined;
  try {
    const objs = await renderDeploy(cluster.binDir, NAMESPACED_DIR);
    const rules = operatorRules(objs);
    const watched = rules.watched!;
    assert.equal(watched, "vmcp-workloads", "the overlay watches vmcp-workloads by default");
    // The overlay does not create the watched namespace (so `kubectl delete -k` spares it).
    await kubeRequest(cluster, "POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: watched },
    });
    const out = await applyDeploy(cluster, NAMESPACED_DIR);
    assert.match(out, /role\.rbac\.authorization\.k8s\.io\/vmcp-controller serverside-applied/);
    // A second apply of the same overlay changes nothing.
    const versions = async () =>
      (await Promise.all([
        ["-n", watched, "role/vmcp-controller", "rolebinding/vmcp-controller"],
        ["-n", OPERATOR_NAMESPACE, "deployment/vmcp-controller"],
        ["clusterrole/vmcp-controller", "clusterrolebinding/vmcp-controller"],
      ].map((args) =>
        kubectlOk(cluster.binDir, [
          "get",
          ...args,
          "-o",
          "jsonpath={.items[*].metadata.resourceVersion}",
        ], cluster.kubeconfigPath)
      ))).join(" ");
    const before = await versions();
    assert.equal(before.split(" ").length, 5);
    await applyDeploy(cluster, NAMESPACED_DIR);
    assert.equal(await versions(), before, "re-applying the overlay is a no-op");
    const orphan = await createOrphanRbac(cluster, watched);
    await using other = await createTestNamespace(cluster, "elsewhere");
    await createWorkload(cluster, watched);
    await createWorkload(cluster, other.name);
    // TokenReview RBAC of the other VirtualMCPServer, as a cluster-wide install made it.
    const otherV = (await admin(cluster).get("virtualmcpservers", {
      kind: "x",
      namespace: other.name,
    }, "v")).body;
    for (const o of buildClusterRbac(JSON.parse(otherV) as Parent)) {
      const plural = o.kind === "ClusterRole" ? "clusterroles" : "clusterrolebindings";
      await admin(cluster).create(plural, o as typeof o & { kind: string });
    }
    operator = await startLeadingOperator(cluster, objs, dir);
    await awaitReconciled(cluster, watched, orphan);

    // The other namespace's VirtualMCPServer (Kubernetes auth, same spec) got nothing.
    const st = async (plural: string, name: string) =>
      JSON.parse(
        (await admin(cluster).get(plural, { kind: "x", namespace: other.name }, name)).body,
      ).status;
    assert.equal(await st("virtualmcpservers", "v"), undefined, "no status elsewhere");
    assert.equal(await st("mcpgroups", "g"), undefined, "no MCPGroup status elsewhere");
    for (
      const p of [
        `/apis/apps/v1/namespaces/${other.name}/deployments/v`,
        `/apis/apps/v1/namespaces/${other.name}/deployments/mcp-img`,
        `/api/v1/namespaces/${other.name}/configmaps/v-vmcp-config`,
        `/apis/${RBAC}/v1/namespaces/${other.name}/roles/v-vmcp`,
      ]
    ) assert.equal(await exists(cluster, p), false, `${p} not created`);
    for (const plural of ["clusterroles", "clusterrolebindings"]) {
      const p = `/apis/${RBAC}/v1/${plural}/vmcp-${other.name}-v-tokenreview`;
      assert.ok(await exists(cluster, p), `${p} of the other namespace kept`);
    }

    await operator.stop(10_000);
    assert.equal((await operator.status).code, 0, "SIGTERM ends the operator cleanly");
    const logText = await Deno.readTextFile(`${dir}/operator.log`);
    assert.doesNotMatch(logText, /forbidden|\b403\b/i, "no refusal in the operator's log");

    const audit = summariseAudit(await Deno.readTextFile(`${dir}/audit.log`), OPERATOR_USER);
    const requests = `requests:\n${audit.requests.join("\n")}`;
    assert.deepEqual(audit.forbidden, [], "no request refused");

    // Least privilege, as for deploy/: used ⊆ granted, and every grant is used except those
    // handed on to proxies (their Role in the watched namespace, their TokenReview
    // ClusterRole: each held where the proxy gets it) and Event folding.
    const granted = expandRules([...rules.cluster, ...rules.namespaced, ...rules.lease]);
    assert.deepEqual(minus(audit.used, granted), [], "everything used is granted");
    const proxy = proxyGrants();
    assert.deepEqual(minus(proxy.namespaced, expandRules(rules.namespaced)), []);
    assert.deepEqual(minus(proxy.cluster, expandRules(rules.cluster)), []);
    assert.deepEqual(
      minus(granted, audit.used),
      minus(new Set([...handedOn(), EVENT_FOLDING]), audit.used),
      `grants never used are only those handed on to proxies (or Event folding); ${requests}`,
    );

    // Scope, from the API server's discovery: the ClusterRole grants only cluster-scoped
    // resources, and every request for a namespaced resource names the watched namespace
    // (the Lease: vmcp-system, by name).
    const scopes = await resourceScopes(cluster, [
      "rbac.authorization.k8s.io/v1",
      "authentication.k8s.io/v1",
      ...audit.resourceRequests.map((r) => r.apiVersion),
    ]);
    for (const r of rules.cluster) {
      for (const g of r.apiGroups ?? [""]) {
        for (const res of r.resources ?? []) {
          assert.equal(scopes.get(`${g}|${res}`), false, `ClusterRole grants ${g}/${res}`);
        }
      }
    }
    const outside = audit.resourceRequests.filter((r) => {
      const namespaced = scopes.get(`${r.group}|${r.resource}`);
      assert.notEqual(namespaced, undefined, `discovery knows ${r.group}/${r.resource}`);
      if (!namespaced) return false;
      if (r.resource === "leases") {
        return r.namespace !== OPERATOR_NAMESPACE || (r.name ?? LEASE_NAME) !== LEASE_NAME;
      }
      return r.namespace !== watched;
    }).map((r) => `${r.verb} ${r.namespace ?? "(all namespaces)"}/${r.resource}/${r.name ?? ""}`);
    assert.deepEqual(outside, [], "no namespaced request outside the watched namespace");
    const secrets = audit.resourceRequests.filter((r) => r.resource === "secrets");
    assert.deepEqual(
      [...new Set(secrets.map((r) => `${r.verb} ${r.namespace}`))].sort(),
      [`list ${watched}`, `watch ${watched}`],
      "Secrets are listed and watched in the watched namespace only",
    );
    const clusterWide = new Set(
      audit.resourceRequests.filter((r) => !r.namespace).map((r) => `${r.verb} ${r.resource}`),
    );
    assert.deepEqual(
      [...clusterWide].sort(),
      ["clusterrolebindings", "clusterroles"].flatMap((res) =>
        ["delete", "list", "patch", "watch"].map((v) => `${v} ${res}`)
      ).sort(),
      "cluster-wide: only the TokenReview RBAC (informers and sweep, apply, delete)",
    );

    // What the ServiceAccount may do, asked of the API server.
    const { token } = await operatorKubeconfig(cluster, dir);
    const can = canI({ url: cluster.url, caPem: cluster.caPem, token });
    const allowed: [string, string, string, string, string?][] = [
      ["list", "", "secrets", watched],
      ["watch", GROUP, "virtualmcpservers", watched],
      ["patch", GROUP, "virtualmcpservers/status", watched],
      ["create", "apps", "deployments", watched],
      ["create", "", "events", watched],
      ["create", RBAC, "roles", watched],
      ["delete", RBAC, "clusterroles", ""],
      ["create", "authentication.k8s.io", "tokenreviews", ""],
      ["update", "coordination.k8s.io", "leases", OPERATOR_NAMESPACE, LEASE_NAME],
    ];
    const denied: [string, string, string, string, string?][] = [
      ["list", "", "secrets", ""],
      ["watch", "", "secrets", ""],
      ["list", "", "secrets", other.name],
      ["list", "", "secrets", OPERATOR_NAMESPACE],
      ["get", "", "secrets", "kube-system"],
      ["create", "", "secrets", watched],
      ["list", GROUP, "virtualmcpservers", ""],
      ["get", GROUP, "virtualmcpservers", other.name],
      ["patch", GROUP, "virtualmcpservers/status", other.name],
      ["create", "apps", "deployments", other.name],
      ["delete", "apps", "deployments", watched],
      ["list", "", "configmaps", ""],
      ["create", "", "events", other.name],
      ["create", RBAC, "roles", other.name],
      ["bind", RBAC, "clusterroles", ""],
      ["escalate", RBAC, "clusterroles", ""],
      ["list", "", "namespaces", ""],
    ];
    for (const [v, g, r, ns, name] of allowed) {
      assert.equal(await can(v, g, r, ns, name), true, `may ${v} ${g}/${r} in "${ns}"`);
    }
    for (const [v, g, r, ns, name] of denied) {
      assert.equal(await can(v, g, r, ns, name), false, `may not ${v} ${g}/${r} in "${ns}"`);
    }
  } catch (err) {
    const log = await logTail(`${dir}/operator.log`).catch(() => "(no log)");
    throw new Error(`${(err as Error).message}\noperator log:\n${log}`, { cause: err });
  } finally {
    await operator?.stop(2_000);
    await cluster.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

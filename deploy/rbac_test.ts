/**
 * The operator's RBAC in deploy/ is exactly what the controller uses.
 *
 * The controller runs as a real process, with the Deployment's args and env, authenticated
 * by a TokenRequest token of the deploy/ ServiceAccount, on a kube-apiserver that writes an
 * audit log of that user's requests. The audit log shows which (group, resource, verb) the
 * controller used; every one must be granted and none refused, and every grant must be
 * used — except the few the controller only holds so that it may grant them to the proxies
 * it creates (RBAC forbids granting what one does not hold), computed from the controller's
 * own Role builders.
 */
import assert from "node:assert/strict";
import {
  createTestNamespace,
  getTestCluster,
  type KubeCluster,
  kubeRequest,
  startKubeCluster,
} from "../tests/harness/kube.ts";
import { freePort } from "../tests/harness/ports.ts";
import { logTail, type ServiceProcess } from "../tests/harness/process.ts";
import { buildClusterRbac, buildRbac, type Parent } from "../controller/vmcp/children.ts";
import { LEASE_NAME } from "../controller/main.ts";
import { CRD_API_VERSION } from "../controller/meta.ts";
import {
  applyDeploy,
  OPERATOR_NAMESPACE,
  OPERATOR_USER,
  operatorKubeconfig,
  renderDeploy,
  startOperator,
} from "./_kubectl.ts";
import {
  auditPolicy,
  expandRules,
  minus,
  operatorRules,
  perm,
  type PolicyRule,
  summariseAudit,
} from "./_rbac.ts";

const GV = CRD_API_VERSION;
const RBAC = "rbac.authorization.k8s.io";

/** Grants the controller holds only to hand them on to the RBAC it creates for proxies. */
function handedOn(): Set<string> {
  const parent: Parent = {
    apiVersion: GV,
    kind: "VirtualMCPServer",
    metadata: { name: "x", namespace: "y", uid: "z" },
  };
  const rules = [...buildRbac(parent), ...buildClusterRbac(parent)]
    .flatMap((o) => (o.rules ?? []) as PolicyRule[]);
  return expandRules(rules);
}

/** Event folding (controller/runtime/_events.ts) patches the count of a repeated Event. */
const EVENT_FOLDING = perm("", "events", "patch");

async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 30_000) {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}

function admin(cluster: KubeCluster) {
  const path = (o: { kind: string; namespace?: string }, plural: string, name = "") =>
    o.kind.startsWith("Cluster")
      ? `/apis/${RBAC}/v1/${plural}${name ? `/${name}` : ""}`
      : `/apis/${GV}/namespaces/${o.namespace}/${plural}${name ? `/${name}` : ""}`;
  return {
    create: (plural: string, o: Record<string, unknown> & { kind: string; namespace?: string }) => {
      const { namespace, ...rest } = o;
      const apiVersion = o.kind.startsWith("Cluster") ? `${RBAC}/v1` : GV;
      const metadata = { ...(rest.metadata as object), ...(namespace ? { namespace } : {}) };
      return kubeRequest(cluster, "POST", path(o, plural), { apiVersion, ...rest, metadata });
    },
    get: (plural: string, o: { kind: string; namespace?: string }, name: string) =>
      kubeRequest(cluster, "GET", path(o, plural, name), undefined, {
        raw: true,
      }),
  };
}

Deno.test("the operator reconciles with the deploy/ RBAC, is never refused, and uses every grant except those it hands on to proxies", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vmcp-rbac-" });
  await Deno.writeTextFile(`${dir}/policy.json`, auditPolicy(OPERATOR_USER));
  const cluster = await startKubeCluster({
    apiServerArgs: [`--audit-policy-file=${dir}/policy.json`, `--audit-log-path=${dir}/audit.log`],
  });
  let operator: ServiceProcess | undefined;
  try {
    const objs = await renderDeploy(cluster.binDir);
    await applyDeploy(cluster);
    const api = admin(cluster);
    // TokenReview RBAC left behind by a VirtualMCPServer deleted while no operator ran.
    const orphanLabels = {
      "app.kubernetes.io/managed-by": "vmcp-controller",
      "vmcp.toolhive.stacklok.dev/owner-namespace": "gone",
      "vmcp.toolhive.stacklok.dev/owner-name": "old",
    };
    await api.create("clusterroles", {
      kind: "ClusterRole",
      metadata: { name: "vmcp-gone-old-tokenreview", labels: orphanLabels },
      rules: [],
    });
    await using ns = await createTestNamespace(cluster, "work");
    const n = { namespace: ns.name };
    await api.create("mcpgroups", { ...n, kind: "MCPGroup", metadata: { name: "g" }, spec: {} });
    await api.create("mcpservers", {
      ...n,
      kind: "MCPServer",
      metadata: { name: "remote" },
      spec: { groupRef: { name: "g" }, url: "http://127.0.0.1:9/mcp" },
    });
    await api.create("mcpservers", {
      ...n,
      kind: "MCPServer",
      metadata: { name: "img" },
      spec: { groupRef: { name: "g" }, image: "example.test/img:1", transport: "streamable-http" },
    });
    await api.create("virtualmcpcompositetooldefinitions", {
      ...n,
      kind: "VirtualMCPCompositeToolDefinition",
      metadata: { name: "def" },
      spec: { name: "def", description: "d", steps: [{ id: "a", tool: "remote.echo" }] },
    });
    await api.create("virtualmcpservers", {
      ...n,
      kind: "VirtualMCPServer",
      metadata: { name: "v" },
      spec: { groupRef: { name: "g" }, incomingAuth: { type: "kubernetes" } },
    });

    const { path: kubeconfig } = await operatorKubeconfig(cluster, dir);
    const port = freePort();
    operator = startOperator(objs, {
      kubeconfig,
      pod: "vmcp-controller-0",
      metricsPort: port,
      logPath: `${dir}/operator.log`,
    });
    const probe = async (p: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${p}`);
      await res.body?.cancel();
      return res.status;
    };
    await until("/healthz 200", async () => (await probe("/healthz")) === 200);
    const lease = () =>
      kubeRequest<{ metadata: { resourceVersion: string }; spec: { holderIdentity?: string } }>(
        cluster,
        "GET",
        `/apis/coordination.k8s.io/v1/namespaces/${OPERATOR_NAMESPACE}/leases/${LEASE_NAME}`,
      );
    await until(
      "the pod to lead",
      async () => (await lease()).spec.holderIdentity === "vmcp-controller-0",
    );
    await until("/readyz 200", async () => (await probe("/readyz")) === 200);

    const exists = async (path: string) =>
      (await kubeRequest(cluster, "GET", path, undefined, { raw: true })).status === 200;
    const nsPath = (g: string, plural: string, name: string) =>
      `${g === "" ? "/api/v1" : `/apis/${g}`}/namespaces/${ns.name}/${plural}/${name}`;
    for (
      const p of [
        nsPath("apps/v1", "deployments", "v"),
        nsPath("", "services", "vmcp-v"),
        nsPath("", "configmaps", "v-vmcp-config"),
        nsPath("", "serviceaccounts", "v-vmcp"),
        nsPath(`${RBAC}/v1`, "roles", "v-vmcp"),
        nsPath(`${RBAC}/v1`, "rolebindings", "v-vmcp"),
        nsPath("apps/v1", "deployments", "mcp-img"),
        `/apis/${RBAC}/v1/clusterroles/vmcp-${ns.name}-v-tokenreview`,
        `/apis/${RBAC}/v1/clusterrolebindings/vmcp-${ns.name}-v-tokenreview`,
      ]
    ) await until(p, () => exists(p));
    const statusOf = async (plural: string, name: string) =>
      JSON.parse((await api.get(plural, { kind: "x", ...n }, name)).body).status;
    await until(
      "VirtualMCPServer status",
      async () => (await statusOf("virtualmcpservers", "v"))?.phase,
    );
    await until("MCPGroup status", async () => (await statusOf("mcpgroups", "g"))?.phase);
    await until("MCPServer status", async () => (await statusOf("mcpservers", "img"))?.phase);
    await until(
      "definition status",
      async () => (await statusOf("virtualmcpcompositetooldefinitions", "def"))?.validationStatus,
    );
    await until(
      "an Event",
      async () => ((await kubeRequest<{ items: unknown[] }>(
        cluster,
        "GET",
        `/api/v1/namespaces/${ns.name}/events`,
      ))
        .items.length > 0),
    );
    await until(
      "the orphan sweep",
      async () => !(await exists(`/apis/${RBAC}/v1/clusterroles/vmcp-gone-old-tokenreview`)),
    );

    // Switching away from Kubernetes auth deletes the TokenReview RBAC.
    await kubeRequest(
      cluster,
      "PATCH",
      nsPath(GV, "virtualmcpservers", "v"),
      { spec: { incomingAuth: { type: "anonymous" } } },
      { contentType: "application/merge-patch+json" },
    );
    await until(
      "TokenReview RBAC deleted",
      async () => !(await exists(`/apis/${RBAC}/v1/clusterroles/vmcp-${ns.name}-v-tokenreview`)),
    );
    const rv = (await lease()).metadata.resourceVersion;
    await until("a Lease renewal", async () => (await lease()).metadata.resourceVersion !== rv);

    await operator.stop(10_000);
    assert.equal((await operator.status).code, 0, "SIGTERM ends the operator cleanly");
    const logText = await Deno.readTextFile(`${dir}/operator.log`);
    assert.doesNotMatch(logText, /forbidden|\b403\b/i, "no refusal in the operator's log");

    const audit = summariseAudit(await Deno.readTextFile(`${dir}/audit.log`), OPERATOR_USER);
    assert.deepEqual(audit.forbidden, [], "no request refused");
    const rules = operatorRules(objs);
    const granted = expandRules([...rules.cluster, ...rules.lease]);
    assert.deepEqual(minus(audit.used, granted), [], "everything used is granted by deploy/");
    const handed = handedOn();
    assert.deepEqual(minus(handed, granted), [], "everything handed on to proxies is held");
    const unused = minus(granted, audit.used);
    assert.deepEqual(
      unused,
      minus(new Set([...handed, EVENT_FOLDING]), audit.used),
      `grants never used are only those handed on to proxies (or Event folding); requests:\n${
        audit.requests.join("\n")
      }`,
    );
    // The Lease is the only thing touched in the operator's namespace, by name.
    for (const r of audit.requests.filter((r) => r.includes("/leases/"))) {
      assert.match(r, new RegExp(`${OPERATOR_NAMESPACE}/leases/(${LEASE_NAME})?$`));
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

const shared = await getTestCluster();

Deno.test("the operator's ServiceAccount can do what the controller needs and nothing more", async () => {
  await applyDeploy(shared);
  const dir = await Deno.makeTempDir({ prefix: "vmcp-rbac-can-" });
  try {
    const { token } = await operatorKubeconfig(shared, dir);
    const sa = { url: shared.url, caPem: shared.caPem, token };
    const can = async (
      verb: string,
      group: string,
      resource: string,
      namespace = "team-a",
      name?: string,
    ) => {
      const [res, sub] = resource.split("/");
      const r = await kubeRequest<{ status: { allowed: boolean } }>(
        sa,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SelfSubjectAccessReview",
          spec: {
            resourceAttributes: { verb, group, resource: res, subresource: sub, namespace, name },
          },
        },
      );
      return r.status.allowed;
    };
    const allowed: [string, string, string, string?, string?][] = [
      ["watch", "toolhive.stacklok.dev", "virtualmcpservers"],
      ["list", "toolhive.stacklok.dev", "mcpservers", ""],
      ["patch", "toolhive.stacklok.dev", "virtualmcpservers/status"],
      ["patch", "apps", "deployments"],
      ["create", "", "configmaps"],
      ["create", "", "events"],
      ["delete", RBAC, "clusterrolebindings", ""],
      ["update", "coordination.k8s.io", "leases", OPERATOR_NAMESPACE, LEASE_NAME],
    ];
    const denied: [string, string, string, string?, string?][] = [
      ["delete", "", "namespaces", ""],
      ["get", "", "secrets", "kube-system"],
      ["create", "", "secrets"],
      ["create", "", "pods"],
      ["create", "", "pods/exec"],
      ["delete", "apps", "deployments"],
      ["delete", "", "configmaps"],
      ["update", "toolhive.stacklok.dev", "virtualmcpservers"],
      ["delete", "toolhive.stacklok.dev", "virtualmcpservers"],
      ["create", "apiextensions.k8s.io", "customresourcedefinitions", ""],
      ["escalate", RBAC, "clusterroles", ""],
      ["bind", RBAC, "clusterroles", ""],
      ["impersonate", "", "users", ""],
      ["list", "", "nodes", ""],
      ["update", "coordination.k8s.io", "leases", OPERATOR_NAMESPACE, "someone-elses-lease"],
      ["create", "coordination.k8s.io", "leases", "team-a"],
    ];
    for (const [v, g, r, ns, name] of allowed) {
      assert.equal(await can(v, g, r, ns, name), true, `may ${v} ${g}/${r} in "${ns ?? "team-a"}"`);
    }
    for (const [v, g, r, ns, name] of denied) {
      assert.equal(
        await can(v, g, r, ns, name),
        false,
        `may not ${v} ${g}/${r} in "${ns ?? "team-a"}"`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

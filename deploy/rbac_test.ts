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
import { createTestNamespace, getTestCluster } from "../tests/harness/kube.ts";
import { logTail, type ServiceProcess } from "../tests/harness/process.ts";
import { LEASE_NAME } from "../controller/main.ts";
import {
  applyDeploy,
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
  summariseAudit,
} from "./_rbac.ts";
import {
  awaitReconciled,
  createOrphanRbac,
  createWorkload,
  startAuditedCluster,
  startLeadingOperator,
} from "./_scenario.ts";

const RBAC = "rbac.authorization.k8s.io";

Deno.test("the operator reconciles with the deploy/ RBAC, is never refused, and uses every grant except those it hands on to proxies", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vmcp-rbac-" });
  const cluster = await startAuditedCluster(dir);
  let operator: ServiceProcess | undefined;
  try {
    const objs = await renderDeploy(cluster.binDir);
    await applyDeploy(cluster);
    const orphan = await createOrphanRbac(cluster, "gone");
    await using ns = await createTestNamespace(cluster, "work");
    await createWorkload(cluster, ns.name);
    operator = await startLeadingOperator(cluster, objs, dir);
    await awaitReconciled(cluster, ns.name, orphan);

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
    const may = canI(sa);
    const can = (
      verb: string,
      group: string,
      resource: string,
      namespace = "team-a",
      name?: string,
    ) => may(verb, group, resource, namespace, name);
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

/**
 * End to end on a real kube-apiserver: deploy/ installed with kubectl, the operator process
 * running with the deploy/ RBAC (a TokenRequest token of its ServiceAccount), the seed
 * examples applied with kubectl; the operator renders the children; a real proxy process
 * runs from the rendered ConfigMap and Deployment (args and env) with the token of the
 * ServiceAccount the operator created for it, reports its backends into the
 * VirtualMCPServer status, and an MCP SDK client lists and calls tools through it.
 * No kubelet runs: the test starts the proxy the Deployment describes and plays the
 * Deployment controller by writing the Deployment's status.
 */
import { until } from "../harness/until.ts";
import assert from "node:assert/strict";
import YAML from "yaml";
import { createTestNamespace, getTestCluster, kubeRequest } from "../harness/kube.ts";
import { freePorts } from "../harness/ports.ts";
import { logTail, type ServiceProcess, spawnService } from "../harness/process.ts";
import { serveHttpBackend } from "../fixtures/mod.ts";
import { connect } from "../proxy/helpers.ts";
import {
  applyDeploy,
  EXAMPLES_DIR,
  kubectlOk,
  operatorKubeconfig,
  renderDeploy,
  startOperator,
} from "../../deploy/_kubectl.ts";

const cluster = await getTestCluster();
const MAIN = new URL("../../main.ts", import.meta.url).pathname;

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

/** examples/k8s/group.yaml with both servers pointed at local test backends. */
async function groupExample(urls: Record<string, string>): Promise<string> {
  const docs = YAML.parseAllDocuments(await Deno.readTextFile(`${EXAMPLES_DIR}/group.yaml`))
    .map((d) => d.toJSON() as Json);
  for (const d of docs) {
    if (d.kind !== "MCPServer") continue;
    delete d.spec.image;
    d.spec.url = urls[d.metadata.name];
    d.spec.transport = "streamable-http";
  }
  return docs.map((d) => YAML.stringify(d)).join("---\n");
}

Deno.test("the operator turns the seed examples into a proxy that serves and calls the group's tools", async () => {
  await applyDeploy(cluster);
  const dir = await Deno.makeTempDir({ prefix: "vmcp-e2e-" });
  const github = await serveHttpBackend({ name: "github" });
  const fetchBackend = await serveHttpBackend({ name: "fetch" });
  await using ns = await createTestNamespace(cluster, "e2e");
  const api = (path: string) =>
    `/apis/toolhive.stacklok.dev/v1alpha1/namespaces/${ns.name}/${path}`;
  const [metricsPort, proxyPort] = freePorts(2) as [number, number];
  let operator: ServiceProcess | undefined;
  let proxy: ServiceProcess | undefined;
  try {
    const objs = await renderDeploy(cluster.binDir);
    const { path: kubeconfig } = await operatorKubeconfig(cluster, dir);
    operator = startOperator(objs, {
      kubeconfig,
      pod: `vmcp-controller-e2e-${crypto.randomUUID().slice(0, 8)}`,
      metricsPort,
      logPath: `${dir}/operator.log`,
      extraArgs: [`--namespace=${ns.name}`],
    });
    await Deno.writeTextFile(
      `${dir}/group.yaml`,
      await groupExample({ github: github.url, fetch: fetchBackend.url }),
    );
    for (const file of [`${dir}/group.yaml`, `${EXAMPLES_DIR}/minimal.yaml`]) {
      await kubectlOk(cluster.binDir, [
        "apply",
        "--server-side",
        "-n",
        ns.name,
        "-f",
        file,
      ], cluster.kubeconfigPath);
    }

    // The operator renders the children and reports Pending until the Deployment is available.
    const get = (path: string) => kubeRequest<Json>(cluster, "GET", path);
    const core = (p: string) => `/api/v1/namespaces/${ns.name}/${p}`;
    const cm = await until("the ConfigMap", () => get(core("configmaps/my-vmcp-vmcp-config")));
    await until("the Service", () => get(core("services/vmcp-my-vmcp")));
    const dep = await until(
      "the Deployment",
      () => get(`/apis/apps/v1/namespaces/${ns.name}/deployments/my-vmcp`),
    );
    const pending = await until("a Pending status", async () => {
      const s = (await get(api("virtualmcpservers/my-vmcp"))).status;
      return s?.phase === "Pending" && s;
    });
    assert.equal(pending.url, `http://vmcp-my-vmcp.${ns.name}.svc.cluster.local:4483`);

    // Run the proxy the Deployment describes, from the ConfigMap, as its ServiceAccount.
    const configPath = `${dir}/config.yaml`;
    await Deno.writeTextFile(configPath, cm.data["config.yaml"]);
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    const tr = await kubeRequest<Json>(
      cluster,
      "POST",
      core(`serviceaccounts/${pod.serviceAccountName}/token`),
      { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: {} },
    );
    await Deno.writeTextFile(`${dir}/token`, tr.status.token);
    await Deno.writeTextFile(`${dir}/ca.crt`, cluster.caPem);
    const env: Record<string, string> = {
      NO_PROXY: "127.0.0.1,localhost",
      VMCP_KUBE_API_URL: cluster.url,
      VMCP_KUBE_CA_FILE: `${dir}/ca.crt`,
      VMCP_KUBE_TOKEN_FILE: `${dir}/token`,
    };
    for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
    const args = (c.args as string[]).map((a) =>
      a.startsWith("--config=")
        ? `--config=${configPath}`
        : a.startsWith("--host=")
        ? "--host=127.0.0.1"
        : a.startsWith("--port=")
        ? `--port=${proxyPort}`
        : a
    );
    proxy = spawnService({
      name: "proxy",
      bin: Deno.execPath(),
      args: ["run", "-A", MAIN, ...args],
      logPath: `${dir}/proxy.log`,
      env,
    });
    const base = `http://127.0.0.1:${proxyPort}`;
    await until("the proxy's /readyz", async () => {
      const r = await fetch(`${base}${c.readinessProbe.httpGet.path}`);
      await r.body?.cancel();
      return r.status === 200;
    });

    const client = await connect(`${base}/mcp`);
    try {
      const names = (await client.client.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes("github_echo") && names.includes("fetch_echo"), String(names));
      const res = await client.client.callTool({
        name: "fetch_echo",
        arguments: { message: "through the operator" },
      });
      assert.deepEqual(res.structuredContent, {
        message: "through the operator",
        backend: "fetch",
      });
      assert.equal(fetchBackend.state.calls.length, 1);
      assert.equal(github.state.calls.length, 0);
    } finally {
      await client.close();
    }

    // The proxy reports its backends with the RBAC the operator created for it.
    const reported = await until("discoveredBackends from the proxy", async () => {
      const s = (await get(api("virtualmcpservers/my-vmcp"))).status;
      return s?.discoveredBackends?.length === 2 && s.backendCount === 2 && s.discoveredBackends;
    });
    assert.deepEqual(reported.map((b: Json) => b.name).sort(), ["fetch", "github"]);

    // Playing the Deployment controller: the pod is available, so the server is Ready.
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    await kubeRequest(
      cluster,
      "PATCH",
      `/apis/apps/v1/namespaces/${ns.name}/deployments/my-vmcp/status`,
      {
        status: {
          observedGeneration: dep.metadata.generation,
          replicas: 1,
          updatedReplicas: 1,
          readyReplicas: 1,
          availableReplicas: 1,
          conditions: [{
            type: "Available",
            status: "True",
            reason: "MinimumReplicasAvailable",
            lastUpdateTime: now,
            lastTransitionTime: now,
          }],
        },
      },
      { contentType: "application/merge-patch+json" },
    );
    await until(
      "phase Ready",
      async () => (await get(api("virtualmcpservers/my-vmcp"))).status?.phase === "Ready",
    );

    await proxy.stop(10_000);
    assert.equal((await proxy.status).code, 0, "SIGTERM ends the proxy cleanly");
    await operator.stop(10_000);
    assert.equal((await operator.status).code, 0, "SIGTERM ends the operator cleanly");
    const logs = await Deno.readTextFile(`${dir}/operator.log`) +
      await Deno.readTextFile(`${dir}/proxy.log`);
    assert.doesNotMatch(logs, /forbidden|\b403\b/i);
  } catch (err) {
    const tail = async (f: string) => await logTail(`${dir}/${f}`).catch(() => "(none)");
    throw new Error(
      `${(err as Error).message}\noperator log:\n${await tail(
        "operator.log",
      )}\nproxy log:\n${await tail("proxy.log")}`,
      { cause: err },
    );
  } finally {
    await proxy?.stop(2_000);
    await operator?.stop(2_000);
    await github.stop();
    await fetchBackend.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

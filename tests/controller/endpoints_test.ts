/**
 * The controller's HTTP endpoints with `runController` in-process against a real
 * kube-apiserver: /healthz, /readyz (503 until the informers synced), and /metrics
 * (reconciles, errors, durations, queue depth, the leader gauge with the identity).
 */
import assert from "node:assert/strict";
import { createTestNamespace, getTestCluster } from "../harness/kube.ts";
import { silentLogger } from "../../core/log.ts";
import { runController } from "../../controller/main.ts";
import type { KubeObject } from "../../controller/runtime/kube.ts";
import { eventually, GV, installCrds, testClient } from "./_setup.ts";
import { getVmcp, group, urlServer, vmcp } from "./_fixtures.ts";
import { startApiGate } from "./_gate.ts";

const cluster = await getTestCluster();
await installCrds(cluster);
const inProcess = { sanitizeResources: false, sanitizeOps: false };

type Sample = (name: string, labels?: Record<string, string>) => number | undefined;

function parseMetrics(body: string): Sample {
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of body.split("\n")) {
    const m = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/);
    if (!m) continue;
    const labels = Object.fromEntries(
      [...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]),
    );
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return (name, labels = {}) =>
    samples.find((s) =>
      s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
    )?.value;
}

interface Running {
  base: string;
  get(path: string): Promise<{ status: number; body: string }>;
  /** Value of the sample `name{labels}` (labels matched as a subset), or undefined. */
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  /** One scrape, read several times. */
  scrape(): Promise<Sample>;
  stop(): Promise<number>;
}

async function start(
  opts: { kubeconfig: string; namespace: string; leaderElect: boolean; identity: string },
): Promise<Running> {
  const ac = new AbortController();
  let onPort!: (port: number) => void;
  const listening = new Promise<number>((r) => (onPort = r));
  const done = runController({
    kubeconfig: opts.kubeconfig,
    namespace: opts.namespace,
    leaderElect: opts.leaderElect,
    leaseNamespace: opts.namespace,
    leaseDuration: "15",
    renewDeadline: "10",
    retryPeriod: "0.5",
    identity: opts.identity,
    metricsPort: "0",
    proxyImage: "example.test/vmcp:test",
    env: () => undefined,
    logger: silentLogger,
    onListen: (a) => onPort(a.port),
  }, ac.signal);
  const port = await Promise.race([listening, done.then((c) => Promise.reject(c))]);
  const base = `http://127.0.0.1:${port}`;
  const get = async (path: string) => {
    const res = await fetch(base + path);
    return { status: res.status, body: await res.text() };
  };
  return {
    base,
    get,
    async scrape() {
      return parseMetrics((await get("/metrics")).body);
    },
    async metric(name, labels = {}) {
      return parseMetrics((await get("/metrics")).body)(name, labels);
    },
    async stop() {
      ac.abort();
      return await done;
    },
  };
}

Deno.test({
  name:
    "/healthz is 200 and /readyz 503 while the API server is unreachable, /readyz turns 200 once the informers synced, and /metrics counts reconciles, errors, durations and queue depth",
  ...inProcess,
  fn: async () => {
    await using ns = await createTestNamespace(cluster, "ctrl-http");
    const kube = testClient(cluster);
    await using gate = await startApiGate(cluster.url, cluster.kubeconfigPath);
    const c = await start({
      kubeconfig: gate.kubeconfigPath,
      namespace: ns.name,
      leaderElect: false,
      identity: "ctrl-http",
    });
    try {
      assert.equal((await c.get("/healthz")).status, 200);
      const before = await c.get("/readyz");
      assert.equal(before.status, 503, "not ready before the informers synced");
      assert.match(before.body, /not synced/);
      assert.equal((await c.get("/nope")).status, 404);
      gate.open();
      await eventually("/readyz 200", async () => (await c.get("/readyz")).status === 200);

      await kube.create(group(ns.name, "g"));
      await kube.create(urlServer(ns.name, "s1", "g"));
      // Invalid: Failed without children (priority needs priorityOrder).
      await kube.create(vmcp(ns.name, "v", {
        groupRef: { name: "g" },
        aggregation: { conflictResolution: "priority" },
      }));
      await eventually(
        "v Failed",
        async () => (await getVmcp(kube, ns.name, "v"))?.status?.phase === "Failed",
      );
      for (const controller of ["vmcp", "group", "server"]) {
        // The handler returns (and is counted) just after its status write.
        await eventually(
          `${controller} reconciles counted`,
          async () =>
            ((await c.metric("vmcp_controller_reconcile_total", {
              controller,
              result: "success",
            })) ?? 0) >= 1,
        );
        const m = await c.scrape();
        const count = m("vmcp_controller_reconcile_duration_seconds_count", { controller });
        assert.ok((count ?? 0) >= 1, `${controller} reconcile durations observed: ${count}`);
        assert.equal(
          m("vmcp_controller_reconcile_duration_seconds_bucket", { controller, le: "+Inf" }),
          count,
          "the histogram has buckets",
        );
        assert.ok((m("vmcp_controller_workqueue_depth", { name: controller }) ?? -1) >= 0);
        assert.ok((m("vmcp_controller_workqueue_adds_total", { name: controller }) ?? 0) >= 1);
      }
      assert.equal(
        await c.metric("vmcp_controller_reconcile_errors_total", { controller: "vmcp" }),
        undefined,
      );

      // A terminating namespace accepts updates but refuses new objects: fixing the spec
      // makes the reconciler create children, which the API server forbids → an error.
      await ns.delete();
      await kube.patch({
        apiVersion: GV,
        kind: "VirtualMCPServer",
        metadata: { name: "v", namespace: ns.name },
      }, {
        spec: { aggregation: null },
      });
      const errors = await eventually(
        "a counted reconcile error",
        async () =>
          (await c.metric("vmcp_controller_reconcile_errors_total", { controller: "vmcp" })) ?? 0,
      );
      assert.ok(errors >= 1);
      assert.ok(
        (await c.metric("vmcp_controller_reconcile_total", {
          controller: "vmcp",
          result: "error",
        }))! >= 1,
      );
      assert.ok(
        (await c.metric("vmcp_controller_workqueue_retries_total", { name: "vmcp" }))! >= 1,
      );
    } finally {
      assert.equal(await c.stop(), 0);
    }
  },
});

Deno.test({
  name: "With leader election the leader gauge is 1 for this identity while it holds the Lease",
  ...inProcess,
  fn: async () => {
    await using ns = await createTestNamespace(cluster, "ctrl-leader");
    const kube = testClient(cluster);
    const c = await start({
      kubeconfig: cluster.kubeconfigPath,
      namespace: ns.name,
      leaderElect: true,
      identity: "ctrl-metrics-a",
    });
    try {
      await eventually(
        "leader gauge 1",
        async () =>
          (await c.metric("vmcp_controller_leader", { identity: "ctrl-metrics-a" })) === 1,
      );
      const lease = await kube.get<KubeObject & { spec?: { holderIdentity?: string } }>(
        "coordination.k8s.io/v1",
        "Lease",
        ns.name,
        "vmcp-controller-leader",
      );
      assert.equal(lease?.spec?.holderIdentity, "ctrl-metrics-a");
      await eventually(
        "/readyz 200 while leading",
        async () => (await c.get("/readyz")).status === 200,
      );
      await kube.create(group(ns.name, "g"));
      await eventually(
        "the leader reconciles",
        async () =>
          ((await c.metric("vmcp_controller_reconcile_total", { controller: "group" })) ?? 0) >= 1,
      );
    } finally {
      assert.equal(await c.stop(), 0);
    }
  },
});

/**
 * Informer against a real kube-apiserver. This file starts a private cluster (the shared one
 * cannot be restarted) at module load, so the processes exist before the first test.
 */
import assert from "node:assert/strict";
import { createTestNamespace, startKubeCluster } from "../../tests/harness/kube.ts";
import { createKubeClient, type KubeObject } from "./kube.ts";
import { Informer, type InformerEvent, type InformerSource } from "./informer.ts";

const cluster = await startKubeCluster();
const kube = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath, requestTimeoutMs: 30_000 });

type ConfigMap = KubeObject & { data?: Record<string, string> };

async function waitFor(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`Timed out after ${timeoutMs}ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function configMap(namespace: string, name: string, data: Record<string, string>): ConfigMap {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace }, data };
}

function summary(events: InformerEvent<ConfigMap>[]): string[] {
  return events.map((e) =>
    `${e.type} ${e.object.metadata?.name} ${JSON.stringify(e.object.data ?? {})}`
  );
}

Deno.test("Informer delivers add, update and delete for ConfigMaps and keeps its store current", async () => {
  await using ns = await createTestNamespace(cluster, "informer");
  await kube.create(configMap(ns.name, "before", { v: "0" }));
  const informer = new Informer<ConfigMap>(kube, {
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace: ns.name,
  });
  const events: InformerEvent<ConfigMap>[] = [];
  informer.on((e) => events.push(e));
  const ac = new AbortController();
  const running = informer.run(ac.signal);
  try {
    assert.equal(informer.hasSynced(), false);
    assert.equal(await informer.waitForSync(AbortSignal.timeout(30_000)), true);
    assert.equal(informer.get(ns.name, "before")?.data?.v, "0");
    assert.deepEqual(summary(events), ['add before {"v":"0"}']);

    await kube.apply(configMap(ns.name, "cm", { v: "1" }), { fieldManager: "t" });
    await waitFor("add", () => events.length === 2);
    await kube.apply(configMap(ns.name, "cm", { v: "2" }), { fieldManager: "t" });
    await waitFor("update", () => events.length === 3);
    const update = events[2]!;
    assert.equal(update.type, "update");
    assert.equal(update.type === "update" && update.old.data?.v, "1");
    // An apply that changes nothing keeps the resourceVersion: no event.
    await kube.apply(configMap(ns.name, "cm", { v: "2" }), { fieldManager: "t" });
    await kube.delete("v1", "ConfigMap", ns.name, "cm");
    await waitFor("delete", () => events.length >= 4);
    assert.deepEqual(summary(events), [
      'add before {"v":"0"}',
      'add cm {"v":"1"}',
      'update cm {"v":"2"}',
      'delete cm {"v":"2"}',
    ]);
    assert.equal(informer.get(ns.name, "cm"), undefined);
    assert.deepEqual(informer.list(ns.name).map((o) => o.metadata?.name), ["before"]);
  } finally {
    ac.abort();
    await running;
  }
});

Deno.test("Informer keeps retrying with backoff while the kind cannot be discovered", async () => {
  const informer = new Informer(kube, {
    apiVersion: "example.com/v1",
    kind: "Missing",
    minBackoffMs: 50,
    maxBackoffMs: 200,
  });
  const ac = new AbortController();
  const running = informer.run(ac.signal);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(informer.hasSynced(), false);
  ac.abort();
  await running;
});

Deno.test("Informer survives an API server restart and delivers changes made after it", {
  // restartApiServer() starts a new kube-apiserver process that outlives this test.
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const ns = await createTestNamespace(cluster, "informer-restart");
  let lists = 0;
  const source: InformerSource = {
    kubeConfig: kube.kubeConfig,
    resourcePath: (...a) => kube.resourcePath(...a),
    list: (...a) => (lists++, kube.list(...a)),
  };
  const informer = new Informer<ConfigMap>(source, {
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace: ns.name,
    minBackoffMs: 200,
    maxBackoffMs: 1000,
  });
  const events: InformerEvent<ConfigMap>[] = [];
  informer.on((e) => events.push(e));
  const ac = new AbortController();
  const running = informer.run(ac.signal);
  try {
    assert.equal(await informer.waitForSync(AbortSignal.timeout(30_000)), true);
    await kube.create(configMap(ns.name, "a", { v: "1" }));
    await waitFor("add a", () => events.length === 1);

    await cluster.restartApiServer();

    await kube.create(configMap(ns.name, "b", { v: "1" }));
    await kube.apply(configMap(ns.name, "a", { v: "2" }), { fieldManager: "t" });
    await waitFor("changes after restart", () => events.length >= 3, 60_000);
    assert.deepEqual(summary(events), [
      'add a {"v":"1"}',
      'add b {"v":"1"}',
      'update a {"v":"2"}',
    ]);
    assert.equal(informer.get(ns.name, "b")?.data?.v, "1");
    assert.ok(lists >= 1);
  } finally {
    ac.abort();
    await running;
    await ns.delete();
  }
});

Deno.test("the private cluster stops", async () => {
  await cluster.stop();
});

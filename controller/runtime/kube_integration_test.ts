/**
 * KubeClient against a real kube-apiserver (tests/harness).
 */
import assert from "node:assert/strict";
import { createTestNamespace, getTestCluster } from "../../tests/harness/kube.ts";
import { createKubeClient, isStatus, KubeApiError, type KubeObject } from "./kube.ts";

const cluster = await getTestCluster();

function client() {
  return createKubeClient({ kubeconfigPath: cluster.kubeconfigPath, requestTimeoutMs: 10_000 });
}

Deno.test("KubeClient.get() resolves undefined for a missing object and apply() creates then updates it", async () => {
  await using ns = await createTestNamespace(cluster, "kube-client");
  using kube = client();
  assert.equal(await kube.get("v1", "ConfigMap", ns.name, "absent"), undefined);
  const cm = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "cfg", namespace: ns.name, labels: { app: "vmcp" } },
    data: { a: "1" },
  };
  const created = await kube.apply(cm, { fieldManager: "vmcp-test" });
  assert.equal((created.data as Record<string, string>).a, "1");
  await kube.apply({ ...cm, data: { a: "2" } }, { fieldManager: "vmcp-test" });
  const read = await kube.get<typeof cm>("v1", "ConfigMap", ns.name, "cfg");
  assert.equal(read?.data.a, "2");
  const list = await kube.list("v1", "ConfigMap", ns.name, "app=vmcp");
  assert.deepEqual(list.items.map((o) => [o.kind, o.metadata?.name]), [["ConfigMap", "cfg"]]);
  assert.ok(list.metadata.resourceVersion);
  assert.equal(await kube.delete("v1", "ConfigMap", ns.name, "cfg"), true);
  assert.equal(await kube.delete("v1", "ConfigMap", ns.name, "cfg"), false);
});

Deno.test("KubeClient.replace() with a stale resourceVersion fails with status 409", async () => {
  await using ns = await createTestNamespace(cluster, "kube-client");
  using kube = client();
  const cm = await kube.create<KubeObject>({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "cfg", namespace: ns.name },
    data: { a: "1" },
  });
  await kube.replace({ ...cm, data: { a: "2" } });
  const err = await kube.replace({ ...cm, data: { a: "3" } }).catch((e) => e);
  assert.ok(isStatus(err, 409), String(err));
  assert.equal(err.reason, "Conflict");
  assert.match(err.apiMessage, /the object has been modified/);
});

Deno.test("KubeClient maps API failures to KubeApiError with the status and API message", async () => {
  using kube = client();
  const err = await kube.create({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "Bad_Name", namespace: "default" },
  }).catch((e) => e);
  assert.ok(isStatus(err, 422), String(err));
  assert.equal(err.reason, "Invalid");
  assert.match(err.apiMessage, /Bad_Name/);
});

Deno.test("KubeClient.applyStatus() and patchStatus() write only the status subresource", async () => {
  await using ns = await createTestNamespace(cluster, "kube-client");
  using kube = client();
  // A ResourceQuota has spec + status, and no controller runs here to overwrite status.
  const quota = {
    apiVersion: "v1",
    kind: "ResourceQuota",
    metadata: { name: "q", namespace: ns.name },
    spec: { hard: { pods: "5" } },
  };
  await kube.apply(quota, { fieldManager: "vmcp-test" });
  await kube.applyStatus({
    apiVersion: "v1",
    kind: "ResourceQuota",
    metadata: { name: "q", namespace: ns.name },
    status: { hard: { pods: "5" }, used: { pods: "1" } },
  }, { fieldManager: "vmcp-test" });
  let read = await kube.get<KubeObject & { status?: { used?: Record<string, string> } }>(
    "v1",
    "ResourceQuota",
    ns.name,
    "q",
  );
  assert.equal(read?.status?.used?.pods, "1");
  await kube.patchStatus(quota, { status: { used: { pods: "2" } } });
  read = await kube.get("v1", "ResourceQuota", ns.name, "q");
  assert.equal(read?.status?.used?.pods, "2");
  // A status write does not touch spec; a spec apply does not touch status.
  await kube.apply({ ...quota, spec: { hard: { pods: "6" } } }, { fieldManager: "vmcp-test" });
  read = await kube.get("v1", "ResourceQuota", ns.name, "q");
  assert.equal(read?.status?.used?.pods, "2");
});

Deno.test("KubeClient.createEvent() records a core/v1 Event and folds repeats into its count", async () => {
  await using ns = await createTestNamespace(cluster, "kube-client");
  using kube = client();
  const cm = await kube.apply<KubeObject>({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "cfg", namespace: ns.name },
  }, { fieldManager: "vmcp-test" });
  const ev = {
    type: "Warning" as const,
    reason: "BackendUnreachable",
    message: "backend x is down",
  };
  await kube.createEvent(cm, ev);
  await kube.createEvent(cm, ev);
  await kube.createEvent(cm, { type: "Normal", reason: "Applied", message: "applied" });
  const events = (await kube.list<KubeObject & Record<string, unknown>>("v1", "Event", ns.name))
    .items;
  assert.equal(events.length, 2);
  const warning = events.find((e) => e.reason === "BackendUnreachable");
  assert.equal(warning?.count, 2);
  assert.equal(warning?.type, "Warning");
  assert.deepEqual(
    (warning?.involvedObject as Record<string, unknown>).name,
    "cfg",
  );
});

Deno.test("KubeClient bounds each request with its timeout", async () => {
  using kube = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath, requestTimeoutMs: 1 });
  // Discovery and the request itself must both give up quickly rather than hang.
  const started = Date.now();
  const err = await kube.list("v1", "ConfigMap", "default", undefined, { timeoutMs: 1 }).catch((
    e,
  ) => e);
  assert.ok(err instanceof KubeApiError, String(err));
  assert.equal(err.reason, "Timeout");
  assert.equal(err.status, 0);
  // A generous bound: "gave up" rather than "hung"; the reason above shows it was the timeout.
  assert.ok(Date.now() - started < 60_000, `took ${Date.now() - started} ms`);
});

Deno.test("KubeClient reports a kind the server does not serve as KubeApiError 404 UnknownKind", async () => {
  using kube = client();
  const err = await kube.get("example.com/v1", "Nothing", "default", "x").catch((e) => e);
  assert.ok(err instanceof KubeApiError, String(err));
  assert.equal(err.reason, "UnknownKind");
});

/**
 * The controller caches Secrets through `secretKeysOnly`: against a real kube-apiserver, the
 * informer's cache holds names and data keys, never a value (not even inside kubectl's
 * last-applied-configuration annotation), on list and on watch.
 */
import assert from "node:assert/strict";
import { createTestNamespace, getTestCluster } from "../../tests/harness/kube.ts";
import { createKubeClient, type KubeObject } from "./kube.ts";
import { Informer, secretKeysOnly } from "./informer.ts";

const cluster = await getTestCluster();
const kube = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath, requestTimeoutMs: 30_000 });

type Secret = KubeObject & { type?: string; data?: Record<string, string> };
const VALUE = "s3cr3t-value-never-cached";
const b64 = (s: string) => btoa(s);

function secret(namespace: string, name: string, data: Record<string, string>): Secret {
  const manifest = { apiVersion: "v1", kind: "Secret", metadata: { name, namespace }, data };
  return {
    ...manifest,
    type: "Opaque",
    metadata: {
      name,
      namespace,
      annotations: {
        "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify(manifest),
      },
    },
  };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`Timed out after ${timeoutMs}ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

Deno.test("secretKeysOnly keeps identity, type and key names, and drops every value", () => {
  const kept = secretKeysOnly({
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: "s",
      namespace: "n",
      uid: "u",
      resourceVersion: "7",
      labels: { a: "b" },
      annotations: { x: VALUE },
      managedFields: [{ manager: "m" }],
    },
    type: "kubernetes.io/tls",
    data: { "tls.crt": b64(VALUE), "tls.key": b64(VALUE) },
  } as unknown as KubeObject);
  assert.deepEqual(kept, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "s", namespace: "n", uid: "u", resourceVersion: "7" },
    type: "kubernetes.io/tls",
    data: { "tls.crt": "", "tls.key": "" },
  });
});

Deno.test("the Secret informer caches key names only, on list and on watch", async () => {
  await using ns = await createTestNamespace(cluster, "secret-cache");
  await kube.create(secret(ns.name, "listed", { token: b64(VALUE) }));
  const informer = new Informer<Secret>(kube, {
    apiVersion: "v1",
    kind: "Secret",
    namespace: ns.name,
    transform: secretKeysOnly,
  });
  const seen: Secret[] = [];
  informer.on((e) => seen.push(e.object));
  const ac = new AbortController();
  const running = informer.run(ac.signal);
  try {
    assert.equal(await informer.waitForSync(AbortSignal.timeout(30_000)), true);
    assert.deepEqual(informer.get(ns.name, "listed")?.data, { token: "" });

    await kube.create(secret(ns.name, "watched", { a: b64(VALUE), b: b64(VALUE) }));
    await waitFor("watched add", () => informer.get(ns.name, "watched") !== undefined);
    assert.deepEqual(informer.get(ns.name, "watched")?.data, { a: "", b: "" });
    await kube.apply(secret(ns.name, "watched", { a: b64(VALUE), c: b64(VALUE) }), {
      fieldManager: "t",
      force: true,
    });
    await waitFor("watched update", () => "c" in (informer.get(ns.name, "watched")?.data ?? {}));

    const everything = JSON.stringify([informer.list(ns.name), seen]);
    assert.ok(!everything.includes(VALUE), "a value leaked into the cache");
    assert.ok(!everything.includes(b64(VALUE)), "an encoded value leaked into the cache");
    assert.ok(!everything.includes("last-applied"), "annotations are not cached");
  } finally {
    ac.abort();
    await running;
  }
});

import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { createTestNamespace, getTestCluster, kubeRequest, startKubeCluster } from "./kube.ts";

// Top level, so processes started here (when no shared cluster is set) predate the tests.
const cluster = await getTestCluster();

function clients() {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  return {
    core: kc.makeApiClient(k8s.CoreV1Api),
    authn: kc.makeApiClient(k8s.AuthenticationV1Api),
  };
}

Deno.test("the test cluster creates a namespace that then appears in the namespace list", async () => {
  const { core } = clients();
  await using ns = await createTestNamespace(cluster, "harness");
  const list = await core.listNamespace();
  assert.ok(list.items.some((n) => n.metadata?.name === ns.name));
  const got = await core.readNamespace({ name: ns.name });
  assert.equal(got.status?.phase, "Active");
});

Deno.test("a TokenRequest token for a ServiceAccount passes a TokenReview as that account", async () => {
  const { core, authn } = clients();
  await using ns = await createTestNamespace(cluster, "harness-sa");
  await core.createNamespacedServiceAccount({
    namespace: ns.name,
    body: { metadata: { name: "robot" } },
  });
  const tr = await core.createNamespacedServiceAccountToken({
    namespace: ns.name,
    name: "robot",
    body: { spec: { audiences: ["vmcp-test"], expirationSeconds: 600 } },
  });
  const token = tr.status?.token;
  assert.ok(token, "TokenRequest returned no token");

  const review = await authn.createTokenReview({
    body: { spec: { token, audiences: ["vmcp-test"] } },
  });
  assert.equal(review.status?.authenticated, true, JSON.stringify(review.status));
  assert.equal(review.status?.user?.username, `system:serviceaccount:${ns.name}:robot`);

  const bad = await authn.createTokenReview({
    body: { spec: { token: token + "x", audiences: ["vmcp-test"] } },
  });
  assert.notEqual(bad.status?.authenticated, true);
});

Deno.test("RBAC is enforced: a ServiceAccount without bindings cannot list namespaces", async () => {
  const { core } = clients();
  await using ns = await createTestNamespace(cluster, "harness-rbac");
  await core.createNamespacedServiceAccount({
    namespace: ns.name,
    body: { metadata: { name: "nobody" } },
  });
  const tr = await core.createNamespacedServiceAccountToken({
    namespace: ns.name,
    name: "nobody",
    body: { spec: {} },
  });
  const token = tr.status?.token;
  assert.ok(token, "TokenRequest returned no token");
  const res = await kubeRequest(
    { url: cluster.url, caPem: cluster.caPem, token },
    "GET",
    "/api/v1/namespaces",
    undefined,
    { raw: true },
  );
  assert.equal(res.status, 403);
});

Deno.test("a private cluster keeps its data across an API server restart and stops cleanly", async () => {
  const own = await startKubeCluster();
  try {
    await using ns = await createTestNamespace(own, "restart");
    await own.restartApiServer();
    const got = await kubeRequest<{ metadata: { name: string } }>(
      own,
      "GET",
      `/api/v1/namespaces/${ns.name}`,
    );
    assert.equal(got.metadata.name, ns.name);
  } finally {
    await own.stop();
  }
  const after = await kubeRequest(own, "GET", "/readyz", undefined, { raw: true }).catch(
    (err: unknown) => err,
  );
  assert.ok(after instanceof Error, "the API server still answers after stop()");
});

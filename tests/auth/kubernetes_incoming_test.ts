/**
 * Kubernetes service-account tokens verified by the proxy through TokenReview on the real
 * kube-apiserver, with the proxy's own service-account token (system:auth-delegator) read
 * from a file as in a pod.
 */
import assert from "node:assert/strict";
import {
  createTestNamespace,
  getTestCluster,
  grantAuthDelegator,
  type KubeCluster,
  kubeRequest,
  serviceAccountToken as harnessToken,
} from "../harness/kube.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { authProxy, config, connectWithToken, echo, type Seen } from "./helpers.ts";

const cluster: KubeCluster = await getTestCluster();

function serviceAccountToken(ns: string, name: string, audiences: string[]): Promise<string> {
  return harnessToken(cluster, ns, name, audiences, 600);
}

async function statusOf(url: string, token: string): Promise<Seen | undefined> {
  return await connectWithToken(url, token).then(
    async (c) => {
      await c.close();
      return undefined;
    },
    (e: Error & { seen?: Seen[] }) => e.seen?.at(-1),
  );
}

Deno.test("service-account tokens are verified by TokenReview on the real API server with the proxy's own auth-delegator token; the backend never sees them", async () => {
  await using ns = await createTestNamespace(cluster, "auth-k8s");
  const binding = `vmcp-auth-${ns.name}`;
  await grantAuthDelegator(cluster, binding, ns.name, "proxy");
  const dir = await Deno.makeTempDir();
  const tokenFile = `${dir}/token`;
  await Deno.writeTextFile(
    tokenFile,
    await serviceAccountToken(ns.name, "proxy", ["https://kubernetes.default.svc.cluster.local"]),
  );
  const authorizations: (string | null)[] = [];
  const web = await serveHttpBackend({
    name: "web",
    onRequest: (req) => void authorizations.push(req.headers.get("authorization")),
  });
  const p = await authProxy(
    config({
      incomingAuth: { type: "kubernetes", kubernetes: { audiences: ["vmcp"], namespace: ns.name } },
      backends: [{ name: "web", url: web.url }],
    }),
    {
      deps: {
        incoming: { kubernetes: { apiServerUrl: cluster.url, tokenFile, caPem: cluster.caPem } },
      },
    },
  );
  try {
    const callerToken = await serviceAccountToken(ns.name, "caller", ["vmcp"]);
    const c = await connectWithToken(p.url, callerToken);
    assert.equal((await echo(c, "web_echo", "from a pod")).message, "from a pod");
    await c.close();
    assert.ok(authorizations.length > 0);
    assert.ok(authorizations.every((a) => a === null), "the backend received an Authorization");

    const wrongAudience = await serviceAccountToken(ns.name, "other", ["not-vmcp"]);
    const refused = await statusOf(p.url, wrongAudience);
    assert.equal(refused?.status, 401);
    assert.match(refused!.headers.get("www-authenticate")!, /error="invalid_token"/);
    assert.equal((await statusOf(p.url, "not-a-token"))?.status, 401);

    await using elsewhere = await createTestNamespace(cluster, "auth-k8s-other");
    const foreign = await serviceAccountToken(elsewhere.name, "caller", ["vmcp"]);
    assert.equal((await statusOf(p.url, foreign))?.status, 401, "namespace restriction");
  } finally {
    await p.stop();
    await web.stop();
    await kubeRequest(
      cluster,
      "DELETE",
      `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${binding}`,
      undefined,
      { raw: true },
    );
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a proxy whose service account may not create TokenReviews answers 503 (retryable), not 401", async () => {
  await using ns = await createTestNamespace(cluster, "auth-k8s-norbac");
  const proxyToken = await serviceAccountToken(ns.name, "proxy", [
    "https://kubernetes.default.svc.cluster.local",
  ]);
  const p = await authProxy(
    config({
      incomingAuth: { type: "kubernetes", kubernetes: { audiences: ["vmcp"] } },
      backends: [],
    }),
    {
      deps: {
        incoming: {
          kubernetes: { apiServerUrl: cluster.url, bearerToken: proxyToken, caPem: cluster.caPem },
        },
      },
    },
  );
  try {
    const answer = await statusOf(p.url, await serviceAccountToken(ns.name, "caller", ["vmcp"]));
    assert.equal(answer?.status, 503);
    assert.equal(answer.headers.get("retry-after"), "5");
  } finally {
    await p.stop();
  }
});

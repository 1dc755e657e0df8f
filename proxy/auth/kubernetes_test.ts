/**
 * TokenReview verification against the real kube-apiserver of tests/harness/kube.ts.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../../core/clock.ts";
import {
  createTestNamespace,
  getTestCluster,
  grantAuthDelegator,
  kubeRequest,
  serviceAccountToken as harnessToken,
} from "../../tests/harness/kube.ts";
import { AuthError } from "./errors.ts";
import type { FetchFn } from "./http.ts";
import { createTokenReviewVerifier } from "./kubernetes.ts";
import { createIncomingAuth } from "./incoming.ts";
import { identityKey } from "../../core/auth/identity.ts";

const cluster = await getTestCluster();

function serviceAccountToken(ns: string, name: string, audiences: string[]): Promise<string> {
  return harnessToken(cluster, ns, name, audiences, 600);
}

async function rejectsWith(p: Promise<unknown>, code: string, message: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof AuthError, String(e));
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("a service-account token is verified by TokenReview with the proxy's own token from a file", async () => {
  await using ns = await createTestNamespace(cluster, "tokenreview");
  const binding = `vmcp-proxy-${ns.name}`;
  await grantAuthDelegator(cluster, binding, ns.name, "proxy");
  const dir = await Deno.makeTempDir();
  let calls = 0;
  const countingFetch: FetchFn = (input, init) => {
    calls++;
    return fetch(input, init);
  };
  const clock = new ManualClock(Date.now());
  const tokenFile = `${dir}/token`;
  await Deno.writeTextFile(
    tokenFile,
    await serviceAccountToken(ns.name, "proxy", ["https://kubernetes.default.svc.cluster.local"]),
  );
  const verifier = createTokenReviewVerifier({
    apiServerUrl: cluster.url,
    tokenFile,
    caPem: cluster.caPem,
    audiences: ["vmcp"],
    fetch: countingFetch,
    clock,
  });
  try {
    const callerToken = await serviceAccountToken(ns.name, "caller", ["vmcp"]);
    const id = await verifier.verify(callerToken);
    assert.equal(id.issuer, "kubernetes");
    assert.equal(id.subject, `system:serviceaccount:${ns.name}:caller`);
    assert.ok((id.claims.groups as string[]).includes("system:serviceaccounts"));
    assert.deepEqual(id.claims.audiences, ["vmcp"]);
    assert.equal(id.token, callerToken);
    assert.ok(id.expiresAt! > Date.now());

    await verifier.verify(callerToken);
    assert.equal(calls, 1, "a positive review is reused");
    clock.advance(11_000);
    await verifier.verify(callerToken);
    assert.equal(calls, 2, "and reviewed again after cacheTtlSeconds");

    const otherAudience = await serviceAccountToken(ns.name, "elsewhere", ["not-vmcp"]);
    await rejectsWith(verifier.verify(otherAudience), "invalid_token", /not accepted/);
    await rejectsWith(verifier.verify("garbage"), "invalid_token", /not accepted/);

    const restricted = createTokenReviewVerifier({
      apiServerUrl: cluster.url,
      bearerToken: await Deno.readTextFile(tokenFile),
      caPem: cluster.caPem,
      audiences: ["vmcp"],
      namespace: "kube-system",
    });
    try {
      await rejectsWith(
        restricted.verify(callerToken),
        "invalid_token",
        /not an accepted service account/,
      );
    } finally {
      restricted.close();
    }
  } finally {
    verifier.close();
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

Deno.test("a proxy without the auth-delegator role gets an unavailable error that names the role", async () => {
  await using ns = await createTestNamespace(cluster, "tokenreview-norbac");
  const proxyToken = await serviceAccountToken(ns.name, "proxy", [
    "https://kubernetes.default.svc.cluster.local",
  ]);
  const verifier = createTokenReviewVerifier({
    apiServerUrl: cluster.url,
    bearerToken: proxyToken,
    caPem: cluster.caPem,
  });
  try {
    const caller = await serviceAccountToken(ns.name, "caller", [
      "https://kubernetes.default.svc.cluster.local",
    ]);
    await rejectsWith(verifier.verify(caller), "unavailable", /system:auth-delegator/);
  } finally {
    verifier.close();
  }
});

Deno.test("incoming auth of type kubernetes authenticates requests through TokenReview", async () => {
  await using ns = await createTestNamespace(cluster, "tokenreview-incoming");
  const auth = createIncomingAuth(
    { type: "kubernetes", kubernetes: { audiences: ["vmcp"], namespace: ns.name } },
    { kubernetes: { apiServerUrl: cluster.url, bearerToken: cluster.token, caPem: cluster.caPem } },
  );
  try {
    const token = await serviceAccountToken(ns.name, "caller", ["vmcp"]);
    const id = await auth.authenticate(
      new Request("http://127.0.0.1/mcp", { headers: { authorization: `Bearer ${token}` } }),
    );
    assert.ok(!(id instanceof Response));
    assert.equal(identityKey(id), `kubernetes\u0000system:serviceaccount:${ns.name}:caller`);
    const denied = await auth.authenticate(
      new Request("http://127.0.0.1/mcp", { headers: { authorization: "Bearer not-a-token" } }),
    );
    assert.ok(denied instanceof Response);
    assert.equal(denied.status, 401);
    assert.match(
      denied.headers.get("www-authenticate")!,
      /resource_metadata="http:\/\/127\.0\.0\.1\/\.well-known\/oauth-protected-resource", error="invalid_token"/,
    );
    await denied.body?.cancel();
  } finally {
    auth.close();
  }
});

/**
 * `kubernetes` incoming auth with no audiences configured, on the real kube-apiserver: a pod's
 * default service-account token (the API server's own audience, usable against the Kubernetes
 * API) is refused with 401; a token minted for vmcp (audience "toolhive") is accepted.
 */
import assert from "node:assert/strict";
import {
  createTestNamespace,
  getTestCluster,
  grantAuthDelegator,
  kubeRequest,
  serviceAccountToken,
} from "../harness/kube.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { authProxy, config } from "../auth/helpers.ts";
import { RawMcp } from "./helpers.ts";

const cluster = await getTestCluster();

Deno.test("with no audiences configured, a token for the API server's default audience gets 401 and a token for audience toolhive is served", async () => {
  await using ns = await createTestNamespace(cluster, "sec-k8s-aud");
  const binding = `vmcp-sec-aud-${ns.name}`;
  await grantAuthDelegator(cluster, binding, ns.name, "proxy");
  const proxyToken = await serviceAccountToken(cluster, ns.name, "proxy", [], 600);
  const web = await serveHttpBackend({ name: "web" });
  const p = await authProxy(
    config({
      incomingAuth: { type: "kubernetes", kubernetes: {} },
      backends: [{ name: "web", url: web.url }],
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
    // What a pod mounts by default: the API server's audience (also valid against the API).
    const podDefault = await serviceAccountToken(cluster, ns.name, "caller", [], 600);
    using client = Deno.createHttpClient({ caCerts: [cluster.caPem] });
    const whoami = await fetch(`${cluster.url}/apis/authentication.k8s.io/v1/selfsubjectreviews`, {
      method: "POST",
      headers: { authorization: `Bearer ${podDefault}`, "content-type": "application/json" },
      body: JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }),
      client,
    } as RequestInit);
    await whoami.body?.cancel();
    assert.equal(whoami.status, 201, "the default token works against the Kubernetes API");

    const refused = await new RawMcp(p.url, { authorization: `Bearer ${podDefault}` })
      .initialize();
    assert.equal(refused.status, 401, refused.text);
    assert.match(refused.headers.get("www-authenticate") ?? "", /error="invalid_token"/);

    const forVmcp = await serviceAccountToken(cluster, ns.name, "caller", ["toolhive"], 600);
    const raw = new RawMcp(p.url, { authorization: `Bearer ${forVmcp}` });
    assert.equal((await raw.initialize()).status, 200);
    const echo = await raw.request("tools/call", {
      name: "web_echo",
      arguments: { message: "minted for vmcp" },
    });
    assert.match(echo.text, /minted for vmcp/);
    await raw.close();
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
  }
});

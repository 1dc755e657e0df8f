/**
 * `spec.rateLimiting` against a real kube-apiserver: the CRD generated from crds/rate_limit.ts
 * (applied here, as `deno task crds` will write it) keeps the field and refuses bad buckets
 * naming the field; the controller renders it into the proxy config as written, and the
 * limiter the proxy builds from that config enforces it.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../../core/clock.ts";
import { silentLogger } from "../../core/log.ts";
import { KINDS } from "../../crds/kinds.ts";
import { crdFor } from "../../crds/to_crd.ts";
import { RuntimeRateLimits } from "../../proxy/rate_limit/from_config.ts";
import { RateLimitedError } from "../../proxy/rate_limit/errors.ts";
import { ANONYMOUS_IDENTITY } from "../../core/auth/identity.ts";
import {
  createTestNamespace,
  getTestCluster,
  type KubeCluster,
  kubeRequest,
} from "../harness/kube.ts";
import { GV, installCrds, testClient } from "./_setup.ts";
import {
  createAll,
  group,
  reconcileGroupOnce,
  reconcileOnce,
  renderedConfig,
  urlServer,
  vmcp,
} from "./_fixtures.ts";

const cluster = await getTestCluster();
await installCrds(cluster);

/** Applies the VirtualMCPServer CRD generated from the current schemas. */
async function applyCurrentCrd(c: KubeCluster): Promise<void> {
  const def = KINDS.find((k) => k.plural === "virtualmcpservers")!;
  const crd = crdFor(def) as { metadata: { name: string } };
  await kubeRequest(
    c,
    "PATCH",
    `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}?fieldManager=vmcp-test&force=true`,
    crd,
    { contentType: "application/apply-patch+yaml" },
  );
}
await applyCurrentCrd(cluster);

const RATE_LIMITING = {
  global: { maxTokens: 2, refillPeriod: "1h" },
  tools: [{ name: "a_echo", global: { maxTokens: 1, refillPeriod: "30m" } }],
};

Deno.test("spec.rateLimiting is kept by the API server, rendered as written, and the proxy's limiter built from it enforces it", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-ratelimit");
  const kube = testClient(cluster);
  await createAll(kube, [group(ns.name, "g"), urlServer(ns.name, "a", "g")]);
  // The new CRD schema is served within moments of its update: retry until the field stays.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const obj = vmcp(ns.name, "v", { groupRef: { name: "g" }, rateLimiting: RATE_LIMITING });
    await kube.delete(GV, "VirtualMCPServer", ns.name, "v").catch(() => {});
    await kube.create(obj).catch(() => {});
    const got = await kube.get<{ spec: { rateLimiting?: unknown } } & typeof obj>(
      GV,
      "VirtualMCPServer",
      ns.name,
      "v",
    );
    if (got?.spec.rateLimiting) break;
    if (Date.now() > deadline) assert.fail("the API server drops spec.rateLimiting");
    await new Promise((r) => setTimeout(r, 200));
  }
  await reconcileGroupOnce(kube, ns.name, "g");
  await reconcileOnce(kube, ns.name, "v");
  const { config } = (await renderedConfig(kube, ns.name, "v"))!;
  assert.deepEqual(config.rateLimiting, RATE_LIMITING);

  // What the proxy builds from the rendered config (proxy/runtime.ts).
  const limits = new RuntimeRateLimits(config, { clock: new ManualClock(0), log: silentLogger });
  try {
    const limiter = limits.limiter!;
    assert.ok(limiter, "rate limits are on");
    const check = (tool: string) => {
      try {
        return limiter.check(ANONYMOUS_IDENTITY, tool) ?? "ok";
      } catch (err) {
        assert.ok(err instanceof RateLimitedError);
        return err.limit.scope;
      }
    };
    assert.equal(check("a_echo"), "ok");
    assert.equal(check("a_echo"), "tool", "the tool's 1 per 30m");
    assert.equal(check("a_other"), "ok");
    assert.equal(check("a_other"), "global", "2 per 1h for everything");
  } finally {
    await limits.close();
  }
});

Deno.test("the API server refuses a VirtualMCPServer whose rateLimiting bucket is invalid, naming the field", async () => {
  await using ns = await createTestNamespace(cluster, "vmcp-ratelimit-bad");
  const kube = testClient(cluster);
  for (
    const [bucket, field] of [
      [{ maxTokens: 0, refillPeriod: "1h" }, "spec.rateLimiting.global.maxTokens"],
      [{ maxTokens: 5, refillPeriod: "abc" }, "spec.rateLimiting.global.refillPeriod"],
    ] as const
  ) {
    const err = await kube.create(
      vmcp(ns.name, "bad", { groupRef: { name: "g" }, rateLimiting: { global: bucket } }),
    ).then(() => undefined, (e) => e as Error);
    assert.ok(err, `refused: ${JSON.stringify(bucket)}`);
    assert.match(err.message, new RegExp(field.replaceAll(".", "\\.")), err.message);
  }
});

/**
 * `vmcp --mode=controller` as real processes on a real kube-apiserver: end-to-end
 * reconciling through informers and queues, leader election hand-over, and recovery from
 * an API server restart.
 */
import assert from "node:assert/strict";
import {
  createTestNamespace,
  getTestCluster,
  type KubeCluster,
  startKubeCluster,
} from "../harness/kube.ts";
import type { KubeObject } from "../../controller/runtime/kube.ts";
import { eventually, installCrds, testClient } from "./_setup.ts";
import { group, urlServer, vmcp } from "./_fixtures.ts";
import { logLines, startControllerProcess } from "./_process.ts";

const cluster = await getTestCluster();
await installCrds(cluster);

interface Lease extends KubeObject {
  spec?: { holderIdentity?: string };
}

async function holder(
  kube: ReturnType<typeof testClient>,
  ns: string,
): Promise<string | undefined> {
  const lease = await kube.get<Lease>(
    "coordination.k8s.io/v1",
    "Lease",
    ns,
    "vmcp-controller-leader",
  );
  return lease?.spec?.holderIdentity || undefined;
}

function deploymentOf(kube: ReturnType<typeof testClient>, ns: string, name: string) {
  return eventually(
    `Deployment ${ns}/${name}`,
    () => kube.get("apps/v1", "Deployment", ns, name),
    30_000,
  );
}

Deno.test("Two controller processes: exactly one reconciles, and killing the leader hands over within the lease duration", async () => {
  await using ns = await createTestNamespace(cluster, "ctrl-le");
  const kube = testClient(cluster);
  const logDir = await Deno.makeTempDir({ prefix: "vmcp-ctrl-" });
  const common = {
    kubeconfigPath: cluster.kubeconfigPath,
    watchNamespace: ns.name,
    leaseNamespace: ns.name,
    logDir,
    // A renew deadline no slow API call on a busy machine plausibly misses, so leadership
    // moves only when the leader is killed.
    leaseSeconds: 12,
    renewSeconds: 8,
    retrySeconds: 1,
  };
  const a = startControllerProcess({ ...common, identity: "ctrl-a" });
  const b = startControllerProcess({ ...common, identity: "ctrl-b" });
  try {
    await kube.create(group(ns.name, "g"));
    await kube.create(urlServer(ns.name, "s1", "g"));
    await kube.create(vmcp(ns.name, "first", { groupRef: { name: "g" } }));
    const d = await deploymentOf(kube, ns.name, "first");
    assert.equal(
      (d as { spec: { template: { spec: { containers: { image: string }[] } } } }).spec.template
        .spec.containers[0]!.image,
      "example.test/vmcp:test",
    );
    const leader = (await holder(kube, ns.name))!;
    assert.ok(leader === "ctrl-a" || leader === "ctrl-b", `leader is one of the two: ${leader}`);
    const [lead, standby] = leader === "ctrl-a" ? [a, b] : [b, a];
    const applied = async (p: typeof a) =>
      (await logLines(p)).filter((l) => String(l.msg).startsWith("Applied")).length;
    assert.ok(await applied(lead) > 0, "the leader applied the children");
    assert.equal(await applied(standby), 0, "the standby reconciled nothing");

    const killedAt = Date.now();
    lead.killNow();
    await lead.status;
    const next = await eventually(
      "a new leader",
      async () => {
        const h = await holder(kube, ns.name);
        return h && h !== leader ? h : undefined;
      },
      60_000,
      100,
    );
    const handover = Date.now() - killedAt;
    assert.equal(next, standby === a ? "ctrl-a" : "ctrl-b");
    // A killed leader does not release the Lease: the standby waits for it to expire.
    assert.ok(handover >= 12_000 / 2, `hand-over took ${handover}ms (lease 12s)`);
    await kube.create(vmcp(ns.name, "second", { groupRef: { name: "g" } }));
    await deploymentOf(kube, ns.name, "second");
    assert.ok(await applied(standby) > 0, "the new leader reconciles");
  } finally {
    await a.stop();
    await b.stop();
    await Deno.remove(logDir, { recursive: true }).catch(() => {});
  }
});

Deno.test("A controller process recovers from an API server restart without restarting itself", async () => {
  const own: KubeCluster = await startKubeCluster();
  const logDir = await Deno.makeTempDir({ prefix: "vmcp-ctrl-" });
  let proc: ReturnType<typeof startControllerProcess> | undefined;
  try {
    await installCrds(own);
    const kube = testClient(own);
    await using ns = await createTestNamespace(own, "ctrl-restart");
    proc = startControllerProcess({
      kubeconfigPath: own.kubeconfigPath,
      identity: "ctrl-r",
      watchNamespace: ns.name,
      leaseNamespace: ns.name,
      leaseSeconds: 60,
      renewSeconds: 45,
      retrySeconds: 2,
      logDir,
    });
    await kube.create(group(ns.name, "g"));
    await kube.create(vmcp(ns.name, "before", { groupRef: { name: "g" } }));
    await deploymentOf(kube, ns.name, "before");
    await own.restartApiServer();
    await kube.create(vmcp(ns.name, "after", { groupRef: { name: "g" } }));
    await deploymentOf(kube, ns.name, "after");
    assert.ok(proc.running(), "the controller process is still the same one");
  } finally {
    await proc?.stop();
    await own.stop();
    await Deno.remove(logDir, { recursive: true }).catch(() => {});
  }
});

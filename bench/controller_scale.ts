/**
 * Controller scale: N VirtualMCPServers (default 500) over one group on a private
 * kube-apiserver; reports the time from the first create until every one has its
 * Deployment, Service and ConfigMap. Not a test.
 *
 *   deno run -A bench/controller_scale.ts [--count 500]
 */
import { parseArgs } from "node:util";
import { createTestNamespace, startKubeCluster } from "../tests/harness/kube.ts";
import { installCrds, testClient } from "../tests/controller/_setup.ts";
import { group, urlServer, vmcp } from "../tests/controller/_fixtures.ts";
import { startControllerProcess } from "../tests/controller/_process.ts";

export interface ControllerScaleResult {
  count: number;
  /** Time to create the VirtualMCPServers through the API alone (the baseline). */
  createdMs: number;
  /** Time from the first create until every one had its Deployment, Service and ConfigMap. */
  totalMs: number;
}

/** Runs the measurement on a private kube-apiserver with a real controller process. */
export async function measureControllerScale(
  count: number,
  log: (s: string) => void = () => {},
): Promise<ControllerScaleResult> {
  const cluster = await startKubeCluster({
    apiServerArgs: [
      "--max-requests-inflight=2000",
      "--max-mutating-requests-inflight=1000",
      "--service-cluster-ip-range=10.96.0.0/16",
    ],
  });
  const logDir = await Deno.makeTempDir({ prefix: "vmcp-bench-" });
  let proc: ReturnType<typeof startControllerProcess> | undefined;
  try {
    await installCrds(cluster);
    const kube = testClient(cluster, 60_000);
    const ns = await createTestNamespace(cluster, "bench");
    proc = startControllerProcess({
      kubeconfigPath: cluster.kubeconfigPath,
      identity: "bench",
      watchNamespace: ns.name,
      leaseNamespace: ns.name,
      leaseSeconds: 60,
      renewSeconds: 45,
      retrySeconds: 2,
      logDir,
    });
    await kube.create(group(ns.name, "g"));
    for (const s of ["a", "b", "c"]) await kube.create(urlServer(ns.name, s, "g"));
    const start = performance.now();
    const names = Array.from({ length: count }, (_, i) => `v${i}`);
    for (let i = 0; i < names.length; i += 25) {
      await Promise.all(
        names.slice(i, i + 25).map((n) =>
          kube.create(vmcp(ns.name, n, { groupRef: { name: "g" } }))
        ),
      );
    }
    const createdMs = performance.now() - start;
    log(`created ${count} VirtualMCPServers in ${(createdMs / 1000).toFixed(1)}s`);
    for (;;) {
      const [d, s, c] = await Promise.all([
        kube.list("apps/v1", "Deployment", ns.name, "toolhive=true"),
        kube.list("v1", "Service", ns.name, "toolhive=true"),
        kube.list("v1", "ConfigMap", ns.name, "toolhive=true"),
      ]);
      if (d.items.length >= count && s.items.length >= count && c.items.length >= count) break;
      if (performance.now() - start > 15 * 60_000) {
        throw new Error(`Timed out with ${d.items.length}/${count} Deployments`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    return { count, createdMs, totalMs: performance.now() - start };
  } finally {
    await proc?.stop();
    await cluster.stop();
    await Deno.remove(logDir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { count: { type: "string", default: "500" } },
  });
  const out = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));
  const r = await measureControllerScale(Number(values.count));
  out(
    `controller_scale: ${r.count} VirtualMCPServers created in ${
      (r.createdMs / 1000).toFixed(1)
    }s; all had Deployment+Service+ConfigMap after ${(r.totalMs / 1000).toFixed(1)}s (${
      (r.count / (r.totalMs / 1000)).toFixed(1)
    } servers/s)`,
  );
}

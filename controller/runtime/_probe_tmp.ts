import { createTestNamespace, startKubeCluster } from "../../tests/harness/kube.ts";
import { createKubeClient } from "./kube.ts";
import { Informer } from "./informer.ts";
import { createLogger } from "../../core/log.ts";
const t0 = Date.now();
const log = (m: string) => console.error(`${Date.now() - t0}ms ${m}`);
const cluster = await startKubeCluster();
log("started");
const kube = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath, requestTimeoutMs: 5000 });
const ns = await createTestNamespace(cluster, "probe");
const inf = new Informer(kube, { apiVersion: "v1", kind: "ConfigMap", namespace: ns.name, minBackoffMs: 200, maxBackoffMs: 1000, logger: createLogger({ level: "debug" }) });
inf.on((e) => log(`event ${e.type} ${e.object.metadata?.name}`));
const ac = new AbortController();
const running = inf.run(ac.signal);
await inf.waitForSync();
log("synced");
await kube.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: ns.name } });
await new Promise((r) => setTimeout(r, 500));
log("restarting");
await cluster.restartApiServer();
log("restarted");
try {
  await kube.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "b", namespace: ns.name } });
  log("created b");
} catch (e) { log("create b failed " + e); }
await new Promise((r) => setTimeout(r, 40000));
ac.abort(); await running; log("informer stopped");
await cluster.stop();
log("done");

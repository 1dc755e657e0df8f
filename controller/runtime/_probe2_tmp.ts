import { startKubeCluster } from "../../tests/harness/kube.ts";
const t0 = Date.now();
const log = (m: string) => console.error(`${Date.now() - t0}ms ${m}`);
const cluster = await startKubeCluster();
log("started");
await cluster.restartApiServer();
log("restarted");
await cluster.stop();
log("done");

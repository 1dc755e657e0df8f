/**
 * The running controller in-process: `runManager` (informers → watch mapping → queues →
 * reconcilers) against the test cluster, scoped to one namespace. Tests change the world
 * through the API server and wait for the controller's writes, which proves the watch
 * mapping as well as the reconcilers.
 */
import { silentLogger } from "../../core/log.ts";
import { systemClock } from "../../core/clock.ts";
import type { KubeClient } from "../../controller/runtime/kube.ts";
import { type ControllerMetrics, createControllerMetrics } from "../../controller/runtime/http.ts";
import { runManager } from "../../controller/manager.ts";

export interface RunningManager extends AsyncDisposable {
  metrics: ControllerMetrics;
  /** Aborts the manager and waits until it returned. */
  stop(): Promise<void>;
}

/** Starts the manager for `namespace` and resolves once every informer has synced. */
export async function startManager(
  kube: KubeClient,
  namespace: string,
  proxyImage = "example.test/vmcp:test",
): Promise<RunningManager> {
  const ac = new AbortController();
  const metrics = createControllerMetrics();
  let onSynced!: () => void;
  const synced = new Promise<void>((r) => (onSynced = r));
  const done = runManager({
    kube,
    clock: systemClock,
    logger: silentLogger,
    metrics,
    namespace,
    proxyImage,
    onSynced: (v) => v && onSynced(),
  }, ac.signal);
  const first = await Promise.race([synced.then(() => "synced"), done.then(() => "returned")]);
  if (first !== "synced") throw new Error("The manager returned before its informers synced");
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    ac.abort();
    await done;
  };
  return { metrics, stop, [Symbol.asyncDispose]: stop };
}

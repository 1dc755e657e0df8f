/**
 * `vmcp --mode=controller`: builds the Kubernetes client, serves /healthz /readyz /metrics,
 * campaigns for the Lease and runs the controllers only while leading. Losing the Lease is
 * fail-stop: reconciling stops at once and the process returns 1 so the pod restarts.
 * @module
 */
import { type Clock, systemClock } from "../core/clock.ts";
import type { Logger } from "../core/log.ts";
import { createKubeClient } from "./runtime/kube.ts";
import { defaultIdentity, LeaderElector } from "./runtime/leader.ts";
import { createControllerMetrics, serveControllerHttp } from "./runtime/http.ts";
import { runManager } from "./manager.ts";

export const LEASE_NAME = "vmcp-controller-leader";

export interface ControllerOptions {
  kubeconfig?: string | undefined;
  namespace?: string | undefined;
  proxyImage?: string | undefined;
  metricsPort?: string | undefined;
  leaderElect: boolean;
  leaseNamespace?: string | undefined;
  leaseDuration?: string | undefined;
  renewDeadline?: string | undefined;
  retryPeriod?: string | undefined;
  identity?: string | undefined;
  env: (name: string) => string | undefined;
  logger: Logger;
  clock?: Clock;
  /** Called with the bound metrics/health address (tests use port 0). */
  onListen?: (addr: { hostname: string; port: number }) => void;
}

/** A seconds flag as milliseconds; `fallbackSeconds` when unset. Exported for its test. */
export function seconds(value: string | undefined, flag: string, fallbackSeconds: number): number {
  if (value === undefined) return fallbackSeconds * 1000;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw new RangeError(`${flag}: "${value}" is not a positive number of seconds`);
  }
  return Math.round(n * 1000);
}

/** Runs the controller; resolves to the process exit code (0 shutdown, 1 lease lost, 2 bad options). */
export async function runController(opts: ControllerOptions, signal: AbortSignal): Promise<number> {
  const clock = opts.clock ?? systemClock;
  let leaseMs: number, renewMs: number, retryMs: number, port: number;
  try {
    leaseMs = seconds(opts.leaseDuration, "--lease-duration", 15);
    renewMs = seconds(opts.renewDeadline, "--renew-deadline", 10);
    retryMs = seconds(opts.retryPeriod, "--retry-period", 2);
    port = Number(opts.metricsPort ?? "8081");
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`--metrics-port: "${opts.metricsPort}" is not a port 0..65535`);
    }
  } catch (err) {
    opts.logger.error("Invalid controller options", { error: err });
    return 2;
  }
  const identity = opts.identity || defaultIdentity();
  const logger = opts.logger.with({ identity });
  const inCluster = !opts.kubeconfig && !!opts.env("KUBERNETES_SERVICE_HOST");
  const kube = createKubeClient({
    ...(opts.kubeconfig ? { kubeconfigPath: opts.kubeconfig } : {}),
    inCluster,
    requestTimeoutMs: Math.max(renewMs / 2, 1000),
    clock,
    logger,
  });
  const metrics = createControllerMetrics();
  let synced = false;
  let leading = !opts.leaderElect;
  const httpAbort = new AbortController();
  const stopHttp = () => httpAbort.abort();
  signal.addEventListener("abort", stopHttp, { once: true });
  const server = serveControllerHttp({
    metrics,
    port,
    signal: httpAbort.signal,
    ready: () => !leading || synced,
    log: logger,
    ...(opts.onListen ? { onListen: opts.onListen } : {}),
  });
  const manager = (s: AbortSignal) =>
    runManager({
      kube,
      clock,
      logger,
      metrics,
      namespace: opts.namespace,
      proxyImage: opts.proxyImage,
      onSynced: (v) => (synced = v),
    }, s);
  try {
    if (!opts.leaderElect) {
      logger.info("Started controller without leader election");
      await manager(signal);
      return 0;
    }
    const elector = new LeaderElector(kube, {
      namespace: opts.leaseNamespace || "vmcp-system",
      name: LEASE_NAME,
      identity,
      leaseDurationMs: leaseMs,
      renewDeadlineMs: renewMs,
      retryPeriodMs: retryMs,
      clock,
      logger,
      onStartedLeading: (s) => {
        leading = true;
        metrics.setLeader(identity, true);
        return manager(s);
      },
      onStoppedLeading: () => {
        leading = false;
        metrics.setLeader(identity, false);
      },
      onNewLeader: (holder) => logger.info("Observed leader", { leader: holder }),
    });
    metrics.setLeader(identity, false);
    await elector.run(signal);
    if (signal.aborted) return 0;
    logger.error("Leader election lost; exiting so the pod restarts");
    return 1;
  } finally {
    signal.removeEventListener("abort", stopHttp);
    httpAbort.abort();
    await server.finished;
  }
}

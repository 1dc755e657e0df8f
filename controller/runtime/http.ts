/**
 * The controller's HTTP side: `/healthz`, `/readyz` and `/metrics` (Prometheus text).
 *
 * `createControllerMetrics()` builds a private prom-client registry with the metrics the
 * controller reports (reconciles, queue, leadership); `createControllerHandler()` answers
 * the three endpoints as a plain `(Request) => Promise<Response>`, and
 * `serveControllerHttp()` puts that on a port with the guarded server of core/http_server.ts
 * (accept errors never end the process; silent, slow, idle and surplus connections are bounded
 * with its defaults, or `limits`).
 * @module
 */

import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { type GuardedServer, serveGuarded, type ServerLimits } from "../../core/http_server.ts";
import type { Logger } from "../../core/log.ts";
import type { QueueMetrics } from "./queue.ts";

/** The controller's metrics, on one registry. */
export interface ControllerMetrics {
  readonly registry: Registry;
  /** `vmcp_controller_reconcile_total{controller,result}`; result is success|requeue|error. */
  readonly reconcileTotal: Counter<"controller" | "result">;
  /** `vmcp_controller_reconcile_errors_total{controller}` */
  readonly reconcileErrors: Counter<"controller">;
  /** `vmcp_controller_reconcile_duration_seconds{controller}` */
  readonly reconcileDuration: Histogram<"controller">;
  /** `vmcp_controller_workqueue_depth{name}` */
  readonly queueDepth: Gauge<"name">;
  /** `vmcp_controller_workqueue_adds_total{name}` */
  readonly queueAdds: Counter<"name">;
  /** `vmcp_controller_workqueue_retries_total{name}` */
  readonly queueRetries: Counter<"name">;
  /** `vmcp_controller_leader{identity}`: 1 while this process leads, else 0. */
  readonly leader: Gauge<"identity">;
  /** Hooks for a `WorkQueue` named `name` feeding the queue and reconcile metrics. */
  queueHooks(name: string): QueueMetrics;
  /** Sets the leader gauge for `identity` (one series per identity this process had). */
  setLeader(identity: string, leading: boolean): void;
}

/** Creates the controller metrics on a fresh registry (no process-wide global state). */
export function createControllerMetrics(): ControllerMetrics {
  const registry = new Registry();
  const registers = [registry];
  const reconcileTotal = new Counter({
    name: "vmcp_controller_reconcile_total",
    help: "Reconciles by controller and result.",
    labelNames: ["controller", "result"] as const,
    registers,
  });
  const reconcileErrors = new Counter({
    name: "vmcp_controller_reconcile_errors_total",
    help: "Reconciles that ended with an error.",
    labelNames: ["controller"] as const,
    registers,
  });
  const reconcileDuration = new Histogram({
    name: "vmcp_controller_reconcile_duration_seconds",
    help: "Time per reconcile.",
    labelNames: ["controller"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const queueDepth = new Gauge({
    name: "vmcp_controller_workqueue_depth",
    help: "Keys waiting in the work queue.",
    labelNames: ["name"] as const,
    registers,
  });
  const queueAdds = new Counter({
    name: "vmcp_controller_workqueue_adds_total",
    help: "Adds to the work queue.",
    labelNames: ["name"] as const,
    registers,
  });
  const queueRetries = new Counter({
    name: "vmcp_controller_workqueue_retries_total",
    help: "Rate-limited re-adds to the work queue.",
    labelNames: ["name"] as const,
    registers,
  });
  const leader = new Gauge({
    name: "vmcp_controller_leader",
    help: "1 while this process holds the leader Lease, else 0.",
    labelNames: ["identity"] as const,
    registers,
  });
  return {
    registry,
    reconcileTotal,
    reconcileErrors,
    reconcileDuration,
    queueDepth,
    queueAdds,
    queueRetries,
    leader,
    queueHooks(name) {
      queueDepth.set({ name }, 0);
      return {
        depth: (d) => queueDepth.set({ name }, d),
        add: () => queueAdds.inc({ name }),
        retry: () => queueRetries.inc({ name }),
        processed(ms, outcome) {
          reconcileTotal.inc({ controller: name, result: outcome });
          if (outcome === "error") reconcileErrors.inc({ controller: name });
          reconcileDuration.observe({ controller: name }, ms / 1000);
        },
      };
    },
    setLeader(identity, leading) {
      leader.set({ identity }, leading ? 1 : 0);
    },
  };
}

export interface ControllerHandlerOptions {
  metrics: ControllerMetrics;
  /** Ready when this returns true (e.g. every informer `hasSynced()`). */
  ready: () => boolean;
  /** Healthy unless this returns false. @default always healthy */
  healthy?: () => boolean;
}

/** Answers `/healthz`, `/readyz` and `/metrics`; everything else is 404. */
export function createControllerHandler(
  options: ControllerHandlerOptions,
): (req: Request) => Promise<Response> {
  const { metrics, ready, healthy = () => true } = options;
  const text = (body: string, status: number) =>
    new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
  return async (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") return text("method not allowed\n", 405);
    switch (new URL(req.url).pathname) {
      case "/healthz":
      case "/livez":
        return healthy() ? text("ok\n", 200) : text("unhealthy\n", 503);
      case "/readyz":
        return ready() ? text("ok\n", 200) : text("informers not synced\n", 503);
      case "/metrics":
        return new Response(await metrics.registry.metrics(), {
          headers: { "content-type": metrics.registry.contentType },
        });
      default:
        return text("not found\n", 404);
    }
  };
}

export interface ServeControllerHttpOptions extends ControllerHandlerOptions {
  /** @default 8081 */
  port?: number;
  /** @default "0.0.0.0" */
  hostname?: string;
  /** Stops the server. */
  signal: AbortSignal;
  /** Called with the bound address (useful with port 0). */
  onListen?: (addr: { hostname: string; port: number }) => void;
  /** Connection bounds. @default core/http_server.ts defaults */
  limits?: Partial<ServerLimits>;
  /** Where accept errors are reported. */
  log?: Logger;
}

/** Serves {@link createControllerHandler}; await `.finished` after aborting. */
export function serveControllerHttp(options: ServeControllerHttpOptions): GuardedServer {
  const port = options.port ?? 8081;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `Cannot serve controller HTTP: port "${port}" must be an integer 0..65535`,
    );
  }
  const handler = createControllerHandler(options);
  return serveGuarded({
    port,
    hostname: options.hostname ?? "0.0.0.0",
    signal: options.signal,
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.log ? { log: options.log } : {}),
    onListen: (addr) => options.onListen?.({ hostname: addr.hostname, port: addr.port }),
  }, handler);
}

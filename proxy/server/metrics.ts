/**
 * Prometheus metrics of the proxy (`/metrics`), on a private prom-client registry:
 * MCP requests by method and status, backend request duration by backend, active sessions,
 * backend health and advertised tools. Label children are cached so the hot path does one
 * map lookup and one increment; the two per-call metrics are lean_metrics.ts ones.
 * @module
 */
import { Gauge, Registry } from "prom-client";
import {
  type CounterChild,
  type HistogramChild,
  LeanCounter,
  LeanHistogram,
} from "./lean_metrics.ts";

const HEALTH_VALUE: Record<string, number> = {
  ready: 1,
  degraded: 0.5,
  unknown: -1,
  unavailable: 0,
  unauthenticated: 0,
};

export class ProxyMetrics {
  readonly registry = new Registry();
  // Hot-path metrics: lean_metrics.ts (same exposition, no label hashing per call).
  readonly #requests = new LeanCounter(
    "vmcp_requests_total",
    "MCP requests from clients, by method and status (ok or error).",
    ["method", "status"],
    this.registry,
  );
  readonly #backendDuration = new LeanHistogram(
    "vmcp_backend_request_duration_seconds",
    "Duration of requests to backends, by backend, method and outcome.",
    ["backend", "method", "outcome"],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    this.registry,
  );
  readonly #sessions = new Gauge({
    name: "vmcp_active_sessions",
    help: "Client sessions currently open.",
    registers: [this.registry],
  });
  readonly #health = new Gauge({
    name: "vmcp_backend_health",
    help: "Backend health: 1 ready, 0.5 degraded, 0 unavailable/unauthenticated, -1 unknown.",
    labelNames: ["backend"] as const,
    registers: [this.registry],
  });
  readonly #tools = new Gauge({
    name: "vmcp_advertised_tools",
    help: "Tools currently advertised to clients.",
    registers: [this.registry],
  });
  readonly #reqChildren = new Map<string, CounterChild>();
  readonly #durChildren = new Map<string, HistogramChild>();

  request(method: string, ok: boolean): void {
    const key = ok ? method : `${method}\u0000e`;
    let child = this.#reqChildren.get(key);
    if (!child) {
      child = this.#requests.labels(method, ok ? "ok" : "error");
      this.#reqChildren.set(key, child);
    }
    child.inc();
  }

  backendRequest(backend: string, method: string, ok: boolean, ms: number): void {
    const key = `${backend}\u0000${method}\u0000${ok}`;
    let child = this.#durChildren.get(key);
    if (!child) {
      child = this.#backendDuration.labels(backend, method, ok ? "ok" : "error");
      this.#durChildren.set(key, child);
    }
    child.observe(ms / 1000);
  }

  setSessions(n: number): void {
    this.#sessions.set(n);
  }

  setHealth(backend: string, status: string): void {
    this.#health.labels(backend).set(HEALTH_VALUE[status] ?? -1);
  }

  setTools(n: number): void {
    this.#tools.set(n);
  }

  removeBackend(backend: string): void {
    this.#health.remove(backend);
    this.#backendDuration.removeWhereFirst(backend);
    for (const key of this.#durChildren.keys()) {
      if (key.startsWith(`${backend}\u0000`)) this.#durChildren.delete(key);
    }
  }

  async render(): Promise<Response> {
    return new Response(await this.registry.metrics(), {
      headers: { "content-type": this.registry.contentType },
    });
  }
}

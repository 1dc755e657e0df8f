/**
 * Prometheus metrics of the proxy (`/metrics`), on a private prom-client registry:
 * MCP requests by method and status, backend request duration by backend, active sessions,
 * backend health and advertised tools. Label children are cached so the hot path does one
 * map lookup and one increment.
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

const HEALTH_VALUE: Record<string, number> = {
  ready: 1,
  degraded: 0.5,
  unknown: -1,
  unavailable: 0,
  unauthenticated: 0,
};

export class ProxyMetrics {
  readonly registry = new Registry();
  readonly #requests = new Counter({
    name: "vmcp_requests_total",
    help: "MCP requests from clients, by method and status (ok or error).",
    labelNames: ["method", "status"] as const,
    registers: [this.registry],
  });
  readonly #backendDuration = new Histogram({
    name: "vmcp_backend_request_duration_seconds",
    help: "Duration of requests to backends, by backend, method and outcome.",
    labelNames: ["backend", "method", "outcome"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
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
  readonly #reqChildren = new Map<string, { inc(): void }>();
  readonly #durChildren = new Map<string, { observe(v: number): void }>();

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

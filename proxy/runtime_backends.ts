/**
 * The runtime's backend lifecycle: creating each configured backend with its health monitor,
 * replacing or removing them to match a new config, and routing their events (list_changed →
 * re-discovery, resource updates → the subscribed sessions, request outcomes → health and
 * metrics). Functions of a `BackendHost` (the runtime's parts they work on).
 * @module
 */
import type { BackendConfig, VmcpConfig } from "../crds/vmcp_config.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/log.ts";
import { parseDuration } from "../core/duration.ts";
import { Backend, type BackendEvents, type HeadersFor } from "./backends/backend.ts";
import type { AnyObject, SessionPeer } from "./backends/connection.ts";
import { HealthMonitor } from "./health/monitor.ts";
import type { ProxySession } from "./server/session.ts";
import type { ProxyMetrics } from "./server/metrics.ts";
import type { ListenHub, ListenOwner } from "./server/listen.ts";

/** What the backend lifecycle reads and calls of the runtime. */
export interface BackendHost {
  readonly backends: Map<string, Backend>;
  readonly health: Map<string, HealthMonitor>;
  readonly sessions: ReadonlyMap<string, ProxySession>;
  readonly listenHub: ListenHub;
  readonly log: Logger;
  readonly clock: Clock;
  readonly metrics: ProxyMetrics | undefined;
  /** Outgoing auth per backend (the proxy/auth seam); undefined: no extra headers. */
  readonly outgoingAuthFor:
    | ((backend: BackendConfig, config: VmcpConfig) => HeadersFor | undefined)
    | undefined;
  /** HTTP backends: all client sessions share one connection. */
  readonly shareHttp: boolean;
  /** Rebuilds views and lists (and tells sessions what changed). */
  recompute(): void;
  /** Re-discovers one backend soon, then recomputes. */
  scheduleRediscover(name: string): void;
}

/** Milliseconds of the backend's request timeout. */
export function backendTimeoutMs(config: VmcpConfig, backend: string): number {
  const t = config.operational?.timeouts;
  return parseDuration(t?.perWorkload?.[backend] ?? t?.default ?? "30s");
}

/** Creates/replaces/removes backends to match `config`; returns the new and changed ones. */
export function applyBackends(host: BackendHost, config: VmcpConfig): Backend[] {
  const wanted = new Map(config.backends.map((b) => [b.name, b]));
  const fresh: Backend[] = [];
  for (const [name, b] of host.backends) {
    const next = wanted.get(name);
    if (next && JSON.stringify(next) === JSON.stringify(b.config)) {
      b.timeoutMs = backendTimeoutMs(config, name);
      continue;
    }
    removeBackend(host, name);
  }
  for (const cfg of config.backends) {
    if (!host.backends.has(cfg.name)) fresh.push(createBackend(host, cfg, config));
  }
  return fresh;
}

function removeBackend(host: BackendHost, name: string): void {
  const b = host.backends.get(name);
  host.backends.delete(name);
  host.health.get(name)?.stop();
  host.health.delete(name);
  host.metrics?.removeBackend(name);
  void b?.close();
}

function createBackend(host: BackendHost, cfg: BackendConfig, config: VmcpConfig): Backend {
  const headersFor = host.outgoingAuthFor?.(cfg, config);
  const backend = new Backend({
    config: cfg,
    timeoutMs: backendTimeoutMs(config, cfg.name),
    events: backendEvents(host),
    log: host.log,
    ...(headersFor ? { headersFor } : {}),
    ...(host.shareHttp ? { shareHttp: true } : {}),
    // Backend sessions of 2026-07-28 callers, per identity (ADR 0010): bounded and expired
    // like client sessions.
    identityPool: {
      max: config.sessionStorage?.maxLocalSessions,
      idleMs: parseDuration(config.sessionStorage?.ttl ?? "30m"),
      clock: host.clock,
    },
  });
  const monitor = new HealthMonitor(backend, config, {
    clock: host.clock,
    log: host.log,
    onChange: (routable) => {
      host.metrics?.setHealth(backend.name, monitor.snapshot().status);
      if (routable) {
        void backend.resetSessions();
        // Back in the view now with the capabilities it had (no window in which its tools
        // are unknown), then refreshed: it may have restarted with other ones.
        host.recompute();
        host.scheduleRediscover(backend.name);
      } else {
        backend.failInFlight(monitor.snapshot().message);
        host.recompute();
      }
    },
    onDiscovered: () => host.recompute(),
  });
  host.backends.set(cfg.name, backend);
  host.health.set(cfg.name, monitor);
  host.metrics?.setHealth(backend.name, monitor.snapshot().status);
  return backend;
}

function backendEvents(host: BackendHost): BackendEvents {
  return {
    onListChanged: (backend) => host.scheduleRediscover(backend),
    onResourceUpdated: (backend, owner, params) => resourceUpdated(host, backend, owner, params),
    onOutcome: (backend, method, ok, ms, error) => {
      host.metrics?.backendRequest(backend, method, ok, ms);
      const h = host.health.get(backend);
      if (!h || method === "discover" || method === "initialize") return;
      if (ok) h.recordCallSuccess();
      else h.recordFailure(error);
    },
  };
}

function resourceUpdated(
  host: BackendHost,
  backend: string,
  owner: SessionPeer | undefined,
  params: AnyObject,
): void {
  const uri = params.uri;
  if (typeof uri !== "string") return;
  const note = { method: "notifications/resources/updated", params };
  if (owner) {
    const s = host.sessions.get(owner.id);
    if (s) {
      if (s.subscriptions.has(uri)) s.notify(note).catch(() => {});
      return;
    }
    // An identity's pooled backend session (ADR 0010 §5): that identity's listen streams only.
    const key = (owner as Partial<ListenOwner>).listenIdentityKey;
    if (typeof key === "string") host.listenHub.publish(note, { identityKey: key });
    return;
  }
  for (const s of host.sessions.values()) {
    if (s.subscriptions.has(uri)) s.notify(note).catch(() => {});
  }
  host.log.debug("resource updated", { backend, uri });
}

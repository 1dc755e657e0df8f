/**
 * Wires a running proxy from a validated config: runtime (backends, health, aggregation),
 * router, `/mcp` endpoint, HTTP front door, metrics, idle-session sweep. Used by `runProxy`
 * and by tests (in-process).
 * @module
 */
import type { BackendConfig, VmcpConfig } from "../crds/vmcp_config.ts";
import type { Clock } from "../core/clock.ts";
import type { Identity } from "../core/auth/identity.ts";
import { type Logger, silentLogger } from "../core/log.ts";
import { parseDuration } from "../core/duration.ts";
import { type GuardedServer, serveGuarded, type ServerLimits } from "../core/http_server.ts";
import type { HeadersFor } from "./backends/backend.ts";
import { Router } from "./router.ts";
import { describeError } from "./backends/errors.ts";
import { ProxyRuntime } from "./runtime.ts";
import { createHttpHandler } from "./server/http.ts";
import { PooledResourceSubscriptions } from "./server/listen_subscriptions.ts";
import { type Authenticate, McpEndpoint } from "./server/mcp_endpoint.ts";
import { ProxyMetrics } from "./server/metrics.ts";
import { startTelemetry } from "./telemetry/setup.ts";
import { createSessionStore } from "./sessions/create_store.ts";
import { createInputRequired } from "./mrtr/setup.ts";
import { createParkRelay } from "./mrtr/relay_setup.ts";
import type { ResumePark } from "./server/modern_input.ts";
import type { SessionStore } from "./sessions/store.ts";
import { AuditTrail } from "./audit/trail.ts";
import type { Auditor } from "./audit/auditor.ts";

export interface StartOptions {
  config: VmcpConfig;
  /** @default config.server.host, else 127.0.0.1 */
  host?: string;
  /** @default config.server.port, else 4483; 0 picks a free port */
  port?: number;
  log?: Logger;
  clock?: Clock;
  /** Incoming auth (proxy/auth seam). Default: anonymous. */
  authenticate?: Authenticate;
  identityKey?: (identity: Identity) => string;
  /** Outgoing auth per backend (proxy/auth seam). Default: no extra headers. */
  outgoingAuthFor?: (backend: BackendConfig, config: VmcpConfig) => HeadersFor | undefined;
  protectedResource?: (req: Request) => Response | undefined | Promise<Response | undefined>;
  /** HTTP backends share one connection across client sessions. @default false */
  shareHttp?: boolean;
  /** Serve before the first discovery finished (readiness stays 503 until it has). @default true */
  serveBeforeReady?: boolean;
  /**
   * The session store to use (closed by `stop`). @default built from `config.sessionStorage`
   * (memory, or Redis shared by every replica)
   */
  sessionStore?: SessionStore;
  /** Hosts allowed besides `server.allowedHosts` (runProxy passes `VMCP_ALLOWED_HOSTS`). */
  allowedHosts?: readonly string[];
  /** Environment of the requestState keys (VMCP_REQUEST_STATE_KEY…). @default Deno.env */
  env?: (name: string) => string | undefined;
}

/** `server.limits` as milliseconds (defaults of core/http_server.ts where absent). */
export function serverLimits(config: VmcpConfig): Partial<ServerLimits> {
  const l = config.server?.limits;
  if (!l) return {};
  return {
    ...(l.maxConnections !== undefined ? { maxConnections: l.maxConnections } : {}),
    headerTimeoutMs: parseDuration(l.headerTimeout),
    bodyTimeoutMs: parseDuration(l.bodyTimeout),
    idleTimeoutMs: parseDuration(l.idleTimeout),
  };
}

export interface RunningProxy {
  /** e.g. http://127.0.0.1:4483/mcp */
  url: string;
  port: number;
  runtime: ProxyRuntime;
  metrics: ProxyMetrics;
  /** The `/mcp` endpoint (its `directory` holds the session store and restore counters). */
  endpoint: McpEndpoint;
  /** Resolves once the first discovery finished. */
  ready: Promise<void>;
  /** Applies a new validated config without dropping sessions. */
  reload(config: VmcpConfig): Promise<void>;
  /** Stops accepting, closes sessions, closes backends (kills stdio children). */
  stop(): Promise<void>;
}

const SWEEP_MS = 60_000;

export async function startProxy(opts: StartOptions): Promise<RunningProxy> {
  const config = opts.config;
  const log = opts.log ?? silentLogger;
  // MRTR (ADR 0010 §4): throws naming the variable when a requestState key is too short.
  const mrtr = createInputRequired(config.operational?.inputRequired, log, {
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  // Where a retry with a park state is resumed: here, or relayed through the session store's
  // Redis to the replica holding the call (proxy/mrtr/relay.ts; connects in `start` below).
  const relay = createParkRelay(config, mrtr, log, opts.env ? { env: opts.env } : {});
  const resumePark: ResumePark = (r, o) => relay.resume(r, o);
  // Invalid settings throw here (a TypeError naming the field); Redis being down does not.
  const store = opts.sessionStore ??
    await createSessionStore(config.sessionStorage, { logger: log });
  await relay.start(); // at most 2 s while Redis is down (remote retries are refused until up)
  if (store.kind === "redis") {
    log.info("session store: redis (any replica serves any session)", {
      address: config.sessionStorage?.address,
      healthy: store.healthy,
    });
  }
  const metrics = new ProxyMetrics();
  // The audit trail (config.audit): throws naming audit.filePath when it cannot be opened.
  const audit = new AuditTrail(metrics.registry, log);
  let auditor: Auditor | undefined;
  try {
    auditor = await audit.apply(config.audit);
  } catch (err) {
    await relay.stop();
    await store.close();
    throw err;
  }
  // OpenTelemetry (config.telemetry; nothing when off). Changes take effect at restart.
  const otel = startTelemetry(config.telemetry, { defaultServiceName: config.name, log });
  const runtime = new ProxyRuntime({
    config,
    log,
    metrics,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.outgoingAuthFor ? { outgoingAuthFor: opts.outgoingAuthFor } : {}),
    ...(opts.shareHttp ? { shareHttp: true } : {}),
  });
  runtime.audit = auditor;
  const router = new Router(runtime);
  // Modern listen streams' resource subscriptions: on each identity's pooled backend sessions.
  runtime.listenHub.setResourceSubscriptions(
    new PooledResourceSubscriptions({
      route: (uri, peer) => router.resourceBackend(peer.identity, uri),
      log,
    }),
  );
  const endpoint = new McpEndpoint({
    runtime,
    router,
    log,
    metrics,
    maxBodyBytes: config.server?.maxBodyBytes ?? 4 * 1024 * 1024,
    serverInfo: { name: config.name, version: "1.0.0" },
    ...(opts.authenticate ? { authenticate: opts.authenticate } : {}),
    ...(opts.identityKey ? { identityKey: opts.identityKey } : {}),
    store,
    listenHub: runtime.listenHub,
    inputRequired: { codec: mrtr.codec, parked: mrtr.parked, resumePark },
  });
  const handler = createHttpHandler({
    runtime,
    endpoint,
    listenHost: opts.host ?? config.server?.host ?? "127.0.0.1",
    metrics,
    log,
    ...(opts.protectedResource ? { protectedResource: opts.protectedResource } : {}),
    ...(opts.authenticate ? { authenticate: opts.authenticate } : {}),
    ...(opts.allowedHosts ? { extraAllowedHosts: opts.allowedHosts } : {}),
  });
  const ready = runtime.start();
  if (opts.serveBeforeReady === false) await ready;
  const abort = new AbortController();
  const host = opts.host ?? config.server?.host ?? "127.0.0.1";
  let port = 0;
  let server: GuardedServer;
  try {
    // Own accept loop: accept errors (EMFILE) never end the process; slow, idle and surplus
    // connections are bounded by server.limits (limits apply from start; reloads keep them).
    server = serveGuarded({
      hostname: host,
      port: opts.port ?? config.server?.port ?? 4483,
      signal: abort.signal,
      limits: serverLimits(config),
      log,
      onListen: (addr) => (port = addr.port),
      onError: (err) => {
        log.error("HTTP handler error", { error: String(err) });
        return new Response("Internal error", { status: 500 });
      },
    }, handler);
  } catch (err) {
    await runtime.close(); // e.g. the port is taken: leave no stdio child behind
    await audit.close();
    await relay.stop();
    await store.close();
    await otel?.shutdown(); // the process-wide instrumentation ends with it
    throw err;
  }
  port = server.addr.port;
  const ttlMs = store.ttlMs;
  const sweep = setInterval(() => {
    endpoint.sweep(ttlMs).then(
      (n) => n && log.info("closed idle sessions", { count: n }),
      () => {},
    );
  }, Math.min(SWEEP_MS, ttlMs));
  let stopped: Promise<void> | undefined;
  const shownHost = host === "0.0.0.0" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/mcp`,
    port,
    runtime,
    metrics,
    endpoint,
    ready,
    reload: async (next) => {
      try {
        runtime.audit = await audit.apply(next.audit);
      } catch (err) {
        log.error("audit settings not applied; the audit trail keeps its current output", {
          error: describeError(err),
        });
      }
      await runtime.applyConfig(next);
    },
    stop: () =>
      stopped ??= (async () => {
        clearInterval(sweep);
        abort.abort(); // stop accepting
        await ready.catch(() => {});
        // Sessions (their streams end; with an in-process store they end for good, backend
        // sessions included) and backends (stdio children).
        await runtime.close({ endSessions: store.kind === "memory" });
        await audit.close(); // after the sessions' closing events
        await server.finished;
        await relay.stop(); // relayed retries waiting here or served here end as not pending
        await store.close(); // last: closing local sessions never terminates them in the store
        await otel?.shutdown(); // sends the spans and metrics still buffered
      })(),
  };
}

/**
 * The `/status` document: every backend's health, transport, last check, circuit breaker and
 * tool count, plus readiness, session count, the session store's health and counters, and the
 * tool/prompt names left claimed by several backends after conflict resolution (`collisions`:
 * who kept the name, who was dropped).
 * Unauthenticated; contains no secrets.
 *
 * `sessionStore.healthy: false` (Redis unreachable) does not make the proxy unready: sessions
 * held by this replica keep working, only restores and new sessions get 503 + Retry-After.
 * @module
 */
import type { NameCollision } from "../../core/aggregation/types.ts";
import type { ProxyRuntime } from "../runtime.ts";
import type { SessionStoreStatus } from "./session_directory.ts";

const storeStatus = new WeakMap<ProxyRuntime, () => SessionStoreStatus>();

/** Makes `/status` of `runtime` report the session store (called by the `/mcp` endpoint). */
export function attachSessionStoreStatus(
  runtime: ProxyRuntime,
  status: () => SessionStoreStatus,
): void {
  storeStatus.set(runtime, status);
}

export interface BackendStatus {
  name: string;
  transport: string;
  url?: string;
  status: string;
  routable: boolean;
  consecutiveFailures: number;
  lastCheck?: string;
  message?: string;
  circuitBreakerState?: string;
  toolCount?: number;
  connections: number;
}

export interface StatusDocument {
  name: string;
  ready: boolean;
  partialFailureMode: string;
  sessions: number;
  tools: number;
  backends: BackendStatus[];
  /** Names still claimed by several tools/prompts after conflict resolution (all backends). */
  collisions: NameCollision[];
  /** Absent only when no `/mcp` endpoint was built for this runtime. */
  sessionStore?: SessionStoreStatus;
}

export function statusDocument(runtime: ProxyRuntime): StatusDocument {
  const backends: BackendStatus[] = [];
  for (const b of runtime.backends.values()) {
    const h = runtime.health.get(b.name);
    const snap = h?.snapshot();
    const entry: BackendStatus = {
      name: b.name,
      transport: b.transport,
      status: snap?.status ?? "unknown",
      routable: h?.blockReason() === undefined,
      consecutiveFailures: snap?.consecutiveFailures ?? 0,
      connections: b.connectionCount,
    };
    if (b.config.url) entry.url = b.config.url;
    if (snap?.lastCheck !== undefined) entry.lastCheck = snap.lastCheck;
    if (snap?.message) entry.message = snap.message;
    if (snap?.circuitBreakerState) entry.circuitBreakerState = snap.circuitBreakerState;
    if (b.caps) entry.toolCount = b.caps.tools.length;
    backends.push(entry);
  }
  const doc: StatusDocument = {
    name: runtime.config.name,
    ready: runtime.isReady,
    partialFailureMode: runtime.partialFailureMode,
    sessions: runtime.sessions.size,
    tools: runtime.lists.tools.length,
    backends,
    collisions: runtime.fullView.collisions,
  };
  const store = storeStatus.get(runtime)?.();
  if (store) doc.sessionStore = store;
  return doc;
}

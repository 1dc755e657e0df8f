/**
 * One configured backend and its connections.
 *
 * - stdio: one process and `Client` for discovery and health probes; client sessions get a
 *   process of their own like HTTP sessions get a connection (`stdio.mode: perSession`, at most
 *   `stdio.maxProcesses`, stdio_isolation.ts) or share that one (`shared`). Respawned on next
 *   use if it dies; killed by `close()` (a session's own: when the session ends).
 * - streamable-http / sse: a shared connection for discovery and probes, plus one connection
 *   per client session created lazily on the session's first use of the backend (per-user auth
 *   headers and backend session state stay per session). `shareHttp` makes sessions use the
 *   shared connection too.
 * @module
 */
import type { BackendConfig } from "../../crds/vmcp_config.ts";
import type { Logger } from "../../core/log.ts";
import type { Identity } from "../../core/auth/identity.ts";
import type { ClientCapabilities, Progress, RequestId } from "../../core/sdk.ts";
import {
  type AnyObject,
  BackendConnection,
  type CallContext,
  type SessionPeer,
} from "./connection.ts";
import { type BackendCapabilities, discoverCapabilities } from "./discovery.ts";
import { discoverForCapabilities } from "./capability_discovery.ts";
import {
  BackendTimeoutError,
  BackendUnavailableError,
  inFlightFailure,
  isBackendAnswer,
} from "./errors.ts";
import { processLimitError, stdioPerSession, stdioSettings } from "./stdio_isolation.ts";
import { BackendEra, legacyRefused } from "./backend_era.ts";
import { BackendSessionPool, DEFAULT_POOL_MAX, type PooledPeer } from "./identity_pool.ts";
import type { Clock } from "../../core/clock.ts";
import { ModernSubscriptions } from "./modern_subscriptions.ts";
import { telemetry } from "../telemetry/instrument.ts";

/** Outgoing-auth headers for an identity (undefined identity: the proxy's own connection). */
export type HeadersFor = (
  identity: Identity | undefined,
  signal?: AbortSignal,
) => Promise<Record<string, string>>;

/** What a backend reports to the runtime. */
export interface BackendEvents {
  onListChanged(backend: string, kind: "tools" | "resources" | "prompts"): void;
  /** `session` is the owner of the connection it came on; undefined for a shared connection. */
  onResourceUpdated(backend: string, session: SessionPeer | undefined, params: AnyObject): void;
  /** Every finished backend request: feeds metrics, health and the circuit breaker. */
  onOutcome(backend: string, method: string, ok: boolean, ms: number, error?: unknown): void;
}

export interface BackendOptions {
  config: BackendConfig;
  timeoutMs: number;
  events: BackendEvents;
  log: Logger;
  headersFor?: HeadersFor;
  /** HTTP backends: client sessions share the proxy's connection. @default false */
  shareHttp?: boolean;
  /** Backend sessions of MCP 2026-07-28 callers, per identity (identity_pool.ts). */
  identityPool?: { max?: number; idleMs?: number; clock?: Clock };
}

export interface CallOptions {
  session?: SessionPeer;
  relatedRequestId?: RequestId;
  signal?: AbortSignal;
  onprogress?: (p: Progress) => void;
}

/** Cap of the DELETE that ends a backend session when its client session ends. */
const TERMINATE_MS = 5000;

export class Backend {
  readonly name: string;
  readonly config: BackendConfig;
  timeoutMs: number;
  /** Last discovered capabilities; undefined until discovered or after invalidation. */
  caps: BackendCapabilities | undefined;
  readonly #opts: BackendOptions;
  #shared: Promise<BackendConnection> | undefined;
  readonly #perSession = new Map<string, Promise<BackendConnection>>();
  /** Shared-connection subscriptions: uri → subscribing session ids. */
  readonly #subs = new Map<string, Set<string>>();
  #stopped = false;
  /** The backend's protocol era; a modern backend's stateless connection (ADR 0010). */
  readonly #era: BackendEra;
  /** Per-identity backend sessions of modern callers (keyed by `connectionKey`, ADR 0010). */
  readonly #pool: BackendSessionPool;
  /** Resource subscriptions when the backend is modern: listen streams per identity. */
  #modernSubs: ModernSubscriptions | undefined;

  constructor(opts: BackendOptions) {
    this.#opts = opts;
    this.name = opts.config.name;
    this.config = opts.config;
    this.timeoutMs = opts.timeoutMs;
    this.#era = new BackendEra({
      config: opts.config,
      timeoutMs: () => this.timeoutMs,
      log: opts.log.with({ backend: this.name }),
      ...(opts.headersFor ? { headersFor: opts.headersFor } : {}),
      onListChanged: (kind) => opts.events.onListChanged(this.name, kind),
      onProbeFailed: (err, ms) => opts.events.onOutcome(this.name, "initialize", false, ms, err),
      onSwitch: async (to) => {
        if (to === "modern") await Promise.all([this.#dropConnection(), this.resetSessions()]);
      },
    });
    // A perSession stdio backend: pooled sessions are processes, under stdio.maxProcesses too.
    const processes = stdioSettings(this.config)?.maxProcesses;
    const max = opts.identityPool?.max ?? DEFAULT_POOL_MAX;
    this.#pool = new BackendSessionPool({
      backend: this.name,
      ...opts.identityPool,
      max: stdioPerSession(this.config) && processes ? Math.min(max, processes) : max,
      log: opts.log,
      end: (key) => this.closeSession(key, true),
    });
  }

  get transport(): string {
    return this.config.transport;
  }

  /** True when client sessions use the shared connection. */
  get sharesConnection(): boolean {
    if (this.config.transport === "stdio") return !stdioPerSession(this.config);
    return this.#opts.shareHttp ?? false;
  }

  /** Open connections (for tests and /status). */
  get connectionCount(): number {
    return (this.#shared ? 1 : 0) + this.#perSession.size;
  }

  /** The connection a request from `session` uses, connecting lazily. */
  connectionFor(session?: SessionPeer, signal?: AbortSignal): Promise<BackendConnection> {
    if (this.#stopped) {
      return Promise.reject(new BackendUnavailableError(this.name, "proxy is shutting down"));
    }
    if (!session || this.sharesConnection) {
      return this.#shared ??= this.#open(undefined, signal).catch((err) => {
        this.#shared = undefined;
        throw err;
      });
    }
    // A modern request's peer uses its identity's pooled connection (ADR 0010).
    const key = session.connectionKey ?? session.id;
    let conn = this.#perSession.get(key);
    if (!conn) {
      const full = processLimitError(this.config, this.#perSession.size);
      if (full) return Promise.reject(full);
      let owner = session;
      if (session.connectionKey !== undefined) {
        try {
          owner = this.#pool.owner(session as PooledPeer);
        } catch (err) {
          return Promise.reject(err); // every pooled session busy
        }
      }
      conn = this.#open(owner, signal).catch((err) => {
        this.#perSession.delete(key);
        throw err;
      });
      this.#perSession.set(key, conn);
    }
    return conn;
  }

  async #open(owner: SessionPeer | undefined, signal?: AbortSignal): Promise<BackendConnection> {
    const { headersFor, log, events } = this.#opts;
    const identity = owner?.identity;
    const headers = headersFor && this.config.transport !== "stdio"
      ? (s?: AbortSignal) => headersFor(identity, s)
      : undefined;
    // Scale-out: re-attach the backend session this client session had on another replica.
    // A stale id is answered 404 on first use; `request` then reconnects with a new session.
    const resume = owner && this.config.transport === "streamable-http"
      ? owner.takeBackendSession?.(this.name)
      : undefined;
    const conn: BackendConnection = new BackendConnection(
      this.config,
      owner,
      {
        onListChanged: (kind) => events.onListChanged(this.name, kind),
        onResourceUpdated: (c, params) => events.onResourceUpdated(this.name, c.owner, params),
        onClosed: (c) => this.#forget(c),
      },
      log.with({ backend: this.name }),
      headers,
      resume,
    );
    const started = performance.now();
    try {
      await conn.connect(this.timeoutMs, signal);
    } catch (e) {
      const err = legacyRefused(this.config, e);
      events.onOutcome(this.name, "initialize", false, performance.now() - started, err);
      throw err;
    }
    if (this.#stopped) {
      await conn.close();
      throw new BackendUnavailableError(this.name, "proxy is shutting down");
    }
    const sid = conn.sessionId;
    if (owner && sid && sid !== resume) owner.backendSessionOpened?.(this.name, sid);
    return conn;
  }

  /** Drops a closed connection so the next use reconnects. */
  #forget(conn: BackendConnection): void {
    if (!conn.owner) {
      this.#era.forget(); // reconnecting: probe the era again
      // Only forget if it is still the current shared connection.
      this.#shared?.then((c) => {
        if (c === conn) this.#shared = undefined;
      }, () => {});
      this.#subs.clear();
      return;
    }
    const id = conn.owner.id;
    this.#perSession.get(id)?.then((c) => {
      if (c === conn) this.#perSession.delete(id);
    }, () => {});
  }

  /** Sends one request for `opts.session`, with this backend's deadline. */
  request(
    method: string,
    params: AnyObject | undefined,
    opts: CallOptions = {},
  ): Promise<AnyObject> {
    // OpenTelemetry (off: `telemetry` is undefined): a client span around the request.
    return telemetry
      ? telemetry.backendCall(this.name, method, params, () => this.#request(method, params, opts))
      : this.#request(method, params, opts);
  }

  async #request(
    method: string,
    params: AnyObject | undefined,
    opts: CallOptions,
  ): Promise<AnyObject> {
    const started = performance.now();
    let ok = false;
    let error: unknown;
    const ctx: CallContext = {};
    if (opts.session) ctx.session = opts.session;
    if (opts.relatedRequestId !== undefined) ctx.relatedRequestId = opts.relatedRequestId;
    // A modern caller's pooled backend session is not evicted while this call runs.
    const release = opts.session?.connectionKey !== undefined && !this.sharesConnection
      ? this.#pool.acquire(opts.session as PooledPeer)
      : undefined;
    const send = async () => {
      let modern = this.#era.resolve();
      if (modern instanceof Promise) modern = await modern;
      if (modern) {
        return await modern.request(method, params, {
          ctx,
          timeoutMs: this.timeoutMs,
          ...(opts.signal ? { signal: opts.signal } : {}),
          ...(opts.onprogress ? { onprogress: opts.onprogress } : {}),
        });
      }
      const conn = await this.connectionFor(opts.session, opts.signal);
      return await conn.request(method, params, {
        ctx,
        timeoutMs: this.timeoutMs,
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.onprogress ? { onprogress: opts.onprogress } : {}),
      });
    };
    try {
      let result: AnyObject;
      try {
        result = await send();
      } catch (err) {
        // 404: the backend forgot our session (it restarted); the request was not executed.
        // Reconnect once and resend.
        if (!(err instanceof BackendUnavailableError && err.httpStatus === 404)) throw err;
        await this.#dropConnection(opts.session);
        result = await send();
      }
      ok = true;
      return result;
    } catch (err) {
      error = err;
      // A backend that answered with an error is alive: that is not a health failure.
      ok = isBackendAnswer(err) ||
        (opts.signal?.aborted === true && !(err instanceof BackendTimeoutError));
      throw err;
    } finally {
      release?.();
      this.#opts.events.onOutcome(
        this.name,
        method,
        ok,
        performance.now() - started,
        ok ? undefined : error,
      );
    }
  }

  async #dropConnection(session?: SessionPeer): Promise<void> {
    if (session && !this.sharesConnection) {
      const conn = this.#perSession.get(session.id);
      this.#perSession.delete(session.id);
      await conn?.then((c) => c.close(), () => {});
      return;
    }
    const conn = this.#shared;
    this.#shared = undefined;
    this.#era.forget();
    await conn?.then((c) => c.close(), () => {});
  }

  /**
   * Closes every per-session connection (they reconnect lazily). Called when the backend
   * becomes routable again: after an outage its old sessions are usually gone.
   */
  async resetSessions(): Promise<void> {
    this.#era.forget(); // a health transition: probe the era again
    const all = [...this.#perSession.values()];
    this.#perSession.clear();
    await Promise.all(all.map((c) => c.then((conn) => conn.close(), () => {})));
  }

  /** Lists everything the backend offers (shared connection), bounded by one deadline. */
  async discover(signal?: AbortSignal): Promise<BackendCapabilities> {
    const ac = new AbortController();
    const timer = setTimeout(
      () => ac.abort(new BackendTimeoutError(this.name, this.timeoutMs, "capability discovery")),
      this.timeoutMs,
    );
    const onAbort = () => ac.abort(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const started = performance.now();
    try {
      // Each rediscovery probes the era again (an upgraded backend is noticed).
      const modern = await this.#era.refresh();
      const caps = modern
        ? await discoverCapabilities(modern, this.timeoutMs, ac.signal)
        : await this.#onShared(
          ac.signal,
          (conn) => discoverCapabilities(conn, this.timeoutMs, ac.signal),
        );
      this.caps = caps;
      this.#opts.events.onOutcome(this.name, "discover", true, performance.now() - started);
      return caps;
    } catch (err) {
      const reason = ac.signal.reason;
      const e = reason instanceof BackendTimeoutError ? reason : err;
      this.#opts.events.onOutcome(this.name, "discover", false, performance.now() - started, e);
      throw e;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Lists what the backend offers a client declaring `capabilities` (a backend session of its
   * own, capability_discovery.ts); bounded by the backend's timeout per step.
   */
  async discoverFor(
    capabilities: ClientCapabilities,
    signal?: AbortSignal,
  ): Promise<BackendCapabilities> {
    const modern = await this.#era.resolve();
    return await discoverForCapabilities({
      config: this.config,
      capabilities,
      timeoutMs: this.timeoutMs,
      log: this.#opts.log,
      headersFor: this.#opts.headersFor,
      modern,
      signal,
    });
  }

  /**
   * A health probe: `ping` within `timeoutMs` on the shared connection. A backend that forgot
   * the connection's session (HTTP 404: it restarted) is re-initialized and pinged again, so a
   * restarted backend passes its first probe.
   */
  async probe(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    // A modern (or not yet known) backend's check is `server/discover` (no ping in 2026-07-28),
    // which also notices a change of era.
    if (this.#era.verdict !== "legacy" && await this.#era.refresh(timeoutMs)) return;
    await this.#onShared(
      signal,
      (conn) => conn.request("ping", undefined, { timeoutMs, ...(signal ? { signal } : {}) }),
    );
  }

  /** Runs `fn` on the shared connection; on HTTP 404 (session gone) reconnects once and reruns. */
  async #onShared<T>(
    signal: AbortSignal | undefined,
    fn: (conn: BackendConnection) => Promise<T>,
  ): Promise<T> {
    try {
      return await fn(await this.connectionFor(undefined, signal));
    } catch (err) {
      if (!(err instanceof BackendUnavailableError && err.httpStatus === 404)) throw err;
      await this.#dropConnection(undefined);
      return await fn(await this.connectionFor(undefined, signal));
    }
  }

  /** Whether the backend speaks MCP 2026-07-28 (its era probed first when unknown). */
  async isModern(): Promise<boolean> {
    let modern = this.#era.resolve();
    if (modern instanceof Promise) modern = await modern;
    return modern !== undefined;
  }

  /**
   * Keeps the pooled backend session of a 2026-07-28 caller (`peer`) from eviction and idle
   * expiry until the returned release (a resource subscription lives on it).
   */
  holdIdentitySession(peer: PooledPeer): () => void {
    return this.#pool.hold(peer);
  }

  /** The modern backend's resource subscriptions (undefined: legacy backend). */
  async #modern(): Promise<ModernSubscriptions | undefined> {
    const conn = await this.#era.resolve();
    if (!conn || !this.config.url) return undefined;
    const url = this.config.url;
    return this.#modernSubs ??= new ModernSubscriptions({
      backend: this.name,
      url,
      discover: async () => {
        const c = await this.#era.resolve();
        if (!c) throw new BackendUnavailableError(this.name, "no longer speaks MCP 2026-07-28");
        return c.discoverResult;
      },
      ...(this.#opts.headersFor ? { headersFor: this.#opts.headersFor } : {}),
      log: this.#opts.log.with({ backend: this.name }),
      onUpdated: (owner, params) => this.#opts.events.onResourceUpdated(this.name, owner, params),
    });
  }

  /**
   * Subscribes `session` to `uri` (once per backend on a shared connection; on a modern
   * backend through the identity's listen stream, modern_subscriptions.ts).
   */
  async subscribe(session: SessionPeer, uri: string, signal?: AbortSignal): Promise<void> {
    const modern = await this.#modern();
    if (modern) return await modern.subscribe(session, uri);
    if (!this.sharesConnection) {
      await this.request("resources/subscribe", { uri }, {
        session,
        ...(signal ? { signal } : {}),
      });
      return;
    }
    let set = this.#subs.get(uri);
    const first = !set || set.size === 0;
    if (!set) this.#subs.set(uri, set = new Set());
    set.add(session.id);
    if (first) {
      try {
        await this.request("resources/subscribe", { uri }, signal ? { signal } : {});
      } catch (err) {
        set.delete(session.id);
        throw err;
      }
    }
  }

  /** Unsubscribes `session` from `uri` (the backend only when nobody else listens). */
  async unsubscribe(session: SessionPeer, uri: string, signal?: AbortSignal): Promise<void> {
    if (this.#modernSubs && this.#era.verdict === "modern") {
      return await this.#modernSubs.unsubscribe(session, uri);
    }
    if (!this.sharesConnection) {
      await this.request("resources/unsubscribe", { uri }, {
        session,
        ...(signal ? { signal } : {}),
      });
      return;
    }
    const set = this.#subs.get(uri);
    if (!set?.delete(session.id) || set.size > 0) return;
    this.#subs.delete(uri);
    await this.request("resources/unsubscribe", { uri }, signal ? { signal } : {}).catch(() => {});
  }

  /**
   * Closes the session's own connection and drops its shared subscriptions; `terminate` first
   * ends its backend session (DELETE, bounded by the backend timeout, at most 5 s).
   */
  async closeSession(sessionId: string, terminate = false): Promise<void> {
    void this.#modernSubs?.dropOwner(sessionId);
    for (const [uri, set] of this.#subs) {
      if (set.delete(sessionId) && set.size === 0) {
        this.#subs.delete(uri);
        this.#shared?.then((c) =>
          c.request("resources/unsubscribe", { uri }, { timeoutMs: this.timeoutMs })
        )
          .catch(() => {});
      }
    }
    const conn = this.#perSession.get(sessionId);
    if (!conn) return;
    this.#perSession.delete(sessionId);
    await conn.then(
      (c) => terminate ? c.terminate(Math.min(this.timeoutMs, TERMINATE_MS)) : c.close(),
      () => {},
    );
  }

  /** Ends pooled backend sessions of modern callers idle past `sessionStorage.ttl`. */
  sweepIdentitySessions(): number {
    return this.#pool.sweep();
  }

  /** Identities with a resource listen stream to this modern backend (for tests). */
  get modernSubscriptionStreams(): number {
    return this.#modernSubs?.size ?? 0;
  }

  /**
   * A 2026-07-28 caller (`identityKey`) says its roots changed: its pooled backend sessions that
   * declared `roots` end (when next idle if busy), so the next call's session asks it again.
   */
  identityRootsChanged(identityKey: string): number {
    return this.sharesConnection ? 0 : this.#pool.rootsChanged(identityKey);
  }

  /** Pooled backend sessions of modern callers (for tests and /status). */
  get identitySessionCount(): number {
    return this.#pool.size;
  }

  /**
   * Sends a notification of client session `sessionId` (e.g. `notifications/roots/list_changed`)
   * on its own backend connection, if it has one open. Never on a shared connection: its backend
   * session is everyone's, and what the backend asks back could not be attributed (ADR 0006).
   */
  async notifySession(sessionId: string, method: string, params?: AnyObject): Promise<void> {
    if (this.sharesConnection) return;
    await this.#perSession.get(sessionId)?.then((c) => c.notify(method, params), () => {});
  }

  /**
   * Fails every call in flight on any of this backend's connections now (it stopped being
   * routable, `why`: its health): each caller gets `BackendUnavailableError` naming the backend
   * instead of waiting for the backend's timeout. The connections stay (they are reset when the
   * backend is routable again).
   */
  failInFlight(why: string): void {
    const err = inFlightFailure(this.name, why);
    this.#era.connection?.failInFlight(err);
    for (const c of [this.#shared, ...this.#perSession.values()]) {
      c?.then((conn) => conn.failInFlight(err), () => {});
    }
  }

  /** Closes every connection; a stdio child is terminated. */
  async close(): Promise<void> {
    this.#stopped = true;
    await this.#era.close();
    // Pooled sessions of modern callers are in no store: nothing could resume them.
    await this.#pool.close();
    const all = [this.#shared, ...this.#perSession.values()];
    this.#shared = undefined;
    this.#perSession.clear();
    this.#subs.clear();
    await this.#modernSubs?.close();
    await Promise.all(all.map((c) => c?.then((conn) => conn.close(), () => {})));
  }
}

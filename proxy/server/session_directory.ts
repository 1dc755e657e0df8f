/**
 * Where the `/mcp` endpoint finds a client session: this replica's live sessions (a bounded
 * `LocalSessionCache`, mirrored into `runtime.sessions`, which the runtime notifies) backed by
 * the shared `SessionStore` (memory: one replica; Redis: any replica serves any session). See
 * `proxy/sessions/README.md` for the flow.
 *
 * - The cache holds at most `sessionStorage.maxLocalSessions` (default 1000) sessions. Past the
 *   bound the least recently used *idle* session (no GET stream, no request in flight) is
 *   closed locally: its transport and backend connections go, its record stays in the store,
 *   and its next request restores it (same for both providers; the memory store keeps records
 *   in-process). Live sessions are never evicted: the bound is then exceeded (and logged).
 * - `open` + `commit`: a new session (initialize); the record is stored before the session is
 *   handed out, so every replica can serve it from its first request on.
 * - `resolve`: every request with an `Mcp-Session-Id` reads the record (one GETEX, sliding the
 *   TTL), refuses terminated/unknown ids (404, dropping a local copy), checks the identity
 *   binding against the live request (403), and restores the session when this replica does
 *   not hold it (fresh transport for the known id + replayed initialize; backend sessions are
 *   re-attached lazily from the stored ids). With the store down, local sessions keep working
 *   and restores answer 503 + Retry-After.
 * - `terminate`: explicit DELETE; the marker makes every replica answer 404 afterwards.
 * - When the store recovers (Redis back, possibly empty after a restart), the local records are
 *   re-published (SET NX), so other replicas can restore these sessions without waiting for a
 *   request to reach the replica holding them.
 * @module
 */
import type { Identity } from "../../core/auth/identity.ts";
import type { Logger } from "../../core/log.ts";
import { describeError } from "../backends/errors.ts";
import type { Router } from "../router.ts";
import type { ProxyRuntime } from "../runtime.ts";
import { bindingErrorResponse, checkBinding } from "../sessions/binding.ts";
import { LocalSessionCache } from "../sessions/local_cache.ts";
import { replayInitialize, sessionStateFromInitialize } from "../sessions/restore_transport.ts";
import {
  SessionLimitError,
  type SessionPatch,
  type SessionRecord,
  type SessionStore,
  SessionStoreUnavailableError,
  storeUnavailableResponse,
  TERMINATED,
} from "../sessions/store.ts";
import { installHandlers } from "./handlers.ts";
import type { ProxyMetrics } from "./metrics.ts";
import { ProxySession } from "./session.ts";
import { SessionRefusals, UnusedSessions } from "./unused_sessions.ts";

export interface DirectoryOptions {
  runtime: ProxyRuntime;
  router: Router;
  store: SessionStore;
  log: Logger;
  metrics?: ProxyMetrics;
  serverInfo: { name: string; version: string };
  /**
   * Bound of the live sessions held here.
   * @default runtime.config.sessionStorage.maxLocalSessions, else 1000
   */
  maxLocalSessions?: number;
  /** Called when a session is refused because another identity presented it (logging). */
  onForeign?: (
    info: { sessionId: string; ownerKey: string; presentedKey: string; reason: string },
    req: Request,
  ) => void | Promise<void>;
}

/** Counters for tests, `/status` and the bench. */
export interface DirectoryStats {
  created: number;
  restored: number;
  /** Requests served from a local session while the store was unavailable. */
  degraded: number;
  /** Requests refused because the session belongs to another identity. */
  bindingRejected: number;
  /** Idle sessions closed locally to stay within `maxLocalSessions` (records kept). */
  evicted: number;
  /** Sessions written back to the store after it recovered (e.g. Redis restarted empty). */
  republished: number;
  /** New sessions refused by `sessionStorage.maxSessions`. */
  refusedMaxSessions: number;
  /** New sessions refused by `sessionStorage.maxSessionsPerIdentity`. */
  refusedPerIdentity: number;
  /** Sessions closed here because they made no request within `initTtl` of initialize. */
  expiredUnused: number;
}

/** The `sessionStore` part of `/status`. */
export interface SessionStoreStatus extends DirectoryStats {
  provider: "memory" | "redis";
  healthy: boolean;
  /** Live sessions held by this replica and their bound. */
  local: number;
  maxLocal: number;
  /** Local sessions that have not made a request since initialize. */
  unused: number;
}

export function sessionNotFound(): Response {
  return Response.json({
    jsonrpc: "2.0",
    error: {
      code: -32001,
      message: "Session not found (unknown, expired or closed); initialize a new session",
    },
    id: null,
  }, { status: 404 });
}

type InitState = NonNullable<ReturnType<typeof sessionStateFromInitialize>>;

export class SessionDirectory {
  readonly store: SessionStore;
  readonly stats: DirectoryStats = {
    created: 0,
    restored: 0,
    degraded: 0,
    bindingRejected: 0,
    evicted: 0,
    republished: 0,
    refusedMaxSessions: 0,
    refusedPerIdentity: 0,
    expiredUnused: 0,
  };
  /** The live sessions of this replica (least recently used first). */
  readonly cache: LocalSessionCache<ProxySession>;
  readonly #o: DirectoryOptions;
  readonly #records = new WeakMap<ProxySession, SessionRecord>();
  readonly #restoring = new Map<string, Promise<ProxySession>>();
  /** Sessions that have made no request since initialize → when they were opened. */
  readonly #unused: UnusedSessions;
  readonly #refusals: SessionRefusals;

  #overBoundLogged = false;

  constructor(opts: DirectoryOptions) {
    this.#o = opts;
    this.store = opts.store;
    this.#unused = new UnusedSessions(opts.store);
    this.#refusals = new SessionRefusals(this.stats, opts.log, opts.store);
    const max = opts.maxLocalSessions ??
      opts.runtime.config.sessionStorage?.maxLocalSessions ?? 1000;
    this.cache = new LocalSessionCache<ProxySession>({
      max,
      // A GET stream or a request in flight would break: only idle sessions may go.
      canEvict: (_id, s) => s.inUse === 0 && !s.transport.active,
      onEvict: (id, s, reason) => {
        if (reason === "capacity") {
          this.stats.evicted++;
          opts.log.debug("idle session closed locally (maxLocalSessions); its record stays", {
            session: id,
          });
        }
        if (!s.closed) void s.close();
      },
    });
    opts.store.onHealthChange((healthy) => {
      if (healthy) void this.republish();
    });
  }

  /** Store health and counters for `/status`. */
  status(): SessionStoreStatus {
    return {
      provider: this.store.kind,
      healthy: this.store.healthy,
      ...this.stats,
      local: this.cache.size,
      maxLocal: this.cache.max,
      unused: this.#unused.size,
    };
  }

  /**
   * Writes the records of the sessions held here that the store lost (after Redis came back
   * empty), so any replica can restore them again. Failures are logged (retried on the next
   * recovery or by the holder's next request).
   */
  async republish(): Promise<number> {
    const records: SessionRecord[] = [];
    for (const s of this.cache.values()) {
      const rec = this.#records.get(s);
      if (rec && !s.closed) records.push({ ...rec, lastSeen: Date.now() });
    }
    if (records.length === 0) return 0;
    try {
      const n = await this.store.republish(records);
      this.stats.republished += n;
      if (n) {
        this.#o.log.info("re-published local sessions the session store had lost", { count: n });
      }
      return n;
    } catch (err) {
      this.#o.log.warn("re-publishing local sessions failed", { error: describeError(err) });
      return 0;
    }
  }

  #session(
    identity: Identity,
    identityKey: string,
    id: string | undefined,
    record?: SessionRecord,
  ) {
    const { runtime, router, metrics, log } = this.#o;
    const session: ProxySession = new ProxySession({
      identity,
      identityKey,
      serverInfo: this.#o.serverInfo,
      sessionIdGenerator: id ? () => id : () => crypto.randomUUID(),
      ...(record ? { backendSessions: record.backendSessions } : {}),
      onInitialized: () => {},
      onClosed: (s) => {
        this.#unused.delete(s);
        if (!s.id) return;
        runtime.audit?.sessionClosed(s, s.ending);
        this.cache.deleteIf(s.id, s);
        if (runtime.sessions.get(s.id) === s) {
          void runtime.closeSession(s).catch((err) =>
            log.warn("session close failed", { error: describeError(err) })
          );
        }
        metrics?.setSessions(runtime.sessions.size);
        log.debug("session closed", { session: s.id });
      },
      onBackendSession: (s, backend, sid) =>
        this.persist(s, { backendSessions: { [backend]: sid } }),
    });
    installHandlers(session, router, metrics, (s, patch) => this.persist(s, patch));
    return session;
  }

  #register(session: ProxySession, record: SessionRecord): void {
    const { runtime, metrics, log } = this.#o;
    this.#records.set(session, record);
    runtime.sessions.set(session.id, session);
    this.cache.set(session.id, session); // may close idle least recently used sessions
    const over = this.cache.overBound;
    if (over > 0 && !this.#overBoundLogged) {
      this.#overBoundLogged = true;
      log.warn("more live sessions than sessionStorage.maxLocalSessions; none is idle to close", {
        max: this.cache.max,
        live: this.cache.size,
      });
    } else if (over === 0) this.#overBoundLogged = false;
    metrics?.setSessions(runtime.sessions.size);
  }

  /** A new session for an `initialize` body; hand the body to `session.transport`, then `commit`. */
  async open(
    identity: Identity,
    identityKey: string,
    body: unknown,
  ): Promise<{ session: ProxySession; state: InitState | undefined }> {
    const session = this.#session(identity, identityKey, undefined);
    await session.server.connect(session.transport);
    return { session, state: sessionStateFromInitialize(body) };
  }

  /**
   * Stores the record of a session whose initialize was just answered (`response`) and makes
   * it live here. Answers what to send: `response`, or a 503 when the store is unavailable
   * (no session is handed out that other replicas could not serve).
   */
  async commit(
    session: ProxySession,
    state: InitState | undefined,
    response: Response,
  ): Promise<Response> {
    if (!session.id || !state) {
      await session.close(); // initialize was rejected: nothing to keep
      return response;
    }
    const now = Date.now();
    const record: SessionRecord = {
      id: session.id,
      identityKey: session.identityKey,
      ...state,
      backendSessions: {},
      subscriptions: [],
      createdAt: now,
      lastSeen: now,
    };
    try {
      await this.store.create(record);
    } catch (err) {
      await response.body?.cancel().catch(() => {});
      await session.close();
      if (err instanceof SessionLimitError) {
        return this.#refusals.respond(err, session.identityKey);
      }
      if (err instanceof SessionStoreUnavailableError) {
        this.#o.log.warn("new session refused: the session store is unavailable", {
          error: err.message,
        });
        return storeUnavailableResponse(err);
      }
      throw err;
    }
    this.stats.created++;
    this.#unused.add(session, now);
    this.#register(session, record);
    this.#o.runtime.audit?.sessionOpened(session);
    // Cheap (oldest first, stops at the first recent one): new sessions retire abandoned ones.
    void this.endUnused(now).catch(() => {});
    this.#o.log.debug("session opened", { session: session.id });
    return response;
  }

  /**
   * The live session for a request carrying `id` (restored when this replica does not hold
   * it), or the response to send instead: 404 unknown/terminated, 403 another identity,
   * 503 store unavailable and not held here.
   */
  async resolve(
    id: string,
    identity: Identity,
    identityKey: string,
    req: Request,
    active = true,
  ): Promise<ProxySession | Response> {
    let local = this.cache.get(id);
    let record: SessionRecord | undefined;
    try {
      // Only a request (not a notification) moves a new session from initTtl to the TTL.
      const slide = active || (local !== undefined && !this.#unused.has(local));
      const got = await this.store.get(id, { slide });
      if (got === TERMINATED) {
        if (local) await local.end(); // terminated on another replica
        return sessionNotFound();
      }
      record = got;
      if (!record && local && this.#unused.expired(local)) {
        // Never made a request within initTtl: expired, not lost.
        await local!.end();
        return sessionNotFound();
      }
      if (!record && local) {
        // Lost from the store (e.g. Redis restarted without persistence): write it back.
        record = this.#records.get(local);
        if (record) await this.store.republish([{ ...record, lastSeen: Date.now() }]);
      }
    } catch (err) {
      if (!(err instanceof SessionStoreUnavailableError)) throw err;
      if (!local) return storeUnavailableResponse(err);
      this.stats.degraded++;
      record = this.#records.get(local);
    }
    if (!record) {
      if (local) await local.end(); // expired in the store
      return sessionNotFound();
    }
    const binding = checkBinding(record, identityKey);
    if (!binding.ok) {
      this.stats.bindingRejected++;
      if (this.#o.onForeign) {
        await this.#o.onForeign({
          sessionId: id,
          ownerKey: record.identityKey,
          presentedKey: identityKey,
          reason: binding.reason,
        }, req);
      } else {
        this.#o.log.warn("refused a session presented by another identity", {
          reason: binding.reason,
        });
      }
      return bindingErrorResponse(binding);
    }
    if (local) {
      this.#records.set(local, record);
      local.lastSeen = Date.now();
      if (active) this.#unused.delete(local);
      return local;
    }
    let pending = this.#restoring.get(id);
    if (!pending) {
      pending = this.#restore(record, identity, req).finally(() => this.#restoring.delete(id));
      this.#restoring.set(id, pending);
    }
    try {
      local = await pending;
    } catch (err) {
      this.#o.log.warn("session restore failed", { session: id, error: describeError(err) });
      return Response.json({
        jsonrpc: "2.0",
        error: { code: -32603, message: `Session ${id} could not be restored on this replica` },
        id: null,
      }, { status: 500 });
    }
    // Concurrent restores share one session, each checks its own binding above.
    return local;
  }

  async #restore(record: SessionRecord, identity: Identity, req: Request): Promise<ProxySession> {
    const session = this.#session(identity, record.identityKey, record.id, record);
    await session.server.connect(session.transport);
    const headers: Record<string, string> = {};
    for (const h of ["host", "origin"]) {
      const v = req.headers.get(h);
      if (v) headers[h] = v;
    }
    try {
      await replayInitialize(session.transport, record, { url: req.url, headers });
    } catch (err) {
      await session.close();
      throw err;
    }
    for (const uri of record.subscriptions) session.subscriptions.add(uri);
    if (record.logLevel) session.logLevel = record.logLevel as ProxySession["logLevel"];
    // Whatever changed while the client had no stream here reaches it when it opens one.
    session.transport.remindListsChanged();
    this.stats.restored++;
    this.#register(session, record);
    this.#o.log.debug("session restored", { session: record.id });
    // Re-establish backend subscriptions in the background (idempotent on a re-attached
    // backend session; needed on a new one).
    for (const uri of record.subscriptions) {
      this.#o.router.subscribe(session, { uri }, {
        requestId: `vmcp-restore-subscribe`,
        signal: AbortSignal.timeout(30_000),
      })
        .catch((err) =>
          this.#o.log.debug("re-subscribe failed", { uri, error: describeError(err) })
        );
    }
    return session;
  }

  /**
   * Explicit DELETE: marks the session terminated in the store (every replica answers 404
   * from then on). Answers a 503 when the store is unavailable (the session stays usable).
   */
  async terminate(id: string): Promise<Response | undefined> {
    try {
      await this.store.terminate(id);
      return undefined;
    } catch (err) {
      if (err instanceof SessionStoreUnavailableError) return storeUnavailableResponse(err);
      throw err;
    }
  }

  /** Writes a state change of `session` to the store (failures are logged and ignored). */
  persist(session: ProxySession, patch: SessionPatch): void {
    const rec = this.#records.get(session);
    if (!session.id || !rec) return;
    this.store.update(session.id, patch).then((next) => {
      if (next && next !== TERMINATED) this.#records.set(session, next);
    }, (err) =>
      this.#o.log.debug("session state not stored", {
        session: session.id,
        error: describeError(err),
      }));
  }

  /**
   * Ends local sessions that made no request within `initTtl` of their initialize and hold no
   * GET stream (`UnusedSessions.endStale`); answers how many ended.
   */
  async endUnused(now = Date.now()): Promise<number> {
    const n = await this.#unused.endStale(now);
    this.stats.expiredUnused += n;
    return n;
  }

  /** Slides the store TTL of local sessions holding a GET stream (listeners send nothing). */
  async touchStreams(): Promise<void> {
    const ids = [...this.cache.values()].filter((s) => s.transport.hasStandaloneStream).map((s) =>
      s.id
    );
    await this.store.touchMany(ids).catch((err) =>
      this.#o.log.debug("touching streaming sessions failed", { error: describeError(err) })
    );
  }
}

/**
 * Sessions that have made no request since `initialize` (`sessionStorage.initTtl`), and the
 * answer to a new session refused by a session limit. Used by `SessionDirectory`.
 *
 * A session is "unused" from its initialize until its first request (a POST carrying a JSON-RPC
 * request or response, or a GET stream). Its store record lives `initTtl` meanwhile; once that
 * has passed, `endStale` ends it here too (oldest first, stopping at the first recent one, so a
 * call costs only what it retires). With a shared store the record is read first: another
 * replica may have served a request since.
 * @module
 */
import { type Logger, warnAtMostEvery } from "../../core/log.ts";
import {
  type SessionLimitError,
  sessionLimitResponse,
  type SessionStore,
  TERMINATED,
} from "../sessions/store.ts";
import type { ProxySession } from "./session.ts";

export class UnusedSessions {
  /** Session → when it was opened (insertion order = oldest first). */
  readonly #opened = new Map<ProxySession, number>();
  constructor(readonly store: SessionStore) {}

  get size(): number {
    return this.#opened.size;
  }

  add(session: ProxySession, openedAt: number): void {
    this.#opened.set(session, openedAt);
  }

  /** The session made a request (or closed): no longer tracked. */
  delete(session: ProxySession): void {
    this.#opened.delete(session);
  }

  has(session: ProxySession): boolean {
    return this.#opened.has(session);
  }

  /** True when `session` is unused and `initTtl` has passed since its initialize. */
  expired(session: ProxySession, now = Date.now()): boolean {
    const at = this.#opened.get(session);
    return at !== undefined && at <= now - this.store.initTtlMs;
  }

  /**
   * Ends unused sessions past `initTtl` that hold no GET stream and no request in flight;
   * answers how many ended.
   */
  async endStale(now = Date.now()): Promise<number> {
    const cutoff = now - this.store.initTtlMs;
    const stale: ProxySession[] = [];
    for (const [s, openedAt] of this.#opened) {
      if (openedAt > cutoff) break;
      if (s.inUse === 0 && !s.transport.hasStandaloneStream) stale.push(s);
    }
    for (const s of stale) this.#opened.delete(s);
    const ended = await Promise.all(stale.map(async (s) => {
      if (this.store.kind !== "memory") {
        const rec = await this.store.get(s.id, { slide: false }).catch(() => "unknown" as const);
        if (rec !== undefined && rec !== TERMINATED) return false; // used on another replica
      }
      await s.end();
      return true;
    }));
    return ended.filter(Boolean).length;
  }
}

/** Counters of refused new sessions (`/status` `sessionStore`). */
export interface RefusalStats {
  refusedMaxSessions: number;
  refusedPerIdentity: number;
}

/**
 * Answers a new session refused by a session limit (503 `maxSessions`, 429
 * `maxSessionsPerIdentity`, `Retry-After` = initTtl in seconds) and counts it; logged at warn
 * at most once a minute (debug otherwise), so a flood does not flood the log.
 */
export class SessionRefusals {
  readonly #warn: (msg: string, fields?: Record<string, unknown>) => void;
  constructor(
    readonly stats: RefusalStats,
    readonly log: Logger,
    readonly store: SessionStore,
  ) {
    this.#warn = warnAtMostEvery(log, 60_000);
  }

  respond(err: SessionLimitError, identityKey: string): Response {
    if (err.limit === "maxSessions") this.stats.refusedMaxSessions++;
    else this.stats.refusedPerIdentity++;
    this.#warn("new session refused: session limit reached (warns once a minute)", {
      limit: err.limit,
      max: err.max,
      identityKey: identityKey.slice(0, 200),
      refusedMaxSessions: this.stats.refusedMaxSessions,
      refusedPerIdentity: this.stats.refusedPerIdentity,
    });
    return sessionLimitResponse(err, Math.max(1, Math.ceil(this.store.initTtlMs / 1000)));
  }
}

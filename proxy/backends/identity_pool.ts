/**
 * Backend sessions of MCP 2026-07-28 clients on a legacy backend
 * (docs/adr/0010-mcp-2026-07-28-both-eras.md, section 3, "Legacy backends behind modern
 * clients"). A modern client has no session, so its backend sessions belong to no client
 * session: one per (identity, backend, capability set), keyed by the request peer's
 * `connectionKey`, reused by every request of that identity on this replica.
 *
 * This is the bookkeeping of one backend's entries; `Backend` holds the connections:
 *
 * - **Owner.** Each entry has a `PoolOwner`, the `SessionPeer` its backend connection is opened
 *   for. Its identity is a copy that adopts each caller's fresh token (as ADR 0003 does for
 *   sessions), so outgoing token exchange keeps a valid subject token. A backend-initiated
 *   message reaches the owner only when it cannot be attributed to one call, by the POST answer
 *   it came on or as the single call in flight (connection.ts `route`): requests are then
 *   refused, log messages dropped (ADR 0006).
 * - **Bounds.** At most `max` entries (`sessionStorage.maxLocalSessions`, default 1000). A new
 *   key past it evicts the least recently used idle entry; when every entry is busy the request
 *   is refused with -32603 naming the limit. One identity holds at most
 *   `MAX_CAPSETS_PER_IDENTITY` entries (capability sets): a client invents capability sets at
 *   will, so past it the identity's own least recently used idle entry goes (never another
 *   identity's), and when all of its entries are busy the request is refused (-32603).
 * - **Busy** entries are never evicted or expired: a call in flight (`acquire`) or a hold
 *   (`hold`: a resource subscription of a listen stream lives on the backend session).
 * - **Idle expiry.** An entry unused for `idleMs` (`sessionStorage.ttl`, default 30 min; the
 *   injected clock) is ended at the next `sweep` or the next new key; idle time counts from
 *   the end of its last call or hold.
 * - **End.** Eviction, expiry and `close` (shutdown) call `end(key)`: the backend session is
 *   terminated (DELETE). Nothing else can resume it: it is in no store.
 * - **Roots changed** (`rootsChanged`, a caller's `notifications/roots/list_changed`): that
 *   identity's entries that declared `roots` are ended (a busy one when it is next idle), so the
 *   backend's next session asks for roots again during a call instead of keeping the ones it
 *   cached. Forwarding the notification would not do: the backend would ask at once, outside any
 *   call, and that request cannot be attributed (refused, see Owner).
 * @module
 */
import type { Identity } from "../../core/auth/identity.ts";
import { type Clock, systemClock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import type { ClientCapabilities, RequestId } from "../../core/sdk.ts";
import type { AnyObject, SessionPeer } from "./connection.ts";
import { backendRequestRefused, RpcError } from "./errors.ts";

/** Entries per backend when `sessionStorage.maxLocalSessions` is not set. */
export const DEFAULT_POOL_MAX = 1000;
/** Idle time before an entry ends when `sessionStorage.ttl` is not set (30 min). */
export const DEFAULT_POOL_IDLE_MS = 30 * 60_000;
/** Entries (capability sets) of one identity per backend at most. */
export const MAX_CAPSETS_PER_IDENTITY = 8;

/** A request peer whose backend sessions are pooled per identity. */
export type PooledPeer = SessionPeer & {
  readonly connectionKey: string;
  readonly identityKey: string;
};

/** The owner of one identity's pooled backend connection (no client session). */
export class PoolOwner implements SessionPeer {
  readonly id: string;
  readonly connectionKey: string;
  /** The identity the front door passes to the listen hub (resource updates go only there). */
  readonly listenIdentityKey: string;
  readonly identity: Identity;
  readonly #caps: ClientCapabilities | undefined;

  constructor(peer: PooledPeer, readonly backend: string) {
    this.id = peer.connectionKey;
    this.connectionKey = peer.connectionKey;
    this.listenIdentityKey = peer.identityKey;
    this.identity = { ...peer.identity };
    this.#caps = peer.clientCapabilities();
  }

  /** The same caller with a possibly refreshed token: later token exchanges use it. */
  adopt(identity: Identity): void {
    const mine = this.identity;
    if (identity.token === mine.token) return;
    mine.token = identity.token;
    mine.expiresAt = identity.expiresAt;
    mine.claims = identity.claims;
  }

  clientCapabilities(): ClientCapabilities | undefined {
    return this.#caps;
  }

  request(
    req: { method: string; params?: AnyObject },
    _opts: { signal: AbortSignal; relatedRequestId?: RequestId },
  ): Promise<AnyObject> {
    return Promise.reject(backendRequestRefused(
      this.backend,
      req.method,
      "cannot be attributed to one request: this identity's backend session has no single call " +
        "in flight",
    ));
  }

  notify(): Promise<void> {
    return Promise.resolve(); // not attributable to one request: dropped
  }
}

interface Entry {
  owner: PoolOwner;
  inflight: number;
  /** Holds (resource subscriptions) on the entry. */
  holds: number;
  lastUsed: number;
  /** Its roots changed while busy: ended when next idle. */
  stale?: boolean;
}

const busy = (e: Entry) => e.inflight > 0 || e.holds > 0;

export interface PoolOptions {
  /** The backend's name (errors and logs). */
  backend: string;
  /** @default DEFAULT_POOL_MAX */
  max?: number;
  /** @default DEFAULT_POOL_IDLE_MS */
  idleMs?: number;
  clock?: Clock;
  log?: Logger;
  /** Ends the backend session of `key` (terminate: DELETE, bounded). */
  end(key: string): Promise<void>;
}

export class BackendSessionPool {
  readonly #o: PoolOptions;
  readonly #max: number;
  readonly #idleMs: number;
  readonly #clock: Clock;
  /** Least recently used first. */
  readonly #entries = new Map<string, Entry>();
  /** Entries per identity key. */
  readonly #perIdentity = new Map<string, number>();

  constructor(opts: PoolOptions) {
    this.#o = opts;
    this.#max = opts.max ?? DEFAULT_POOL_MAX;
    this.#idleMs = opts.idleMs ?? DEFAULT_POOL_IDLE_MS;
    this.#clock = opts.clock ?? systemClock;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Marks a call of `peer` in flight on its entry (created, evicting another when full) and
   * returns its release; the entry's owner adopts the caller's identity.
   */
  acquire(peer: PooledPeer): () => void {
    const e = this.#entry(peer);
    e.inflight++;
    return this.#release(e, "inflight");
  }

  /**
   * Holds `peer`'s entry (created, evicting another when full) until the returned release: it
   * is neither evicted nor expired meanwhile (a resource subscription lives on its backend
   * session). Idle time counts from the release.
   */
  hold(peer: PooledPeer): () => void {
    const e = this.#entry(peer);
    e.holds++;
    return this.#release(e, "holds");
  }

  #release(e: Entry, what: "inflight" | "holds"): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      e[what]--;
      e.lastUsed = this.#clock.now();
      const key = e.owner.connectionKey;
      if (e.stale && !busy(e) && this.#entries.get(key) === e) this.#end(key, "roots changed");
    };
  }

  /**
   * The caller `identityKey` says its roots changed: its entries whose capabilities declare
   * `roots` are ended now, or when next idle if busy; returns how many are ended now. Never
   * another identity's entries.
   */
  rootsChanged(identityKey: string): number {
    let n = 0;
    for (const [key, e] of [...this.#entries]) {
      if (e.owner.listenIdentityKey !== identityKey) continue;
      if (e.owner.clientCapabilities()?.roots === undefined) continue;
      if (busy(e)) {
        e.stale = true;
        continue;
      }
      this.#end(key, "roots changed");
      n++;
    }
    return n;
  }

  /** The owner of `peer`'s entry (created when new: throws when full of busy entries). */
  owner(peer: PooledPeer): PoolOwner {
    return this.#entry(peer).owner;
  }

  #entry(peer: PooledPeer): Entry {
    const key = peer.connectionKey;
    const now = this.#clock.now();
    let e = this.#entries.get(key);
    if (e) {
      this.#entries.delete(key);
      this.#entries.set(key, e);
    } else {
      this.#expire(now);
      const id = peer.identityKey;
      if ((this.#perIdentity.get(id) ?? 0) >= MAX_CAPSETS_PER_IDENTITY) this.#evictOwn(id);
      if (this.#entries.size >= this.#max) this.#evictOne();
      e = { owner: new PoolOwner(peer, this.#o.backend), inflight: 0, holds: 0, lastUsed: now };
      this.#entries.set(key, e);
      this.#perIdentity.set(id, (this.#perIdentity.get(id) ?? 0) + 1);
    }
    e.lastUsed = now;
    e.owner.adopt(peer.identity);
    return e;
  }

  #evictOne(): void {
    for (const [key, e] of this.#entries) {
      if (busy(e)) continue;
      this.#end(key, "evicted (least recently used)");
      return;
    }
    throw new RpcError(
      -32603,
      `vmcp: backend "${this.#o.backend}" already holds ${this.#max} backend sessions for ` +
        "MCP 2026-07-28 callers, all with a call in flight or a resource subscription " +
        "(sessionStorage.maxLocalSessions); " +
        "try again later",
      { limit: "sessionStorage.maxLocalSessions", max: this.#max },
    );
  }

  /** Makes room for one more entry of identity `id` among its own entries. */
  #evictOwn(id: string): void {
    for (const [key, e] of this.#entries) {
      if (busy(e) || e.owner.listenIdentityKey !== id) continue;
      this.#end(key, "evicted (the identity's least recently used capability set)");
      return;
    }
    throw new RpcError(
      -32603,
      `vmcp: this caller already has ${MAX_CAPSETS_PER_IDENTITY} backend sessions on backend ` +
        `"${this.#o.backend}" (one per distinct set of client capabilities), all with a call in ` +
        "flight or a resource subscription; try again later or use fewer capability sets",
      { limit: "capability sets per identity", max: MAX_CAPSETS_PER_IDENTITY },
    );
  }

  #remove(key: string): void {
    const e = this.#entries.get(key);
    if (!e) return;
    this.#entries.delete(key);
    const id = e.owner.listenIdentityKey;
    const n = (this.#perIdentity.get(id) ?? 1) - 1;
    if (n <= 0) this.#perIdentity.delete(id);
    else this.#perIdentity.set(id, n);
  }

  #expire(now: number): number {
    let n = 0;
    for (const [key, e] of this.#entries) {
      if (!busy(e) && now - e.lastUsed >= this.#idleMs) {
        this.#end(key, "idle");
        n++;
      }
    }
    return n;
  }

  #end(key: string, why: string): void {
    this.#remove(key);
    this.#o.log?.debug("identity backend session ended", { backend: this.#o.backend, why });
    this.#o.end(key).catch(() => {});
  }

  /** Forgets `key` without ending anything (its connection is gone). */
  forget(key: string): void {
    this.#remove(key);
  }

  /** Ends entries idle for `idleMs`; returns how many. */
  sweep(): number {
    return this.#expire(this.#clock.now());
  }

  /** Ends every entry (shutdown): their backend sessions are terminated. */
  async close(): Promise<void> {
    const keys = [...this.#entries.keys()];
    this.#entries.clear();
    this.#perIdentity.clear();
    await Promise.all(keys.map((k) => this.#o.end(k).catch(() => {})));
  }
}

/**
 * The in-process session store (one replica, `sessionStorage.provider: memory`): the same
 * contract as Redis, with a sliding TTL measured on an injected clock. Records are copied in
 * and deep-frozen; `get` and `update` answer the stored (frozen) record without a copy, so
 * callers never share mutable state with the store (an update stores a new record).
 * @module
 */
import { type Clock, systemClock } from "../../core/clock.ts";
import {
  applyPatch,
  assertRecord,
  SessionLimitError,
  type SessionLimits,
  type SessionPatch,
  type SessionRecord,
  type SessionStore,
  TERMINATED,
  type Terminated,
  UNAUTHENTICATED,
} from "./store.ts";

export interface MemoryStoreOptions extends SessionLimits {
  /** Sliding TTL. @default 30 minutes */
  ttlMs?: number;
  /** How long a terminated marker lives. @default ttlMs */
  terminatedTtlMs?: number;
  clock?: Clock;
}

type Entry = { record: SessionRecord; expiresAt: number } | {
  record: Terminated;
  expiresAt: number;
};

export class MemorySessionStore implements SessionStore {
  readonly kind = "memory" as const;
  readonly healthy = true;
  readonly ttlMs: number;
  readonly initTtlMs: number;
  readonly #terminatedTtlMs: number;
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();
  readonly #limits: SessionLimits;
  /** Expired entries are dropped on the first access this long after the last sweep. */
  get #sweepEvery(): number {
    return Math.min(this.initTtlMs, 60_000);
  }
  /** Live records (not markers) in total and per identity key. */
  #records = 0;
  readonly #perIdentity = new Map<string, number>();
  /** No entry expires before this (a lower bound: TTLs only slide forward). */
  #earliest = Infinity;
  #nextSweep: number;

  constructor(opts: MemoryStoreOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 30 * 60_000;
    if (!(this.ttlMs > 0)) {
      throw new RangeError(`Invalid session ttl ${this.ttlMs} ms: expected a positive duration`);
    }
    this.initTtlMs = Math.min(opts.initTtlMs ?? this.ttlMs, this.ttlMs);
    this.#limits = opts;
    this.#terminatedTtlMs = opts.terminatedTtlMs ?? this.ttlMs;
    this.#clock = opts.clock ?? systemClock;
    this.#nextSweep = this.#clock.now() + this.#sweepEvery;
  }

  /** Entries held, including terminated markers not yet swept (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  #live(id: string): Entry | undefined {
    const now = this.#clock.now();
    if (now >= this.#nextSweep) this.#sweep(now);
    const e = this.#entries.get(id);
    if (!e) return undefined;
    if (e.expiresAt <= now) {
      this.#delete(id, e);
      return undefined;
    }
    return e;
  }

  #sweep(now: number): void {
    let earliest = Infinity;
    for (const [id, e] of this.#entries) {
      if (e.expiresAt <= now) this.#delete(id, e);
      else earliest = Math.min(earliest, e.expiresAt);
    }
    this.#earliest = earliest;
    this.#nextSweep = now + this.#sweepEvery;
  }

  /** Sets or replaces the entry of `id`, keeping the counts. */
  #set(id: string, entry: Entry): void {
    const old = this.#entries.get(id);
    if (old) this.#uncount(old);
    this.#entries.set(id, entry);
    if (entry.record !== TERMINATED) {
      this.#records++;
      const key = entry.record.identityKey;
      this.#perIdentity.set(key, (this.#perIdentity.get(key) ?? 0) + 1);
    }
    this.#earliest = Math.min(this.#earliest, entry.expiresAt);
  }

  #delete(id: string, e: Entry): void {
    this.#entries.delete(id);
    this.#uncount(e);
  }

  #uncount(e: Entry): void {
    if (e.record === TERMINATED) return;
    this.#records--;
    const key = e.record.identityKey;
    const n = (this.#perIdentity.get(key) ?? 1) - 1;
    if (n > 0) this.#perIdentity.set(key, n);
    else this.#perIdentity.delete(key);
  }

  /** Throws when a new session of `identityKey` would pass a limit (expired ones swept first). */
  #checkLimits(identityKey: string, now: number): void {
    const { maxSessions, maxSessionsPerIdentity } = this.#limits;
    const perIdentity = identityKey === UNAUTHENTICATED ? undefined : maxSessionsPerIdentity;
    const over = () =>
      maxSessions !== undefined && this.#records >= maxSessions
        ? new SessionLimitError("maxSessions", maxSessions)
        : perIdentity !== undefined && (this.#perIdentity.get(identityKey) ?? 0) >= perIdentity
        ? new SessionLimitError("maxSessionsPerIdentity", perIdentity)
        : undefined;
    if (!over()) return;
    if (now >= this.#earliest) this.#sweep(now);
    const err = over();
    if (err) throw err;
  }

  create(record: SessionRecord): Promise<void> {
    assertRecord(record);
    const existing = this.#live(record.id);
    const now = this.#clock.now();
    if (!existing || existing.record === TERMINATED) {
      try {
        this.#checkLimits(record.identityKey, now);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    this.#set(record.id, { record: frozenCopy(record), expiresAt: now + this.initTtlMs });
    return Promise.resolve();
  }

  get(id: string, opts?: { slide?: boolean }): Promise<SessionRecord | undefined | Terminated> {
    const e = this.#live(id);
    if (!e) return Promise.resolve(undefined);
    if (e.record === TERMINATED) return Promise.resolve(TERMINATED);
    if (opts?.slide !== false) e.expiresAt = this.#clock.now() + this.ttlMs;
    return Promise.resolve(e.record);
  }

  touch(id: string): Promise<boolean> {
    const e = this.#live(id);
    if (!e || e.record === TERMINATED) return Promise.resolve(false);
    e.expiresAt = this.#clock.now() + this.ttlMs;
    return Promise.resolve(true);
  }

  async touchMany(ids: string[]): Promise<void> {
    for (const id of ids) await this.touch(id);
  }

  update(
    id: string,
    patch: SessionPatch | ((current: SessionRecord) => SessionPatch),
  ): Promise<SessionRecord | undefined | Terminated> {
    const e = this.#live(id);
    if (!e) return Promise.resolve(undefined);
    if (e.record === TERMINATED) return Promise.resolve(TERMINATED);
    const p = typeof patch === "function" ? patch(e.record) : patch;
    const now = this.#clock.now();
    e.record = deepFreeze(applyPatch(e.record, structuredClone(p), now));
    e.expiresAt = now + this.ttlMs;
    return Promise.resolve(e.record);
  }

  terminate(id: string): Promise<void> {
    this.#set(id, { record: TERMINATED, expiresAt: this.#clock.now() + this.#terminatedTtlMs });
    return Promise.resolve();
  }

  republish(records: SessionRecord[]): Promise<number> {
    let written = 0;
    for (const record of records) {
      if (this.#live(record.id)) continue;
      assertRecord(record);
      this.#set(record.id, {
        record: frozenCopy(record),
        expiresAt: this.#clock.now() + this.ttlMs,
      });
      written++;
    }
    return Promise.resolve(written);
  }

  /** Memory never becomes unhealthy: the listener is never called. */
  onHealthChange(_fn: (healthy: boolean) => void): () => void {
    return () => {};
  }

  close(): Promise<void> {
    this.#entries.clear();
    this.#records = 0;
    this.#perIdentity.clear();
    return Promise.resolve();
  }
}

function frozenCopy(record: SessionRecord): SessionRecord {
  return deepFreeze(structuredClone(record));
}

/** Freezes `value` and everything reachable from it (already frozen parts are skipped). */
function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
  return value;
}

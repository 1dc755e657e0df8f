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
  type SessionPatch,
  type SessionRecord,
  type SessionStore,
  TERMINATED,
  type Terminated,
} from "./store.ts";

export interface MemoryStoreOptions {
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
  readonly #terminatedTtlMs: number;
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();
  #nextSweep: number;

  constructor(opts: MemoryStoreOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 30 * 60_000;
    if (!(this.ttlMs > 0)) {
      throw new RangeError(`Invalid session ttl ${this.ttlMs} ms: expected a positive duration`);
    }
    this.#terminatedTtlMs = opts.terminatedTtlMs ?? this.ttlMs;
    this.#clock = opts.clock ?? systemClock;
    this.#nextSweep = this.#clock.now() + this.ttlMs;
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
      this.#entries.delete(id);
      return undefined;
    }
    return e;
  }

  #sweep(now: number): void {
    for (const [id, e] of this.#entries) if (e.expiresAt <= now) this.#entries.delete(id);
    this.#nextSweep = now + Math.min(this.ttlMs, 60_000);
  }

  create(record: SessionRecord): Promise<void> {
    assertRecord(record);
    this.#live(record.id);
    this.#entries.set(record.id, {
      record: frozenCopy(record),
      expiresAt: this.#clock.now() + this.ttlMs,
    });
    return Promise.resolve();
  }

  get(id: string): Promise<SessionRecord | undefined | Terminated> {
    const e = this.#live(id);
    if (!e) return Promise.resolve(undefined);
    if (e.record === TERMINATED) return Promise.resolve(TERMINATED);
    e.expiresAt = this.#clock.now() + this.ttlMs;
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
    this.#entries.set(id, {
      record: TERMINATED,
      expiresAt: this.#clock.now() + this.#terminatedTtlMs,
    });
    return Promise.resolve();
  }

  republish(records: SessionRecord[]): Promise<number> {
    let written = 0;
    for (const record of records) {
      if (this.#live(record.id)) continue;
      assertRecord(record);
      this.#entries.set(record.id, {
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

/**
 * The live sessions one replica holds: a bounded LRU (default 1000 entries). Whatever leaves
 * the cache goes through `onEvict`, where the proxy closes the session's SDK transport and
 * backend connections. A session evicted here is not lost: its record stays in the store and
 * the next request restores it (on this replica or another).
 * @module
 */

export type EvictReason = "capacity" | "delete" | "replaced" | "clear";

export interface LocalCacheOptions<V> {
  /** @default 1000 */
  max?: number;
  /** Called after an entry left the cache. Errors it throws are ignored (logged by the caller). */
  onEvict?: (id: string, value: V, reason: EvictReason) => void;
}

export class LocalSessionCache<V> {
  readonly max: number;
  readonly #map = new Map<string, V>();
  readonly #onEvict: ((id: string, value: V, reason: EvictReason) => void) | undefined;

  constructor(opts: LocalCacheOptions<V> = {}) {
    this.max = opts.max ?? 1000;
    if (!Number.isInteger(this.max) || this.max < 1) {
      throw new RangeError(`Invalid local session cache max ${this.max}: expected an integer ≥ 1`);
    }
    this.#onEvict = opts.onEvict;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The value, marking it most recently used. */
  get(id: string): V | undefined {
    const v = this.#map.get(id);
    if (v === undefined) return undefined;
    this.#map.delete(id);
    this.#map.set(id, v);
    return v;
  }

  /** The value without changing its recency. */
  peek(id: string): V | undefined {
    return this.#map.get(id);
  }

  has(id: string): boolean {
    return this.#map.has(id);
  }

  /** Inserts as most recently used; evicts the least recently used entries past `max`. */
  set(id: string, value: V): void {
    const old = this.#map.get(id);
    this.#map.delete(id);
    this.#map.set(id, value);
    if (old !== undefined && old !== value) this.#evict(id, old, "replaced");
    while (this.#map.size > this.max) {
      const [lruId, lru] = this.#map.entries().next().value as [string, V];
      this.#map.delete(lruId);
      this.#evict(lruId, lru, "capacity");
    }
  }

  /** Removes an entry (calling `onEvict` with "delete"); returns it. */
  delete(id: string): V | undefined {
    const v = this.#map.get(id);
    if (v === undefined) return undefined;
    this.#map.delete(id);
    this.#evict(id, v, "delete");
    return v;
  }

  /** Removes `id` only when it still maps to `value` (a closing session must not evict its successor). */
  deleteIf(id: string, value: V): boolean {
    if (this.#map.get(id) !== value) return false;
    this.delete(id);
    return true;
  }

  /** Entries from least to most recently used. */
  entries(): IterableIterator<[string, V]> {
    return this.#map.entries();
  }

  values(): IterableIterator<V> {
    return this.#map.values();
  }

  /** Removes everything (calling `onEvict` with "clear" for each). */
  clear(): void {
    const all = [...this.#map];
    this.#map.clear();
    for (const [id, v] of all) this.#evict(id, v, "clear");
  }

  #evict(id: string, value: V, reason: EvictReason): void {
    try {
      this.#onEvict?.(id, value, reason);
    } catch {
      // the cache stays consistent whatever the callback does
    }
  }
}

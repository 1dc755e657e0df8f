/**
 * The live sessions one replica holds: a bounded LRU (default 1000 entries). Whatever leaves
 * the cache goes through `onEvict`, where the proxy closes the session's SDK transport and
 * backend connections. A session evicted here is not lost: its record stays in the store and
 * the next request restores it (on this replica or another).
 *
 * `canEvict` protects live sessions: past the bound the least recently used entry that
 * `canEvict` accepts is evicted (the proxy refuses sessions holding a GET stream or serving a
 * request). When none may go, the cache stays over its bound (`overBound` says by how much)
 * rather than break a live session; the next `set` tries again.
 * @module
 */

export type EvictReason = "capacity" | "delete" | "replaced" | "clear";

export interface LocalCacheOptions<V> {
  /** @default 1000 */
  max?: number;
  /** Called after an entry left the cache. Errors it throws are ignored (logged by the caller). */
  onEvict?: (id: string, value: V, reason: EvictReason) => void;
  /** May this entry be evicted for capacity now? @default always */
  canEvict?: (id: string, value: V) => boolean;
}

export class LocalSessionCache<V> {
  readonly max: number;
  readonly #map = new Map<string, V>();
  /** The id last moved to the most recent end by `get` (moving it again changes nothing). */
  #last: string | undefined;
  readonly #onEvict: ((id: string, value: V, reason: EvictReason) => void) | undefined;
  readonly #canEvict: ((id: string, value: V) => boolean) | undefined;
  /** Entries evicted for capacity since creation. */
  evicted = 0;

  constructor(opts: LocalCacheOptions<V> = {}) {
    this.max = opts.max ?? 1000;
    if (!Number.isInteger(this.max) || this.max < 1) {
      throw new RangeError(`Invalid local session cache max ${this.max}: expected an integer ≥ 1`);
    }
    this.#onEvict = opts.onEvict;
    this.#canEvict = opts.canEvict;
  }

  /** How many entries the cache holds beyond `max` (all of them live: `canEvict` refused). */
  get overBound(): number {
    return Math.max(0, this.#map.size - this.max);
  }

  get size(): number {
    return this.#map.size;
  }

  /** The value, marking it most recently used. */
  get(id: string): V | undefined {
    const v = this.#map.get(id);
    if (v === undefined) return undefined;
    if (id !== this.#last) {
      this.#map.delete(id);
      this.#map.set(id, v);
      this.#last = id;
    }
    return v;
  }

  /** The value without changing its recency. */
  peek(id: string): V | undefined {
    return this.#map.get(id);
  }

  has(id: string): boolean {
    return this.#map.has(id);
  }

  /**
   * Inserts as most recently used; evicts the least recently used entries past `max` (never
   * the one just inserted, nor one `canEvict` refuses).
   */
  set(id: string, value: V): void {
    const old = this.#map.get(id);
    this.#map.delete(id);
    this.#map.set(id, value);
    this.#last = id;
    if (old !== undefined && old !== value) this.#evict(id, old, "replaced");
    if (this.#map.size <= this.max) return;
    const victims: [string, V][] = [];
    let excess = this.#map.size - this.max;
    for (const [k, v] of this.#map) {
      if (excess === 0 || k === id) break;
      if (this.#canEvict && !this.#safe(k, v)) continue;
      victims.push([k, v]);
      excess--;
    }
    for (const [k, v] of victims) {
      this.#map.delete(k); // never the one just inserted, so `#last` stays right
      this.evicted++;
      this.#evict(k, v, "capacity");
    }
  }

  #safe(id: string, value: V): boolean {
    try {
      return this.#canEvict!(id, value);
    } catch {
      return false;
    }
  }

  /** Removes an entry (calling `onEvict` with "delete"); returns it. */
  delete(id: string): V | undefined {
    const v = this.#map.get(id);
    if (v === undefined) return undefined;
    this.#map.delete(id);
    if (id === this.#last) this.#last = undefined;
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
    this.#last = undefined;
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

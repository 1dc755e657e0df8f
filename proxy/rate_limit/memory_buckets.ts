/**
 * Token buckets in this process's memory (one replica), keyed by string, at most `maxBuckets`
 * of them. The map is least-recently-used ordered: past the bound the bucket used longest ago
 * is dropped. A dropped bucket comes back full, so evicting one that had refilled loses
 * nothing, and evicting a drained one only ever gives that key more room, never less. Callers
 * cycling identities therefore cannot grow memory, only loosen their own per-user limits
 * (and each identity needs a valid token). Buckets every caller shares (`spec.shared`: global
 * and per-tool ones, as many as configured) live beside the map and are never evicted, so
 * cycling identities cannot reset a server-wide budget either.
 * @module
 */
import type { Clock } from "../../core/clock.ts";
import {
  type BucketSpec,
  type BucketState,
  takeAll,
  type TakeDecision,
} from "../../core/rate_limit/token_bucket.ts";

/** Buckets one replica keeps at most by default (~160 bytes each with an OIDC identity key). */
export const DEFAULT_MAX_BUCKETS = 100_000;

export class MemoryBuckets {
  readonly #buckets = new Map<string, BucketState>();
  readonly #shared = new Map<string, BucketState>();
  readonly #clock: Clock;
  readonly maxBuckets: number;

  constructor(clock: Clock, maxBuckets = DEFAULT_MAX_BUCKETS) {
    if (!Number.isInteger(maxBuckets) || maxBuckets < 1) {
      throw new RangeError(`Invalid maxBuckets ${maxBuckets}: expected an integer >= 1`);
    }
    this.#clock = clock;
    this.maxBuckets = maxBuckets;
  }

  /** Buckets held now. */
  get size(): number {
    return this.#buckets.size + this.#shared.size;
  }

  /** Takes one token from each bucket `keys[i]` (spec `specs[i]`), or from none. */
  take(keys: readonly string[], specs: readonly BucketSpec[]): TakeDecision {
    const map = this.#buckets;
    const states: (BucketState | undefined)[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (specs[i]!.shared) {
        states[i] = this.#shared.get(key);
        continue;
      }
      const s = map.get(key);
      if (s) {
        map.delete(key); // most recently used goes last
        map.set(key, s);
      }
      states[i] = s;
    }
    const r = takeAll(states, specs, this.#clock.now());
    for (let i = 0; i < keys.length; i++) {
      if (states[i]) continue;
      if (specs[i]!.shared) {
        this.#shared.set(keys[i]!, r.states[i]!);
        continue;
      }
      map.set(keys[i]!, r.states[i]!);
      if (map.size > this.maxBuckets) map.delete(map.keys().next().value!);
    }
    return r.decision;
  }
}

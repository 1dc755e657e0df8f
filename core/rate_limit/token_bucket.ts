/**
 * Token-bucket arithmetic, pure: a bucket holds at most `maxTokens` tokens, regains them evenly
 * at `maxTokens` per `refillMs`, and a call takes one. Several buckets are taken all or nothing:
 * a call refused by one bucket takes from none (a refused per-tool call does not drain the
 * caller's server-wide budget). The Redis script (`TAKE_LUA`, proxy/rate_limit/redis_buckets.ts) does the
 * same arithmetic in Lua.
 * @module
 */

/** A bucket's configuration. */
export interface BucketSpec {
  /** Capacity (a burst), at least 1. */
  readonly maxTokens: number;
  /** Milliseconds to refill from empty to full, above 0. */
  readonly refillMs: number;
  /**
   * Shared by every caller (a global or per-tool bucket: as many as configured). A bounded
   * store never evicts it, so callers cycling identities cannot reset it.
   */
  readonly shared?: boolean;
}

/** A bucket's state: `tokens` at time `at` (ms). A bucket never seen is full. */
export interface BucketState {
  tokens: number;
  at: number;
}

/**
 * The tokens a bucket holds at `now`: its state refilled for the time passed (a clock that went
 * back counts as no time), capped at `maxTokens`; `maxTokens` for a bucket never seen.
 */
export function tokensAt(state: BucketState | undefined, spec: BucketSpec, now: number): number {
  if (!state) return spec.maxTokens;
  const elapsed = Math.max(0, now - state.at);
  return Math.min(spec.maxTokens, state.tokens + (elapsed * spec.maxTokens) / spec.refillMs);
}

/** Milliseconds until a bucket holding `tokens` has one whole token again (0 when it has). */
export function msUntilToken(tokens: number, spec: BucketSpec): number {
  if (tokens >= 1) return 0;
  return Math.ceil(((1 - tokens) * spec.refillMs) / spec.maxTokens);
}

/** Whole seconds a refused caller should wait (at least 1, as a `Retry-After` value). */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** What taking from several buckets decided. */
export type TakeDecision =
  | { allowed: true }
  | {
    allowed: false;
    /** The refusing bucket that frees up last (the first of them on a tie). */
    index: number;
    /** Until every refusing bucket has a token again. */
    retryAfterMs: number;
  };

/**
 * Takes one token from every bucket if each has one, else from none. `states[i]` belongs to
 * `specs[i]`; the states are updated in place (undefined entries are created) and returned.
 */
export function takeAll(
  states: (BucketState | undefined)[],
  specs: readonly BucketSpec[],
  now: number,
): { decision: TakeDecision; states: BucketState[] } {
  const out: BucketState[] = new Array(specs.length);
  let refused = -1;
  let wait = 0;
  for (let i = 0; i < specs.length; i++) {
    const tokens = tokensAt(states[i], specs[i]!, now);
    const s = states[i] ?? { tokens, at: now };
    s.tokens = tokens;
    s.at = now;
    out[i] = s;
    if (tokens < 1) {
      const ms = msUntilToken(tokens, specs[i]!);
      if (refused < 0 || ms > wait) [refused, wait] = [i, ms];
    }
  }
  if (refused >= 0) {
    return { decision: { allowed: false, index: refused, retryAfterMs: wait }, states: out };
  }
  for (const s of out) s.tokens -= 1;
  return { decision: { allowed: true }, states: out };
}

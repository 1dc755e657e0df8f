/**
 * Token buckets in Redis, shared by every replica (`sessionStorage.provider: redis`): one Lua
 * script per check refills and takes from all of a call's buckets atomically, on Redis's own
 * clock (replicas' clocks never matter). A bucket is a hash `{t: tokens, a: ms}` that expires
 * once it would be full again (after `refillPeriod` idle), so Redis holds only buckets in use.
 *
 * When Redis cannot answer (down, slow past the command timeout) the check is decided by this
 * replica's in-memory buckets instead (docs/adr/0011-rate-limits.md): limits stay enforced per
 * replica, a warning is logged at most once a minute and `vmcp_rate_limit_store_errors_total`
 * counts each such check. After a failed check Redis is not asked for `RETRY_AFTER_FAILURE_MS`
 * (by the injected clock), then by one check at a time until it answers: a Redis that hangs
 * with its connection open (a network partition) does not add the command timeout to every
 * call.
 * @module
 */
import type { Redis } from "ioredis";
import type { Clock } from "../../core/clock.ts";
import { type Logger, warnAtMostEvery } from "../../core/log.ts";
import type { BucketSpec, TakeDecision } from "../../core/rate_limit/token_bucket.ts";
import { createFailFastRedis, type RedisEndpoint } from "../redis_client.ts";
import type { MemoryBuckets } from "./memory_buckets.ts";
import type { RateLimitMetrics } from "./metrics.ts";

/**
 * KEYS: the buckets. ARGV: maxTokens of each, then refill ms of each. Same arithmetic as
 * core/rate_limit/token_bucket.ts `takeAll`. Answers `{0, 0}` (taken) or `{i, ms}`: bucket i
 * (1-based) refused and every refusing bucket has a token again in ms.
 */
export const TAKE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local n = #KEYS
local tokens = {}
local refused, wait = 0, 0
for i = 1, n do
  local max = tonumber(ARGV[i])
  local refill = tonumber(ARGV[n + i])
  local v = redis.call('HMGET', KEYS[i], 't', 'a')
  local tk = tonumber(v[1])
  if tk == nil then
    tk = max
  else
    local el = now - (tonumber(v[2]) or now)
    if el < 0 then el = 0 end
    tk = math.min(max, tk + el * max / refill)
  end
  tokens[i] = tk
  if tk < 1 then
    local ms = math.ceil((1 - tk) * refill / max)
    if refused == 0 or ms > wait then refused = i; wait = ms end
  end
end
if refused > 0 then return {refused, wait} end
for i = 1, n do
  redis.call('HSET', KEYS[i], 't', tostring(tokens[i] - 1), 'a', tostring(now))
  redis.call('PEXPIRE', KEYS[i], ARGV[n + i])
end
return {0, 0}`;

type TakeRedis = Redis & {
  vmcpRateTake(numKeys: number, ...args: (string | number)[]): Promise<[number, number]>;
};

export interface RedisBucketsOptions extends RedisEndpoint {
  /** Prefix of every bucket key, e.g. `vmcp:session:rl:{ns/name}:`. */
  keyPrefix: string;
  /** Decides while Redis cannot. */
  fallback: MemoryBuckets;
  metrics: RateLimitMetrics;
  log: Logger;
  clock: Clock;
  /** A slower answer counts as Redis being down. @default 500 */
  commandTimeoutMs?: number;
}

const WARN_EVERY_MS = 60_000;
/** After a failed check, checks use memory this long before Redis is tried again. */
export const RETRY_AFTER_FAILURE_MS = 1000;

export class RedisBuckets {
  readonly #redis: TakeRedis;
  readonly #o: RedisBucketsOptions;
  readonly #warn: (msg: string, fields?: Record<string, unknown>) => void;
  #closed = false;
  #failing = false;
  /** Until then (clock ms) checks do not ask Redis (a check failed). */
  #skipUntil = -Infinity;
  /** A check is asking Redis whether it is back (others use memory meanwhile). */
  #probing = false;

  constructor(o: RedisBucketsOptions) {
    this.#o = o;
    this.#warn = warnAtMostEvery(o.log, WARN_EVERY_MS, () => o.clock.now());
    const redis = createFailFastRedis({
      address: o.address,
      field: "sessionStorage.address",
      db: o.db,
      username: o.username,
      password: o.password,
      tls: o.tls,
      autoPipelining: true,
      connectTimeoutMs: 2000,
      commandTimeoutMs: o.commandTimeoutMs ?? 500,
      baseReconnectDelayMs: 25,
      maxReconnectDelayMs: 2000,
      isClosed: () => this.#closed,
    });
    redis.on("error", () => {}); // reported per check (rate-limited), not per reconnect attempt
    redis.defineCommand("vmcpRateTake", { lua: TAKE_LUA });
    this.#redis = redis as TakeRedis;
  }

  /** True while connected (checks are then shared with the other replicas). */
  get connected(): boolean {
    return this.#redis.status === "ready";
  }

  /** Takes one token from each bucket `keys[i]` (spec `specs[i]`), or from none. */
  async take(keys: readonly string[], specs: readonly BucketSpec[]): Promise<TakeDecision> {
    const probe = this.#failing;
    if (
      this.#redis.status === "ready" &&
      !(probe && (this.#probing || this.#o.clock.now() < this.#skipUntil))
    ) {
      if (probe) this.#probing = true;
      const args: (string | number)[] = new Array(keys.length * 3);
      const prefix = this.#o.keyPrefix;
      for (let i = 0; i < keys.length; i++) {
        args[i] = prefix + keys[i]!;
        args[keys.length + i] = specs[i]!.maxTokens;
        args[2 * keys.length + i] = Math.ceil(specs[i]!.refillMs);
      }
      try {
        const [index, ms] = await this.#redis.vmcpRateTake(keys.length, ...args);
        if (probe) this.#probing = false;
        if (this.#failing) {
          this.#failing = false;
          this.#o.log.info("Rate limits are shared through Redis again");
        }
        return index === 0
          ? { allowed: true }
          : { allowed: false, index: index - 1, retryAfterMs: ms };
      } catch (err) {
        if (probe) this.#probing = false;
        this.#skipUntil = this.#o.clock.now() + RETRY_AFTER_FAILURE_MS;
        return this.#fallback(keys, specs, err);
      }
    }
    const why = this.#redis.status === "ready"
      ? "a recent check failed; retrying shortly"
      : `redis connection ${this.#redis.status}`;
    return this.#fallback(keys, specs, new Error(why));
  }

  #fallback(keys: readonly string[], specs: readonly BucketSpec[], err: unknown): TakeDecision {
    this.#failing = true;
    this.#o.metrics.storeError();
    this.#warn(
      "Rate-limit store (Redis) unavailable; limits are enforced per replica until it is back",
      { address: this.#o.address, error: err instanceof Error ? err.message : String(err) },
    );
    return this.#o.fallback.take(keys, specs);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#redis.status === "ready") {
      await this.#redis.quit().catch(() => this.#redis.disconnect());
    } else {
      this.#redis.disconnect();
    }
  }
}

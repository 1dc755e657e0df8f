/**
 * The proxy's rate limiter from its config (`rateLimiting`, crds/rate_limit.ts): none when the
 * section is absent (the router then pays one null check per call); buckets in memory, or in
 * Redis when `sessionStorage.provider` is redis (same address, db and password as the session
 * store; keys `<sessionStorage.keyPrefix>rl:{<namespace>/<name>}:…`, so replicas of one server
 * share them and other servers on the same Redis do not). A reload keeps the buckets (budgets
 * are not reset) and the Redis connection while their settings are unchanged.
 * @module
 */
import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import type { VmcpConfig } from "../../crds/vmcp_config.ts";
import { DEFAULT_MAX_BUCKETS, MemoryBuckets } from "./memory_buckets.ts";
import { relayRedisOptions } from "../mrtr/relay_setup.ts";
import { RedisBuckets } from "./redis_buckets.ts";
import { RateLimiter } from "./limiter.ts";
import { RateLimitMetrics } from "./metrics.ts";
import type { Registry } from "prom-client";

export interface RateLimitDeps {
  clock: Clock;
  log: Logger;
  metrics: RateLimitMetrics;
  /** Reads `sessionStorage.passwordEnv`. @default Deno.env.get */
  env?: (name: string) => string | undefined;
  /** In-memory buckets at most. @default DEFAULT_MAX_BUCKETS */
  maxBuckets?: number;
}

/** What `rateLimitsFromConfig` hands back; pass it as `previous` on the next config. */
export interface ConfiguredRateLimits {
  limiter: RateLimiter | undefined;
  readonly limitsKey: string;
  readonly storeKey: string;
  readonly memory: MemoryBuckets | undefined;
  readonly redis: RedisBuckets | undefined;
}

/** The session store's Redis (as the park relay reads it), with the rate limits' own keys. */
function redisSettings(config: VmcpConfig, env: RateLimitDeps["env"]) {
  const redis = relayRedisOptions(config.sessionStorage, env);
  if (!redis) return undefined;
  return {
    ...redis,
    keyPrefix: `${redis.keyPrefix}rl:{${config.namespace ?? ""}/${config.name}}:`,
  };
}

/**
 * The limiter for `config`, reusing what `previous` holds where its settings are unchanged.
 * Releases what is no longer used (a Redis connection is closed in the background).
 */
export function rateLimitsFromConfig(
  config: VmcpConfig,
  deps: RateLimitDeps,
  previous?: ConfiguredRateLimits,
): ConfiguredRateLimits {
  const rl = config.rateLimiting;
  const limitsKey = rl ? JSON.stringify(rl) : "";
  const redis = rl ? redisSettings(config, deps.env) : undefined;
  const storeKey = !rl ? "" : redis ? JSON.stringify(redis) : "memory";
  if (previous && previous.limitsKey === limitsKey && previous.storeKey === storeKey) {
    return previous;
  }
  const keepStore = previous !== undefined && previous.storeKey === storeKey;
  if (previous?.redis && !keepStore) void previous.redis.close();
  if (!rl) {
    return { limiter: undefined, limitsKey, storeKey, memory: undefined, redis: undefined };
  }
  const memory = previous?.memory ??
    new MemoryBuckets(deps.clock, deps.maxBuckets ?? DEFAULT_MAX_BUCKETS);
  let store: MemoryBuckets | RedisBuckets = memory;
  let redisStore: RedisBuckets | undefined;
  if (redis) {
    redisStore = keepStore && previous?.redis ? previous.redis : new RedisBuckets({
      ...redis,
      fallback: memory,
      metrics: deps.metrics,
      log: deps.log.with({ component: "rate-limit" }),
      clock: deps.clock,
    });
    store = redisStore;
  }
  return {
    limiter: new RateLimiter(rl, store, deps.metrics),
    limitsKey,
    storeKey,
    memory,
    redis: redisStore,
  };
}

/** The runtime's rate limits across reloads (proxy/runtime.ts). */
export class RuntimeRateLimits {
  #current: ConfiguredRateLimits;
  readonly #deps: RateLimitDeps;
  #warnedFor: RateLimiter | undefined;
  readonly #warned = new Set<string>();

  constructor(
    config: VmcpConfig,
    o: { clock: Clock; log: Logger; registry?: Registry | undefined },
  ) {
    this.#deps = { clock: o.clock, log: o.log, metrics: new RateLimitMetrics(o.registry) };
    this.#current = rateLimitsFromConfig(config, this.#deps);
  }

  /** The limiter of the current config; undefined when `rateLimiting` is absent. */
  get limiter(): RateLimiter | undefined {
    return this.#current.limiter;
  }

  /** Applies a new (validated) config. */
  apply(config: VmcpConfig): void {
    this.#current = rateLimitsFromConfig(config, this.#deps, this.#current);
  }

  /**
   * Warns (once per name and limits config) about `rateLimiting.tools` names no tool has: a
   * typo would otherwise limit nothing. Call once every backend was discovered.
   */
  warnUnmatchedTools(known: (name: string) => boolean): void {
    const limiter = this.#current.limiter;
    if (!limiter) return;
    if (this.#warnedFor !== limiter) {
      this.#warnedFor = limiter;
      this.#warned.clear();
    }
    for (const name of limiter.toolNames) {
      if (known(name) || this.#warned.has(name)) continue;
      this.#warned.add(name);
      this.#deps.log.warn(
        "rateLimiting.tools names a tool no backend or composite tool offers; it limits nothing",
        { tool: name },
      );
    }
  }

  /** Closes the Redis connection, if any. */
  async close(): Promise<void> {
    await this.#current.redis?.close();
  }
}

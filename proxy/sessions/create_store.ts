/**
 * Builds the session store from the `sessionStorage` config (memory when absent).
 * @module
 */
import type { z } from "zod";
import type { SessionStorageSchema } from "../../crds/virtualmcpserver.ts";
import type { Clock } from "../../core/clock.ts";
import { parseDuration } from "../../core/duration.ts";
import type { Logger } from "../../core/log.ts";
import { MemorySessionStore } from "./memory_store.ts";
import { connectRedisSessionStore } from "./redis_store.ts";
import { SESSION_LIMIT_DEFAULTS, type SessionLimits, type SessionStore } from "./store.ts";
import { requiredEnv } from "../../core/required_env.ts";

export type SessionStorageConfig = z.input<typeof SessionStorageSchema>;

export interface CreateStoreDeps {
  /** Reads `passwordEnv`. @default Deno.env.get */
  env?: (name: string) => string | undefined;
  logger?: Logger;
  clock?: Clock;
}

/** The store the config asks for; throws a TypeError naming the field when it is invalid. */
export async function createSessionStore(
  config: SessionStorageConfig | undefined,
  deps: CreateStoreDeps = {},
): Promise<SessionStore> {
  const ttlText = config?.ttl ?? "30m";
  let ttlMs: number;
  try {
    ttlMs = parseDuration(ttlText);
  } catch (err) {
    throw new TypeError(`Invalid sessionStorage.ttl: ${(err as Error).message}`);
  }
  if (!(ttlMs >= 1)) {
    throw new TypeError(`Invalid sessionStorage.ttl "${ttlText}": expected at least 1ms`);
  }
  const initText = config?.initTtl ?? SESSION_LIMIT_DEFAULTS.initTtl;
  let initTtlMs: number;
  try {
    initTtlMs = parseDuration(initText);
  } catch (err) {
    throw new TypeError(`Invalid sessionStorage.initTtl: ${(err as Error).message}`);
  }
  if (!(initTtlMs >= 1)) {
    throw new TypeError(`Invalid sessionStorage.initTtl "${initText}": expected at least 1ms`);
  }
  const limits: SessionLimits = {
    maxSessions: config?.maxSessions ?? SESSION_LIMIT_DEFAULTS.maxSessions,
    maxSessionsPerIdentity: config?.maxSessionsPerIdentity ??
      SESSION_LIMIT_DEFAULTS.maxSessionsPerIdentity,
    initTtlMs: Math.min(initTtlMs, ttlMs),
  };
  const provider = config?.provider ?? "memory";
  if (provider === "memory") return new MemorySessionStore({ ttlMs, ...limits, clock: deps.clock });
  if (!config?.address) {
    throw new TypeError(
      'Invalid sessionStorage.address: required when sessionStorage.provider is "redis"',
    );
  }
  const password = config.passwordEnv
    ? requiredEnv("sessionStorage.passwordEnv", config.passwordEnv, deps.env)
    : undefined;
  return await connectRedisSessionStore({
    address: config.address,
    db: config.db ?? 0,
    keyPrefix: config.keyPrefix ?? "vmcp:session:",
    password,
    ttlMs,
    ...limits,
    logger: deps.logger,
  });
}

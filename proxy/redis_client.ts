/**
 * One way to connect to Redis for every proxy feature (token cache, session store): parse a
 * `host:port` address naming the config field on error, and build an ioredis client that
 * fails fast instead of queueing (ioredis retries forever and queues offline by default) while
 * it keeps reconnecting in the background with a capped back-off.
 * @module
 */
import { Redis } from "ioredis";

/** `host:port`, `[v6]:port` or `host` (port 6379); a TypeError names `field` and the value. */
export function parseRedisAddress(address: string, field: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(address) ?? /^([^:\[\]]+):(\d{1,5})$/.exec(address) ??
    /^([^:\[\]]+)$/.exec(address);
  const port = m?.[2] === undefined ? 6379 : Number(m[2]);
  if (!m || !m[1] || port < 1 || port > 65535) {
    throw new TypeError(`Invalid ${field} "${address}": expected host:port, e.g. "redis:6379"`);
  }
  return { host: m[1], port };
}

/** Where and how to reach Redis (the config's `address`, `db`, credentials, TLS). */
export interface RedisEndpoint {
  /** `host:port` (`[v6]:port` for IPv6); port defaults to 6379. */
  address: string;
  /** @default 0 */
  db?: number;
  username?: string;
  password?: string;
  /** Connect over TLS. @default false */
  tls?: boolean;
}

export interface FailFastRedisOptions extends RedisEndpoint {
  /** Config field named in address errors, e.g. `sessionStorage.address`. */
  field: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** First reconnect delay; doubles up to `maxReconnectDelayMs`. */
  baseReconnectDelayMs: number;
  maxReconnectDelayMs: number;
  autoPipelining?: boolean;
  /** True once the owner closed the client: stops reconnecting. */
  isClosed(): boolean;
}

/** An ioredis client with no offline queue and no per-command retries. */
export function createFailFastRedis(o: FailFastRedisOptions): Redis {
  const { host, port } = parseRedisAddress(o.address, o.field);
  return new Redis({
    host,
    port,
    db: o.db ?? 0,
    username: o.username,
    password: o.password,
    tls: o.tls ? { servername: host } : undefined,
    lazyConnect: false,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableAutoPipelining: o.autoPipelining ?? false,
    connectTimeout: o.connectTimeoutMs,
    commandTimeout: o.commandTimeoutMs,
    retryStrategy: (times) =>
      o.isClosed()
        ? null
        : Math.min(o.baseReconnectDelayMs * 2 ** Math.min(times, 10), o.maxReconnectDelayMs),
  });
}

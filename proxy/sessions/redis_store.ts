/**
 * The Redis session store (`sessionStorage.provider: redis`): any replica can read any session.
 *
 * One key per session, `<keyPrefix><id>`, holding the record as JSON (or the terminated marker):
 * - create: a Lua script that checks the session limits and does `SET key json PX initTtl`
 *   (below);
 * - get: `GETEX key PX ttl` (one round trip that also slides the TTL); `GET` when not sliding;
 * - update: read, patch, then compare-and-set in a Lua script (retried on a concurrent write);
 * - terminate: `SET key <marker> PX ttl` (in a script that also un-counts the session), so
 *   every replica refuses the id until it expires;
 * - touchMany: pipelined `PEXPIRE`s;
 * - republish: pipelined `SET NX PX` (after Redis came back empty).
 *
 * Session limits (`maxSessions`, `maxSessionsPerIdentity`): sorted sets `<keyPrefix>\0all` and
 * `<keyPrefix>\0id:<identityKey>` hold session ids scored with a lower bound of their expiry
 * (TTLs only slide forward). Counting is `ZCARD`; only when a count reaches its limit are the
 * members whose score has passed checked (`PTTL`): still alive → re-scored, gone or terminated →
 * removed. So the hot path pays nothing, and a create at the limit pays for the entries that
 * may have expired since the last check. The per-identity set expires 2 × TTL after the last
 * create (an identity whose sessions all outlive that is counted low, never high). The `\0`
 * cannot occur in a session id (HTTP header values cannot hold it; such ids are refused).
 *
 * ioredis retries forever and queues commands while offline by default. Here a command fails
 * at once while Redis is unreachable (`enableOfflineQueue: false`, `maxRetriesPerRequest: 0`,
 * a command timeout) with `SessionStoreUnavailableError`, and the client keeps reconnecting in
 * the background with a capped back-off, so the store recovers without a restart.
 * @module
 */
import {
  createFailFastRedis,
  parseRedisAddress as parseRedisAddressFor,
  type RedisEndpoint,
} from "../redis_client.ts";
import { type Logger, silentLogger } from "../../core/log.ts";
import { type CasRedis, defineSessionScripts } from "./redis_scripts.ts";
import {
  applyPatch,
  assertRecord,
  decodeRecord,
  SessionLimitError,
  type SessionLimits,
  type SessionPatch,
  type SessionRecord,
  type SessionStore,
  SessionStoreUnavailableError,
  TERMINATED,
  type Terminated,
  UNAUTHENTICATED,
} from "./store.ts";

export interface RedisStoreOptions extends RedisEndpoint, SessionLimits {
  /** @default "vmcp:session:" */
  keyPrefix?: string;
  /** Sliding TTL. @default 30 minutes */
  ttlMs?: number;
  /** How long the terminated marker lives. @default ttlMs */
  terminatedTtlMs?: number;
  /** Per-command timeout; a slower Redis counts as unavailable. @default 1000 */
  commandTimeoutMs?: number;
  /** @default 2000 */
  connectTimeoutMs?: number;
  /** Cap of the reconnect back-off; also the Retry-After hint. @default 2000 */
  maxReconnectDelayMs?: number;
  /** Batch commands issued in the same tick into one write (ioredis auto-pipelining). @default false */
  autoPipelining?: boolean;
  logger?: Logger;
}

/** The value stored in place of a terminated session. Records are JSON objects (`{…`). */
const MARKER = "!terminated";
const CAS_RETRIES = 64;

/** `sessionStorage.address` as host and port (see proxy/redis_client.ts). */
export function parseRedisAddress(address: string): { host: string; port: number } {
  return parseRedisAddressFor(address, "sessionStorage.address");
}

export class RedisSessionStore implements SessionStore {
  readonly kind = "redis" as const;
  readonly ttlMs: number;
  readonly initTtlMs: number;
  readonly #limits: SessionLimits;
  readonly #terminatedTtlMs: number;
  readonly #prefix: string;
  readonly #redis: CasRedis;
  readonly #log: Logger;
  readonly #address: string;
  readonly #retryAfterSeconds: number;
  #ok = true;
  #closed = false;
  readonly #listeners = new Set<(healthy: boolean) => void>();

  /** Prefer `connectRedisSessionStore`, which waits briefly for the first connection. */
  constructor(opts: RedisStoreOptions) {
    parseRedisAddress(opts.address);
    this.ttlMs = opts.ttlMs ?? 30 * 60_000;
    if (!(this.ttlMs >= 1)) {
      throw new RangeError(`Invalid sessionStorage.ttl ${this.ttlMs} ms: expected at least 1ms`);
    }
    this.initTtlMs = Math.ceil(Math.min(opts.initTtlMs ?? this.ttlMs, this.ttlMs));
    this.#limits = opts;
    this.#terminatedTtlMs = Math.ceil(opts.terminatedTtlMs ?? this.ttlMs);
    this.#prefix = opts.keyPrefix ?? "vmcp:session:";
    this.#address = opts.address;
    this.#log = (opts.logger ?? silentLogger).with({ component: "session-store" });
    const maxDelay = opts.maxReconnectDelayMs ?? 2000;
    this.#retryAfterSeconds = Math.max(1, Math.ceil(maxDelay / 1000));
    this.#redis = defineSessionScripts(createFailFastRedis({
      address: opts.address,
      field: "sessionStorage.address",
      db: opts.db,
      username: opts.username,
      password: opts.password,
      tls: opts.tls,
      autoPipelining: opts.autoPipelining,
      connectTimeoutMs: opts.connectTimeoutMs ?? 2000,
      commandTimeoutMs: opts.commandTimeoutMs ?? 1000,
      baseReconnectDelayMs: 25,
      maxReconnectDelayMs: maxDelay,
      isClosed: () => this.#closed,
    }));
    this.#redis.on("error", (err) => this.#down(err));
    this.#redis.on("end", () => this.#down(new Error("connection closed")));
    this.#redis.on("ready", () => this.#up());
  }

  /** Resolves when connected, or after `timeoutMs` either way (the store then reports 503s). */
  waitReady(timeoutMs: number): Promise<void> {
    if (this.#redis.status === "ready") return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#redis.off("ready", done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#redis.once("ready", done);
    });
  }

  get healthy(): boolean {
    return this.#ok && !this.#closed && this.#redis.status === "ready";
  }

  onHealthChange(fn: (healthy: boolean) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #emit(healthy: boolean): void {
    for (const fn of this.#listeners) {
      try {
        fn(healthy);
      } catch (err) {
        this.#log.warn("session store health listener failed", {
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
  }

  #down(err: unknown): void {
    if (this.#ok && !this.#closed) {
      this.#ok = false;
      queueMicrotask(() => this.#emit(false));
      this.#log.warn(
        "session store unavailable: cross-replica session restores fail until it recovers",
        {
          address: this.#address,
          error: err instanceof Error ? err.message : String(err),
        },
      );
    }
  }

  #up(): void {
    if (!this.#ok && !this.#closed) {
      this.#ok = true;
      this.#log.info("session store recovered", { address: this.#address });
      queueMicrotask(() => this.#emit(true));
    }
  }

  async #run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) {
      throw new SessionStoreUnavailableError(`session store ${op}: the store is closed`, {
        retryAfterSeconds: this.#retryAfterSeconds,
      });
    }
    try {
      const v = await fn();
      this.#up();
      return v;
    } catch (err) {
      this.#down(err);
      throw new SessionStoreUnavailableError(
        `session store ${op} failed (redis ${this.#address}): ${
          err instanceof Error ? err.message : String(err)
        }`,
        { cause: err, retryAfterSeconds: this.#retryAfterSeconds },
      );
    }
  }

  #decode(id: string, raw: string | null): SessionRecord | undefined | Terminated {
    if (raw === null) return undefined;
    if (raw === MARKER) return TERMINATED;
    const rec = decodeRecord(raw);
    if (!rec) this.#log.warn("ignoring an undecodable session record", { session: id });
    return rec;
  }

  #indexKeys(identityKey: string): [all: string, identity: string] {
    return [`${this.#prefix}\0all`, `${this.#prefix}\0id:${identityKey}`];
  }

  async create(record: SessionRecord): Promise<void> {
    assertRecord(record);
    const json = JSON.stringify(record);
    const [all, identity] = this.#indexKeys(record.identityKey);
    const maxAll = this.#limits.maxSessions ?? 0;
    const maxId = record.identityKey === UNAUTHENTICATED
      ? 0
      : this.#limits.maxSessionsPerIdentity ?? 0;
    const refused = await this.#run(
      "create",
      () =>
        this.#redis.vmcpSessionCreate(
          this.#prefix + record.id,
          all,
          maxId ? identity : all,
          json,
          this.initTtlMs,
          maxAll,
          maxId,
          this.#prefix,
          record.id,
          2 * this.ttlMs,
        ),
    );
    if (refused === 1) throw new SessionLimitError("maxSessions", maxAll);
    if (refused === 2) throw new SessionLimitError("maxSessionsPerIdentity", maxId);
  }

  async get(
    id: string,
    opts?: { slide?: boolean },
  ): Promise<SessionRecord | undefined | Terminated> {
    if (id.includes("\0")) return undefined; // never a session id (index keys)
    const key = this.#prefix + id;
    const raw = await this.#run(
      "get",
      () => opts?.slide === false ? this.#redis.get(key) : this.#redis.getex(key, "PX", this.ttlMs),
    );
    return this.#decode(id, raw);
  }

  async touch(id: string): Promise<boolean> {
    const got = await this.get(id);
    return typeof got === "object";
  }

  async touchMany(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#run("touchMany", async () => {
      const p = this.#redis.pipeline();
      for (const id of ids) p.pexpire(this.#prefix + id, this.ttlMs, "XX");
      const results = await p.exec();
      const failed = results?.find(([err]) => err);
      if (failed) throw failed[0];
    });
  }

  async update(
    id: string,
    patch: SessionPatch | ((current: SessionRecord) => SessionPatch),
  ): Promise<SessionRecord | undefined | Terminated> {
    if (id.includes("\0")) return undefined;
    const key = this.#prefix + id;
    for (let attempt = 0; attempt < CAS_RETRIES; attempt++) {
      const raw = await this.#run("update", () => this.#redis.get(key));
      const cur = this.#decode(id, raw);
      if (cur === undefined || cur === TERMINATED) return cur;
      const p = typeof patch === "function" ? patch(structuredClone(cur)) : patch;
      const next = applyPatch(cur, p, Date.now());
      const swapped = await this.#run(
        "update",
        () => this.#redis.vmcpSessionCas(key, raw!, JSON.stringify(next), this.ttlMs),
      );
      if (swapped === 1) return next;
      if (swapped === -1) return undefined;
      // Contended: back off a little (jittered) so concurrent writers interleave.
      if (attempt >= 2) {
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(attempt, 10)));
      }
    }
    throw new SessionStoreUnavailableError(
      `session store update of ${id}: still contended after ${CAS_RETRIES} attempts`,
      { retryAfterSeconds: 1 },
    );
  }

  async terminate(id: string): Promise<void> {
    if (id.includes("\0")) return;
    await this.#run(
      "terminate",
      () =>
        this.#redis.vmcpSessionTerminate(
          this.#prefix + id,
          this.#indexKeys("")[0],
          MARKER,
          this.#terminatedTtlMs,
          `${this.#prefix}\0id:`,
          id,
        ),
    );
  }

  async republish(records: SessionRecord[]): Promise<number> {
    if (records.length === 0) return 0;
    for (const r of records) assertRecord(r);
    return await this.#run("republish", async () => {
      const p = this.#redis.pipeline();
      const until = Date.now() + this.ttlMs;
      for (const r of records) {
        p.set(this.#prefix + r.id, JSON.stringify(r), "PX", this.ttlMs, "NX");
      }
      // Counted again (ZADD of a member already there only moves its score).
      for (const r of records) {
        const [all, identity] = this.#indexKeys(r.identityKey);
        if (this.#limits.maxSessions) p.zadd(all, until, r.id);
        if (this.#limits.maxSessionsPerIdentity && r.identityKey !== UNAUTHENTICATED) {
          p.zadd(identity, until, r.id);
          p.pexpire(identity, 2 * this.ttlMs);
        }
      }
      const results = (await p.exec()) ?? [];
      const failed = results.find(([err]) => err);
      if (failed) throw failed[0];
      return results.slice(0, records.length).filter(([, v]) => v === "OK").length;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    if (this.#redis.status === "ready") {
      await this.#redis.quit().catch(() => this.#redis.disconnect());
    } else {
      this.#redis.disconnect();
    }
  }
}

/**
 * Creates the store and waits up to `connectTimeoutMs` for Redis. It never fails because Redis
 * is down (requests then get 503 until it answers); it throws only for invalid options.
 */
export async function connectRedisSessionStore(
  opts: RedisStoreOptions,
): Promise<RedisSessionStore> {
  const store = new RedisSessionStore(opts);
  await store.waitReady(opts.connectTimeoutMs ?? 2000);
  return store;
}

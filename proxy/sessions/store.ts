/**
 * Session state shared by every proxy replica: the contract, the record, and what both
 * implementations (`memory_store.ts`, `redis_store.ts`) have in common.
 *
 * A record holds what a replica needs to serve a session it did not create: the identity the
 * session is bound to, the client's negotiated protocol version, client info and capabilities
 * (to rebuild the SDK `Server` without a new `initialize`), the per-backend session ids and
 * the resource subscriptions. Reads slide the TTL. `terminate` leaves a marker that every
 * replica sees, so a session deleted on one replica is refused on all of them.
 * @module
 */

/** The sentinel identity key of anonymous sessions (`core/auth/identity.ts`). */
export const UNAUTHENTICATED = "unauthenticated";

export interface SessionRecord {
  /** The `Mcp-Session-Id`. */
  id: string;
  /** `iss + "\0" + sub` of the creator, or `"unauthenticated"`. */
  identityKey: string;
  /** The protocol version negotiated at `initialize`. */
  protocolVersion: string;
  /** `initialize` params.clientInfo. */
  clientInfo: { name: string; version: string; [k: string]: unknown };
  /** `initialize` params.capabilities. */
  clientCapabilities: Record<string, unknown>;
  /** Backend name → that backend's `Mcp-Session-Id` (backends without sessions are absent). */
  backendSessions: Record<string, string>;
  /** Resource URIs the client subscribed to. */
  subscriptions: string[];
  /** `logging/setLevel` of the client, when set. */
  logLevel?: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** Milliseconds since the epoch of the last write (create/update); reads slide only the TTL. */
  lastSeen: number;
}

/**
 * A change to a record. Top-level fields replace; `backendSessions` merges per backend and a
 * `null` value removes that backend. `id`, `identityKey` and `createdAt` never change.
 */
export interface SessionPatch {
  protocolVersion?: string;
  clientInfo?: SessionRecord["clientInfo"];
  clientCapabilities?: Record<string, unknown>;
  backendSessions?: Record<string, string | null>;
  subscriptions?: string[];
  logLevel?: string;
}

/** What `get` and `update` answer for a session that was explicitly terminated. */
export const TERMINATED = "terminated" as const;
export type Terminated = typeof TERMINATED;

/**
 * Bounds on the sessions a store holds (`sessionStorage.maxSessions`, `maxSessionsPerIdentity`,
 * `initTtl`). Unset: unbounded, and a new record lives the full TTL. `createSessionStore` always
 * sets them (defaults in `SESSION_LIMIT_DEFAULTS`).
 */
export interface SessionLimits {
  /** Live sessions in the store (every replica sharing it). */
  maxSessions?: number;
  /** Live sessions per authenticated identity (anonymous sessions count only in the total). */
  maxSessionsPerIdentity?: number;
  /**
   * TTL of a new record until the session's first request (a JSON-RPC request or response, or
   * a GET stream; notifications do not count); then the sliding `ttlMs`.
   */
  initTtlMs?: number;
}

/** What `createSessionStore` uses when the config leaves a limit out. */
export const SESSION_LIMIT_DEFAULTS = {
  maxSessions: 10_000,
  maxSessionsPerIdentity: 100,
  initTtl: "2m",
} as const;

export interface SessionStore {
  /**
   * Stores a new record (overwriting one with the same id) with the initial TTL (`initTtlMs`,
   * else the TTL).
   * @throws SessionLimitError when `maxSessions` or `maxSessionsPerIdentity` is reached.
   */
  create(record: SessionRecord): Promise<void>;
  /**
   * The record (sliding its TTL to the full TTL unless `slide` is false), `undefined` when
   * unknown or expired, or `"terminated"`.
   * @throws SessionStoreUnavailableError when the store cannot answer.
   */
  get(id: string, opts?: { slide?: boolean }): Promise<SessionRecord | undefined | Terminated>;
  /** Slides the TTL; false when unknown, expired or terminated. */
  touch(id: string): Promise<boolean>;
  /**
   * Slides the TTL of many sessions in one round trip (pipelined), e.g. every minute for the
   * local sessions that hold a GET stream open but send no requests. Unknown ids are skipped.
   */
  touchMany(ids: string[]): Promise<void>;
  /**
   * Applies `patch` (or the patch `fn` returns for the current record) atomically with respect
   * to other updates, and slides the TTL. Answers the new record, `undefined` or `"terminated"`.
   */
  update(
    id: string,
    patch: SessionPatch | ((current: SessionRecord) => SessionPatch),
  ): Promise<SessionRecord | undefined | Terminated>;
  /** Replaces the record by a terminated marker that lives for the session TTL. */
  terminate(id: string): Promise<void>;
  /**
   * Writes the records the store does not hold (SET NX, pipelined): after Redis came back
   * empty, a replica re-publishes its local sessions so the others can restore them again.
   * An existing record or terminated marker is left alone. Answers how many were written.
   */
  republish(records: SessionRecord[]): Promise<number>;
  /** Calls `fn` when `healthy` flips (Redis lost / recovered); answers an unsubscribe. */
  onHealthChange(fn: (healthy: boolean) => void): () => void;
  /** False while the store is known not to answer (Redis down); memory is always healthy. */
  readonly healthy: boolean;
  /** "memory" or "redis". */
  readonly kind: "memory" | "redis";
  /** Sliding TTL in milliseconds. */
  readonly ttlMs: number;
  /** TTL of a new record until its first request (`SessionLimits.initTtlMs`, else `ttlMs`). */
  readonly initTtlMs: number;
  /** Releases connections (idempotent). */
  close(): Promise<void>;
}

/**
 * The store cannot answer (Redis down, timing out or refusing). Retryable: the front door
 * answers HTTP 503 with `Retry-After: retryAfterSeconds`.
 */
export class SessionStoreUnavailableError extends Error {
  override readonly name = "SessionStoreUnavailableError";
  readonly retryable = true;
  readonly retryAfterSeconds: number;
  constructor(message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryAfterSeconds = options?.retryAfterSeconds ?? 1;
  }
}

/** A new session was refused: a session limit is reached. */
export class SessionLimitError extends Error {
  override readonly name = "SessionLimitError";
  constructor(
    readonly limit: "maxSessions" | "maxSessionsPerIdentity",
    readonly max: number,
  ) {
    super(
      limit === "maxSessions"
        ? `Too many sessions: the server holds its limit of ${max} (sessionStorage.maxSessions); retry later`
        : `Too many sessions for this identity: the limit is ${max} (sessionStorage.maxSessionsPerIdentity); close unused sessions (DELETE) or let them expire`,
    );
  }
}

/** The JSON-RPC error code of a refused new session (a session limit is reached). */
export const SESSION_LIMIT_RPC_CODE = -32004;

/**
 * The answer to an initialize refused by a session limit: 429 for the caller's own limit
 * (`maxSessionsPerIdentity`), 503 for the server's (`maxSessions`); both with `Retry-After`.
 */
export function sessionLimitResponse(err: SessionLimitError, retryAfterSeconds = 30): Response {
  return Response.json({
    jsonrpc: "2.0",
    error: {
      code: SESSION_LIMIT_RPC_CODE,
      message: err.message,
      data: { limit: err.limit, max: err.max, retryAfterSeconds },
    },
    id: null,
  }, {
    status: err.limit === "maxSessions" ? 503 : 429,
    headers: { "retry-after": String(retryAfterSeconds) },
  });
}

/** The JSON-RPC error code the front door uses for "session store unavailable". */
export const STORE_UNAVAILABLE_RPC_CODE = -32003;

/** The 503 answer for a request that needs the store while it is unavailable. */
export function storeUnavailableResponse(err: SessionStoreUnavailableError): Response {
  return Response.json({
    jsonrpc: "2.0",
    error: {
      code: STORE_UNAVAILABLE_RPC_CODE,
      message: "Session store unavailable; retry shortly",
      data: { retryable: true, retryAfterSeconds: err.retryAfterSeconds },
    },
    id: null,
  }, { status: 503, headers: { "retry-after": String(err.retryAfterSeconds) } });
}

/** Applies a patch to a copy of `rec`, stamping `lastSeen = now`. */
export function applyPatch(rec: SessionRecord, patch: SessionPatch, now: number): SessionRecord {
  const next: SessionRecord = { ...rec, lastSeen: now };
  if (patch.protocolVersion !== undefined) next.protocolVersion = patch.protocolVersion;
  if (patch.clientInfo !== undefined) next.clientInfo = patch.clientInfo;
  if (patch.clientCapabilities !== undefined) next.clientCapabilities = patch.clientCapabilities;
  if (patch.subscriptions !== undefined) next.subscriptions = [...new Set(patch.subscriptions)];
  if (patch.logLevel !== undefined) next.logLevel = patch.logLevel;
  if (patch.backendSessions !== undefined) {
    const merged = { ...rec.backendSessions };
    for (const [backend, sid] of Object.entries(patch.backendSessions)) {
      if (sid === null) delete merged[backend];
      else merged[backend] = sid;
    }
    next.backendSessions = merged;
  }
  return next;
}

/** Throws a TypeError naming the field when `rec` is not a storable record. */
export function assertRecord(rec: SessionRecord): void {
  const bad = (field: string, value: unknown, allowed: string) => {
    throw new TypeError(
      `Invalid session record ${field}=${JSON.stringify(value)}: expected ${allowed}`,
    );
  };
  if (typeof rec.id !== "string" || rec.id === "" || rec.id.length > 256) {
    bad("id", rec.id, "a non-empty string of at most 256 characters");
  }
  if (typeof rec.identityKey !== "string" || rec.identityKey === "") {
    bad("identityKey", rec.identityKey, 'a non-empty string ("iss\\0sub" or "unauthenticated")');
  }
  if (typeof rec.protocolVersion !== "string" || rec.protocolVersion === "") {
    bad("protocolVersion", rec.protocolVersion, "a protocol version string");
  }
  if (typeof rec.clientInfo?.name !== "string") {
    bad("clientInfo", rec.clientInfo, "{name, version}");
  }
  if (!Array.isArray(rec.subscriptions)) bad("subscriptions", rec.subscriptions, "an array");
  if (typeof rec.backendSessions !== "object" || rec.backendSessions === null) {
    bad("backendSessions", rec.backendSessions, "an object of backend → session id");
  }
}

/** Parses a stored JSON record; undefined when it is not one (corrupt or foreign value). */
export function decodeRecord(text: string): SessionRecord | undefined {
  try {
    const v = JSON.parse(text) as SessionRecord;
    if (
      typeof v !== "object" || v === null || typeof v.id !== "string" ||
      typeof v.identityKey !== "string" || typeof v.backendSessions !== "object" ||
      !Array.isArray(v.subscriptions)
    ) return undefined;
    return v;
  } catch {
    return undefined;
  }
}

/**
 * Sealed `requestState` for multi round-trip requests (ADR 0010 §4): what vmcp hands a
 * 2026-07-28 client in an `input_required` result, signed so that any replica holding the key
 * can verify it and nobody else can forge or alter it.
 *
 * Wire form: `v1.<kid>.<b64url(json)>.<b64url(HMAC-SHA256(key, "vmcp.requestState.v1|" + kid +
 * "|" + json))>`. The payload names the method `m` and target `n` (tool or prompt name, or
 * resource uri), the round `i`, the expiry `exp` (ms since the epoch), and `b`: a 16-byte HMAC
 * of `"bind|" + identityKey`, so the caller's identity never appears in clear. A `park` state
 * names the replica `r` and park `p` holding the waiting backend call; a `pass` state carries a
 * modern backend's own state `s` for backend `be`.
 *
 * State is signed, not encrypted: it holds no secret. Every refusal is a `RequestStateError`,
 * answered as the v2 SDK 2.4.0 answers it: JSON-RPC `-32602` "Invalid or expired
 * requestState" with `data: {reason: "invalid_request_state"}` (HTTP 200).
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { Clock } from "../../core/clock.ts";

/** Where a parked backend call waits (the replica and its park id). */
export interface ParkContent {
  kind: "park";
  /** Random id of the replica holding the call. */
  r: string;
  /** Park id on that replica. */
  p: string;
}

/** A modern backend's own `requestState`, relayed through vmcp. */
export interface PassContent {
  kind: "pass";
  /** Backend name. */
  be: string;
  /** The backend's state, byte for byte (absent when the backend sent none). */
  s?: string;
}

export type StateContent = ParkContent | PassContent;

/** What a state is bound to: the request it may be sent with, and by whom. */
export interface StateBinding {
  /** JSON-RPC method (`tools/call`, `prompts/get`, `resources/read`). */
  method: string;
  /** Tool or prompt name, or resource uri ("" when the method has none). */
  name: string;
  /** The caller's identity key (core/auth/identity.ts `identityKey`). */
  identityKey: string;
}

declare const verified: unique symbol;

/** A state that `StateCodec.open` verified for a binding (only `open` makes one). */
export type OpenedState = StateContent & {
  /** Round number: 1 for the first `input_required`, then one more per retry. */
  readonly i: number;
  readonly exp: number;
  readonly [verified]: true;
};

/** Why a state was refused (logged, never sent: the client always sees the same answer). */
export type RefusalReason =
  | "malformed"
  | "unknown_kid"
  | "bad_mac"
  | "expired"
  | "other_identity"
  | "other_target"
  | "replayed_round"
  | "not_pending";

/** The JSON-RPC error the v2 SDK answers for a bad `requestState`. */
export const INVALID_REQUEST_STATE = Object.freeze({
  code: -32602,
  message: "Invalid or expired requestState",
  data: Object.freeze({ reason: "invalid_request_state" }),
});

/** The message of a valid state whose call is gone (timed out, finished, its replica gone). */
export const NOT_PENDING_MESSAGE =
  "The call this input answers is no longer pending; call again without requestState";

/**
 * Every refusal of a `requestState`. `code`, `message` and `data` are what the client gets
 * (HTTP 200, JSON-RPC error); `reason` is for the log only.
 */
export class RequestStateError extends Error {
  readonly code = INVALID_REQUEST_STATE.code;
  readonly data = INVALID_REQUEST_STATE.data;
  constructor(readonly reason: RefusalReason) {
    super(reason === "not_pending" ? NOT_PENDING_MESSAGE : INVALID_REQUEST_STATE.message);
    this.name = "RequestStateError";
  }

  /** The JSON-RPC `error` member of the answer. */
  toJsonRpc(): { code: number; message: string; data: { reason: string } } {
    return { code: this.code, message: this.message, data: { ...this.data } };
  }
}

/** Smallest accepted key, in bytes (HMAC-SHA256 gains nothing above 64). */
export const MIN_KEY_BYTES = 32;

interface Key {
  kid: string;
  bytes: Uint8Array;
}

const PREFIX = "vmcp.requestState.v1|";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Key id: the first 8 hex digits of the key's SHA-256. */
export function keyId(key: Uint8Array): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 8);
}

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

function fromB64url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  return new Uint8Array(Buffer.from(text, "base64url"));
}

function hmac(key: Uint8Array, text: string): Uint8Array {
  return new Uint8Array(createHmac("sha256", key).update(text).digest());
}

function checkKey(key: Uint8Array, what: string): Key {
  if (key.byteLength < MIN_KEY_BYTES) {
    throw new Error(
      `${what} is ${key.byteLength} bytes long; a requestState key needs at least ` +
        `${MIN_KEY_BYTES} bytes`,
    );
  }
  return { kid: keyId(key), bytes: key };
}

export interface StateCodecOptions {
  /** Signing key (≥ 32 bytes). Without one the codec makes a random key for this process. */
  key?: Uint8Array;
  /** The key before a rotation: still accepted for verification, never used to sign. */
  previousKey?: Uint8Array;
  /** How long a state is valid after it is sealed. */
  ttlMs: number;
  clock: Clock;
}

/** Seals and opens `requestState` values (see the module doc). */
export class StateCodec {
  readonly #current: Key;
  readonly #keys = new Map<string, Key>();
  readonly #ttlMs: number;
  readonly #clock: Clock;
  /** Whether the key was generated here (so other replicas cannot verify its states). */
  readonly randomKey: boolean;

  constructor(opts: StateCodecOptions) {
    this.randomKey = opts.key === undefined;
    const key = opts.key ?? crypto.getRandomValues(new Uint8Array(32));
    this.#current = checkKey(key, "the requestState key");
    this.#keys.set(this.#current.kid, this.#current);
    if (opts.previousKey) {
      const prev = checkKey(opts.previousKey, "the previous requestState key");
      if (!this.#keys.has(prev.kid)) this.#keys.set(prev.kid, prev);
    }
    this.#ttlMs = opts.ttlMs;
    this.#clock = opts.clock;
  }

  /** The id of the signing key. */
  get kid(): string {
    return this.#current.kid;
  }

  /** A sealed state for `content`, valid for `binding` in round `round` until the TTL. */
  seal(content: StateContent, binding: StateBinding, round: number): string {
    const key = this.#current;
    const payload = {
      m: binding.method,
      n: binding.name,
      b: this.#bind(key, binding.identityKey),
      exp: this.#clock.now() + this.#ttlMs,
      i: round,
      ...content,
    };
    const json = JSON.stringify(payload);
    const mac = hmac(key.bytes, PREFIX + key.kid + "|" + json);
    return `v1.${key.kid}.${b64url(encoder.encode(json))}.${b64url(mac)}`;
  }

  /**
   * Verifies `text` for `binding` and returns its content; throws `RequestStateError` for
   * anything wrong (the MAC is checked in constant time before the payload is looked at).
   */
  open(text: unknown, binding: StateBinding): OpenedState {
    if (typeof text !== "string" || text.length > 64 * 1024) throw refuse("malformed");
    const parts = text.split(".");
    if (parts.length !== 4 || parts[0] !== "v1") throw refuse("malformed");
    const [, kid, body, sig] = parts as [string, string, string, string];
    const key = this.#keys.get(kid);
    if (!key) throw refuse("unknown_kid");
    const jsonBytes = fromB64url(body);
    const mac = fromB64url(sig);
    if (!jsonBytes || !mac) throw refuse("malformed");
    const json = decoder.decode(jsonBytes);
    const expected = hmac(key.bytes, PREFIX + kid + "|" + json);
    if (mac.byteLength !== expected.byteLength || !timingSafeEqual(mac, expected)) {
      throw refuse("bad_mac");
    }
    let p: Record<string, unknown>;
    try {
      p = JSON.parse(json);
    } catch {
      throw refuse("malformed");
    }
    if (typeof p !== "object" || p === null) throw refuse("malformed");
    const { m, n, b, exp, i, kind } = p;
    if (
      typeof m !== "string" || typeof n !== "string" || typeof b !== "string" ||
      typeof exp !== "number" || typeof i !== "number" || !Number.isInteger(i) || i < 1
    ) throw refuse("malformed");
    if (this.#clock.now() >= exp) throw refuse("expired");
    const bind = encoder.encode(this.#bind(key, binding.identityKey));
    const got = encoder.encode(b);
    if (got.byteLength !== bind.byteLength || !timingSafeEqual(got, bind)) {
      throw refuse("other_identity");
    }
    if (m !== binding.method || n !== binding.name) throw refuse("other_target");
    if (kind === "park" && typeof p.r === "string" && typeof p.p === "string") {
      return { kind, r: p.r, p: p.p, i, exp } as OpenedState;
    }
    if (
      kind === "pass" && typeof p.be === "string" && (p.s === undefined || typeof p.s === "string")
    ) {
      return { kind, be: p.be, ...(p.s === undefined ? {} : { s: p.s }), i, exp } as OpenedState;
    }
    throw refuse("malformed");
  }

  #bind(key: Key, identityKey: string): string {
    return b64url(hmac(key.bytes, "bind|" + identityKey).subarray(0, 16));
  }
}

/**
 * Log fields of a refusal: the reason, method and name, and a hash of the identity key (the
 * identity itself is never logged).
 */
export function refusalLogFields(
  err: RequestStateError,
  binding: StateBinding,
): Record<string, unknown> {
  return {
    reason: err.reason,
    method: binding.method,
    name: binding.name.slice(0, 200), // a client-chosen tool name or uri, of any length
    identity: createHash("sha256").update(binding.identityKey).digest("hex").slice(0, 16),
  };
}

function refuse(reason: RefusalReason): RequestStateError {
  return new RequestStateError(reason);
}

/** Environment variables holding the keys (the controller renders them from Secrets). */
export const STATE_KEY_ENV = "VMCP_REQUEST_STATE_KEY";
export const PREVIOUS_STATE_KEY_ENV = "VMCP_REQUEST_STATE_KEY_PREVIOUS";

/**
 * The keys from the environment: each value's UTF-8 bytes are the key. Throws an error naming
 * the variable when a key is shorter than 32 bytes, or when only the previous key is set.
 */
export function stateKeysFromEnv(
  get: (name: string) => string | undefined,
): { key?: Uint8Array; previousKey?: Uint8Array } {
  const read = (name: string) => {
    const v = get(name);
    if (v === undefined || v === "") return undefined;
    const bytes = encoder.encode(v);
    if (bytes.byteLength < MIN_KEY_BYTES) {
      throw new Error(
        `${name} is ${bytes.byteLength} bytes long; a requestState key needs at least ` +
          `${MIN_KEY_BYTES} bytes (e.g. \`openssl rand -base64 48\`)`,
      );
    }
    return bytes;
  };
  const key = read(STATE_KEY_ENV);
  const previousKey = read(PREVIOUS_STATE_KEY_ENV);
  if (previousKey && !key) {
    throw new Error(
      `${PREVIOUS_STATE_KEY_ENV} is set but ${STATE_KEY_ENV} is not: the previous key only ` +
        `verifies states during a rotation; set the new key in ${STATE_KEY_ENV}`,
    );
  }
  return { ...(key ? { key } : {}), ...(previousKey ? { previousKey } : {}) };
}

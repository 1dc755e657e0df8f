/**
 * The `SessionPeer` of one MCP 2026-07-28 request (docs/adr/0010-mcp-2026-07-28-both-eras.md,
 * section 2): a modern client has no session, so what a backend sends back while serving a
 * request goes to that request's answer and nowhere else.
 *
 * - `identity`: the caller, live (its token selects the outgoing-auth headers).
 * - `clientCapabilities()`: the envelope's `clientCapabilities`.
 * - `capsetKey`: 16 hex digits of SHA-256 over the canonical JSON of the capabilities that change
 *   what a backend does (`sampling`, `elicitation{form,url}`, `roots`, `extensions`), memoized
 *   per exact capabilities text; the identity-key hash is memoized too (no digest per request).
 *   Only texts up to `MAX_MEMO_KEY_CHARS` are memoized: a client sends capabilities of any size
 *   (up to `server.maxBodyBytes`), and 4096 memoized multi-megabyte texts would be gigabytes.
 * - `connectionKey = "i:" + sha256(identityKey)[:16] + ":" + capsetKey`: the key of this
 *   identity's backend sessions (`Backend.connectionFor`, identity_pool.ts).
 * - `logLevel`: the envelope's; log messages below it are dropped, and without one none are sent.
 * - `notify()`: progress and log notifications are written to this request's SSE answer when it
 *   has one (`attach`), else dropped.
 * - `request()` (a backend asks the client for elicitation, sampling or roots): delegated to the
 *   injected `inputBridge` (the MRTR bridge, proxy/mrtr/); without one it fails at once with
 *   -32603 naming why, so nothing waits for an answer that cannot come.
 * @module
 */
import { createHash } from "node:crypto";
import type { Identity } from "../../core/auth/identity.ts";
import type { ClientCapabilities, LoggingLevel, RequestId } from "../../core/sdk.ts";
import type { AnyObject, SessionPeer } from "../backends/connection.ts";
import { RpcError } from "../backends/errors.ts";
import type { PassSlot } from "../mrtr/pass.ts";
import { META_CLIENT_CAPABILITIES, META_LOG_LEVEL } from "./era.ts";
import { LOGGING_LEVELS } from "./session.ts";
import { capabilitySetOfText } from "../capability_set.ts";

/** Relays a backend's server-to-client request of a modern call (the MRTR bridge). */
export type InputBridge = (
  peer: RequestPeer,
  req: { method: string; params?: AnyObject },
  opts: { signal: AbortSignal; relatedRequestId?: RequestId },
) => Promise<AnyObject>;

/** Writes one JSON-RPC message to the request's SSE answer. */
export type MessageWriter = (message: AnyObject) => void;

export interface RequestPeerOptions {
  identity: Identity;
  identityKey: string;
  /** The request's `params._meta` (the envelope). */
  meta: AnyObject;
  /** `JSON.stringify` of the envelope's clientCapabilities (era.ts computed it). */
  capsText: string;
  inputBridge?: InputBridge | undefined;
}

const MAX_MEMO = 4096;
/** Longer texts are hashed on every request instead of being kept as memo keys. */
export const MAX_MEMO_KEY_CHARS = 4096;
const capsetKeys = new Map<string, string>();
const identityHashes = new Map<string, string>();

function memo(map: Map<string, string>, key: string, compute: () => string): string {
  if (key.length > MAX_MEMO_KEY_CHARS) return compute();
  let v = map.get(key);
  if (v === undefined) {
    if (map.size >= MAX_MEMO) map.clear();
    map.set(key, v = compute());
  }
  return v;
}

/** Characters kept as memo keys (capabilities texts and identity keys): bounded. */
export function memoizedChars(): number {
  let n = 0;
  for (const map of [capsetKeys, identityHashes]) for (const k of map.keys()) n += k.length;
  return n;
}

function sha256Hex16(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

/** JSON with object keys sorted at every level. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    const parts = keys
      .filter((k) => (value as AnyObject)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as AnyObject)[k])}`);
    return `{${parts.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** The capabilities that change what a backend does, canonical (the capset's identity). */
export function capsetText(caps: AnyObject): string {
  const pick: AnyObject = {};
  if (caps.sampling !== undefined) pick.sampling = caps.sampling;
  const e = caps.elicitation;
  if (e !== undefined) {
    const o = (e !== null && typeof e === "object") ? e as AnyObject : {};
    pick.elicitation = { form: o.form, url: o.url };
  }
  if (caps.roots !== undefined) pick.roots = caps.roots;
  if (caps.extensions !== undefined) pick.extensions = caps.extensions;
  return canonicalJson(pick);
}

/** `capsetKey` of a capabilities text (memoized per exact text). */
export function capsetKeyOf(capsText: string, caps: AnyObject): string {
  return memo(capsetKeys, capsText, () => sha256Hex16(capsetText(caps)));
}

/** `"i:" + sha256(identityKey)[:16] + ":" + capsetKey` (the identity hash memoized). */
export function connectionKeyOf(identityKey: string, capsetKey: string): string {
  return `i:${memo(identityHashes, identityKey, () => sha256Hex16(identityKey))}:${capsetKey}`;
}

const LEVEL_RANK = new Map<string, number>(LOGGING_LEVELS.map((l, i) => [l, i]));

export class RequestPeer implements SessionPeer {
  readonly identity: Identity;
  readonly identityKey: string;
  readonly capsetKey: string;
  readonly connectionKey: string;
  readonly logLevel: LoggingLevel | undefined;
  readonly #caps: AnyObject;
  readonly #bridge: InputBridge | undefined;
  #writer: MessageWriter | undefined;
  /** Set for a direct call: a 2026-07-28 backend's `input_required` passes through (MRTR). */
  pass: PassSlot | undefined;

  constructor(opts: RequestPeerOptions) {
    this.identity = opts.identity;
    this.identityKey = opts.identityKey;
    const caps = opts.meta[META_CLIENT_CAPABILITIES];
    this.#caps = caps !== null && typeof caps === "object" ? caps as AnyObject : {};
    this.capsetKey = capsetKeyOf(opts.capsText, this.#caps);
    capabilitySetOfText(opts.capsText, this.#caps); // what it is listed (capability_set.ts)
    this.connectionKey = connectionKeyOf(opts.identityKey, this.capsetKey);
    const level = opts.meta[META_LOG_LEVEL];
    this.logLevel = typeof level === "string" && LEVEL_RANK.has(level)
      ? level as LoggingLevel
      : undefined;
    this.#bridge = opts.inputBridge;
  }

  /** The key of this identity's backend sessions (no client session owns them). */
  get id(): string {
    return this.connectionKey;
  }

  clientCapabilities(): ClientCapabilities {
    return this.#caps as ClientCapabilities;
  }

  /** From now on, notifications go to `writer` (the request's SSE answer); undefined: none. */
  attach(writer: MessageWriter | undefined): void {
    this.#writer = writer;
  }

  /** Where notifications go now (a retry's SSE answer hands it to the parked call's peer). */
  get writer(): MessageWriter | undefined {
    return this.#writer;
  }

  notify(n: { method: string; params?: AnyObject }, _relatedRequestId?: RequestId): Promise<void> {
    const write = this.#writer;
    if (!write) return Promise.resolve();
    if (n.method === "notifications/message" && !this.#wantsLog(n.params?.level)) {
      return Promise.resolve();
    }
    write({ jsonrpc: "2.0", method: n.method, ...(n.params ? { params: n.params } : {}) });
    return Promise.resolve();
  }

  #wantsLog(level: unknown): boolean {
    if (!this.logLevel) return false;
    const at = LEVEL_RANK.get(level as string);
    return at === undefined || at >= LEVEL_RANK.get(this.logLevel)!;
  }

  request(
    req: { method: string; params?: AnyObject },
    opts: { signal: AbortSignal; relatedRequestId?: RequestId },
  ): Promise<AnyObject> {
    if (this.#bridge) return this.#bridge(this, req, opts);
    return Promise.reject(
      new RpcError(
        -32603,
        `vmcp: the backend asked the client for ${req.method}, but server-to-client input ` +
          "for MCP 2026-07-28 clients is not available on this proxy yet",
        { method: req.method },
      ),
    );
  }
}

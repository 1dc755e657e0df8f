/**
 * The messages `ParkRelay` (relay.ts) exchanges over Redis pub/sub, and their checks. Every
 * replica listens on its own channel `<prefix>park:<replicaId>`; three kinds travel on it:
 *
 * - `resume` (receiver → owner): a retry whose park state names the owner. It carries the
 *   sealed state text and its binding (method, name, identity key) so the owner verifies the
 *   state again with its own codec, the client's `inputResponses`, the channel to answer on
 *   (`replyTo`, the receiver's own channel) and how long the receiver waits (`waitMs`).
 * - `cancel` (receiver → owner): the receiver stopped waiting (its client left, or it gave up).
 * - `answer` (owner → receiver): the call's result, a state refusal (by reason), or a JSON-RPC
 *   error (code, message, data).
 *
 * A message that is too long, not JSON, or not one of these shapes is refused here
 * (`parseRelayMessage` answers `undefined`); the relay logs it at most once a minute.
 * @module
 */
import { RpcError } from "../backends/errors.ts";
import { type RefusalReason, RequestStateError, type StateBinding } from "./state.ts";

type AnyObject = Record<string, unknown>;

/** A JSON-RPC error as relayed (the state refusals travel by reason, see `WireAnswer`). */
export interface WireError {
  code: number;
  message: string;
  data?: unknown;
}

export interface ResumeMessage {
  t: "resume";
  relayId: string;
  state: string;
  binding: StateBinding;
  inputResponses: unknown;
  replyTo: string;
  waitMs: number;
}

export interface CancelMessage {
  t: "cancel";
  relayId: string;
}

export type WireAnswer =
  & { t: "answer"; relayId: string }
  & ({ result: AnyObject } | { refusal: RefusalReason } | { error: WireError });

export type RelayMessage = ResumeMessage | CancelMessage | WireAnswer;

const REASONS: ReadonlySet<string> = new Set<RefusalReason>([
  "malformed",
  "unknown_kid",
  "bad_mac",
  "expired",
  "other_identity",
  "other_target",
  "replayed_round",
  "not_pending",
]);

const isObject = (v: unknown): v is AnyObject =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isText = (v: unknown, max = 4096): v is string =>
  typeof v === "string" && v.length > 0 && v.length <= max;

/** One message off the channel, or `undefined` when it is too long or not a relay message. */
export function parseRelayMessage(text: string, maxChars: number): RelayMessage | undefined {
  if (text.length > maxChars) return undefined;
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(m) || !isText(m.relayId, 64)) return undefined;
  if (m.t === "cancel") return { t: "cancel", relayId: m.relayId };
  if (m.t === "resume") {
    const b = m.binding;
    if (
      !isText(m.state, 64 * 1024) || !isText(m.replyTo, 1024) || !isObject(b) ||
      typeof b.method !== "string" || typeof b.name !== "string" ||
      typeof b.identityKey !== "string" || !Number.isSafeInteger(m.waitMs) ||
      (m.waitMs as number) < 1
    ) return undefined;
    return {
      t: "resume",
      relayId: m.relayId,
      state: m.state,
      binding: { method: b.method, name: b.name, identityKey: b.identityKey },
      inputResponses: m.inputResponses,
      replyTo: m.replyTo,
      waitMs: m.waitMs as number,
    };
  }
  if (m.t !== "answer") return undefined;
  if (isObject(m.result)) return { t: "answer", relayId: m.relayId, result: m.result };
  if (typeof m.refusal === "string" && REASONS.has(m.refusal)) {
    return { t: "answer", relayId: m.relayId, refusal: m.refusal as RefusalReason };
  }
  const e = m.error;
  if (isObject(e) && Number.isSafeInteger(e.code) && typeof e.message === "string") {
    const error: WireError = { code: e.code as number, message: e.message };
    if (e.data !== undefined) error.data = e.data;
    return { t: "answer", relayId: m.relayId, error };
  }
  return undefined;
}

/** The answer the owner sends for `err` (what the resume threw). */
export function errorAnswer(relayId: string, err: unknown): WireAnswer {
  if (err instanceof RequestStateError) return { t: "answer", relayId, refusal: err.reason };
  const e = err as { code?: unknown; message?: unknown; data?: unknown } | undefined;
  const code = Number.isSafeInteger(e?.code) ? e!.code as number : -32603;
  const message = typeof e?.message === "string" && e.message ? e.message : "Internal error";
  return {
    t: "answer",
    relayId,
    error: { code, message, ...(e?.data !== undefined ? { data: e.data } : {}) },
  };
}

/** The receiver's side of an answer: the result, or the error to throw. */
export function settleAnswer(a: WireAnswer): { ok: true; value: AnyObject } | {
  ok: false;
  error: Error;
} {
  if ("result" in a) return { ok: true, value: a.result };
  if ("refusal" in a) return { ok: false, error: new RequestStateError(a.refusal) };
  return { ok: false, error: new RpcError(a.error.code, a.error.message, a.error.data) };
}

/**
 * The text of `answer`; one longer than `maxBytes` is replaced by a -32603 naming both sizes
 * (`tooLarge`: its size), since the receiver could not take it.
 */
export function answerText(
  answer: WireAnswer,
  maxBytes: number,
): { text: string; tooLarge?: number } {
  const text = JSON.stringify(answer);
  const size = new TextEncoder().encode(text).byteLength;
  if (size <= maxBytes) return { text };
  const error = new RpcError(
    -32603,
    `vmcp: the answer (${size} bytes) is too large to relay from the replica holding the call ` +
      `(at most ${maxBytes} bytes)`,
  );
  return { text: JSON.stringify(errorAnswer(answer.relayId, error)), tooLarge: size };
}

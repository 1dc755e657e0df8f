/**
 * Errors the proxy itself raises about a backend. Every message names the backend and says
 * why; errors a backend sent are passed through untouched and never wrapped in these.
 * @module
 */
import { ErrorCode, McpError } from "../../core/sdk.ts";

/** Code of "the backend needed for this request is unavailable" (JSON-RPC server error range). */
export const BACKEND_UNAVAILABLE = -32003;

/**
 * An error answered to the client as a JSON-RPC error with exactly this code, message and data
 * (the SDK sends a thrown error's `code`, `message` and `data`). Unlike `McpError`, the message
 * carries no "MCP error N:" prefix, so it is not doubled when a client wraps it again.
 */
export class RpcError extends Error {
  constructor(readonly code: number, message: string, readonly data?: unknown) {
    super(message);
    this.name = "RpcError";
  }
}

/** A backend request did not finish within its deadline (`operational.timeouts`). */
export class BackendTimeoutError extends RpcError {
  constructor(readonly backend: string, readonly timeoutMs: number, what = "") {
    super(
      ErrorCode.RequestTimeout,
      `Backend "${backend}" timed out after ${timeoutMs} ms${what ? ` (${what})` : ""}`,
      { backend, timeoutMs },
    );
    this.name = "BackendTimeoutError";
  }
}

/**
 * What happened to a request that got no answer: `not-sent` (nothing reached the backend, e.g.
 * the connection was refused: safe to retry), `unknown` (the request was sent and the
 * connection closed before the answer: the backend may have run it).
 */
export type RequestOutcome = "not-sent" | "unknown";

/** Reason text of a request that was sent and never answered. */
export const OUTCOME_UNKNOWN =
  "the backend closed the connection after the request was sent; the outcome is unknown (it may have run)";
/** Reason text of a request that never reached the backend. */
export const NOT_SENT = "the request was not sent";

/**
 * `reason` without a leading `Backend "<backend>" is unavailable: ` or `Backend "<backend>" `:
 * wrapping an error (or a health message built from one) never repeats the text.
 */
function ownReason(backend: string, reason: string): string {
  const named = `Backend "${backend}" `;
  const unavailable = `${named}is unavailable: `;
  let r = reason;
  while (r.startsWith(unavailable)) r = r.slice(unavailable.length);
  if (r.startsWith(named)) r = r.slice(named.length);
  return r;
}

/** The backend cannot be reached, is unhealthy, or its connection broke mid-request. */
export class BackendUnavailableError extends RpcError {
  /** HTTP status of the failed request, when the transport saw one (404: session gone). */
  readonly httpStatus: number | undefined;
  /** Why, without the backend's name (never repeats the message's own prefix). */
  readonly reason: string;
  /** Set when a request went out and got no answer (see `RequestOutcome`). */
  readonly outcome: RequestOutcome | undefined;
  constructor(readonly backend: string, reason: string, httpStatus?: number) {
    const own = ownReason(backend, reason);
    const outcome = own.startsWith(OUTCOME_UNKNOWN)
      ? "unknown"
      : own.startsWith(NOT_SENT)
      ? "not-sent"
      : undefined;
    super(BACKEND_UNAVAILABLE, `Backend "${backend}" is unavailable: ${own}`, {
      backend,
      reason: own,
      ...(outcome ? { outcome } : {}),
    });
    this.name = "BackendUnavailableError";
    this.reason = own;
    this.outcome = outcome;
    this.httpStatus = httpStatus;
  }
}

/**
 * A response stream (SSE) of a sent request ended without its answer (lean path of
 * `pooled_transport.ts`): the request may have run.
 */
export class ResponseStreamEnded extends Error {
  constructor(cause?: unknown) {
    super(
      `the response stream ended without an answer${
        cause instanceof Error ? ` (${cause.message})` : ""
      }`,
      cause ? { cause } : undefined,
    );
    this.name = "ResponseStreamEnded";
  }
}

/** Code of "credentials for this caller towards the backend could not be obtained". */
export const BACKEND_CREDENTIALS_FAILED = -32004;

/**
 * The caller's credentials for the backend could not be built (e.g. a refused token
 * exchange). It concerns this caller only: the backend is not unhealthy, and the connection
 * stays open for everyone else.
 */
export class BackendCredentialsError extends RpcError {
  constructor(readonly backend: string, reason: string) {
    super(
      BACKEND_CREDENTIALS_FAILED,
      `Backend "${backend}": credentials for this caller could not be obtained: ${reason}`,
      { backend },
    );
    this.name = "BackendCredentialsError";
  }
}

/** The first error in `err`'s cause chain whose name is `name`. */
export function findCause(err: unknown, name: string): Error | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e.name === name) return e;
  }
  return undefined;
}

/**
 * Re-raises an error a backend sent so the client receives the backend's code, message and
 * data unchanged (the SDK's `McpError` prefixes "MCP error N: " to the message; stripped here).
 */
export function passThrough(err: unknown): unknown {
  if (!(err instanceof McpError)) return err;
  const prefix = `MCP error ${err.code}: `;
  const message = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  return new RpcError(err.code, message, err.data);
}

/** True for errors the proxy raised itself (as opposed to errors a backend sent). */
export function isProxyError(err: unknown): err is BackendTimeoutError | BackendUnavailableError {
  return err instanceof BackendTimeoutError || err instanceof BackendUnavailableError;
}

const NOT_SENT_NAMES = new Set(["ConnectionRefused", "AddrNotAvailable", "AddrInUse"]);
const UNKNOWN_NAMES = new Set([
  "ConnectionReset",
  "ConnectionAborted",
  "UnexpectedEof",
  "Http1ProtocolError",
  "ResponseStreamEnded",
]);

/**
 * Whether a transport failure happened before the request reached the backend (`not-sent`) or
 * after it was written (`unknown`); undefined when the error does not tell. Reads the errors of
 * `core/http1.ts` (connect failures, a write on a fresh socket failing, the peer closing before
 * or during the answer), Deno's `fetch` and `ResponseStreamEnded`.
 */
export function requestOutcome(err: unknown): RequestOutcome | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof RpcError) return undefined;
    const m = e.message;
    if (
      NOT_SENT_NAMES.has(e.name) || /: connect failed \(|the pool's sockets were closed/.test(m) ||
      /client error \(Connect\)/.test(m) ||
      // core/http1.ts: writing the request on a fresh socket failed (a POST is sent whole or not)
      (e.name === "TypeError" && /: the connection closed before a response \(/.test(m))
    ) return "not-sent";
    if (
      UNKNOWN_NAMES.has(e.name) ||
      /connection closed before message completed|client error \(SendRequest\)/.test(m)
    ) return "unknown";
  }
  return undefined;
}

/**
 * A short description of any error for logs and `/status`. A backend's own unavailability is
 * its reason only (the context names the backend); a transport failure says whether the request
 * was sent (`OUTCOME_UNKNOWN`, `NOT_SENT`).
 */
export function describeError(err: unknown): string {
  if (err instanceof BackendUnavailableError) return err.reason;
  if (err instanceof McpError || err instanceof RpcError) return err.message;
  if (err instanceof Error) {
    const text = `${err.name}: ${err.message}`.slice(0, 300);
    const outcome = requestOutcome(err);
    if (outcome === "unknown") return `${OUTCOME_UNKNOWN} (${text})`;
    if (outcome === "not-sent") return `${NOT_SENT} (${text})`;
    return text;
  }
  return String(err).slice(0, 300);
}

/**
 * Why a request failed, for a backend's health message: `describeError` without the
 * sent/not-sent wording, which is about that one request. A call refused later because of
 * this health says "not sent" itself (`refusal`).
 */
export function failureReason(err: unknown): string {
  const text = describeError(err);
  for (const prefix of [OUTCOME_UNKNOWN, NOT_SENT]) {
    if (text.startsWith(`${prefix} (`) && text.endsWith(")")) {
      return text.slice(prefix.length + 2, -1);
    }
  }
  return text;
}

/**
 * The answer to a request a backend sent vmcp that no client gets (ADR 0006): -32600 naming the
 * method, the backend and `why` (e.g. "cannot be attributed to one client session: ...").
 */
export function backendRequestRefused(backend: string, method: string, why: string): RpcError {
  return new RpcError(ErrorCode.InvalidRequest, `vmcp: ${method} from backend "${backend}" ${why}`);
}

/** A call refused before it was sent because the backend is unhealthy (`why`: its health). */
export function refusal(backend: string, why: string): BackendUnavailableError {
  return new BackendUnavailableError(
    backend,
    `${NOT_SENT} (marked unavailable by earlier failures: ${ownReason(backend, why)})`,
  );
}

/**
 * A call in flight failed because its backend stopped being routable (`why`: its health); it
 * was sent, so it may have run.
 */
export function inFlightFailure(backend: string, why: string): BackendUnavailableError {
  return new BackendUnavailableError(
    backend,
    `the call was in flight when the backend was marked unavailable (${
      ownReason(backend, why)
    }); the outcome is unknown (it may have run)`,
  );
}

/**
 * Did the backend answer (even with an error)? Backend-sent JSON-RPC errors mean the backend is
 * alive; timeouts, refused connections and broken pipes mean it is not.
 */
export function isBackendAnswer(err: unknown): boolean {
  return err instanceof RpcError && !isProxyError(err);
}

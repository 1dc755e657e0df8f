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

/** The backend cannot be reached, is unhealthy, or its connection broke mid-request. */
export class BackendUnavailableError extends RpcError {
  /** HTTP status of the failed request, when the transport saw one (404: session gone). */
  readonly httpStatus: number | undefined;
  constructor(readonly backend: string, readonly reason: string, httpStatus?: number) {
    super(BACKEND_UNAVAILABLE, `Backend "${backend}" is unavailable: ${reason}`, {
      backend,
      reason,
    });
    this.name = "BackendUnavailableError";
    this.httpStatus = httpStatus;
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

/** A short description of any error for logs and `/status`. */
export function describeError(err: unknown): string {
  if (err instanceof McpError || err instanceof RpcError) return err.message;
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 300);
  return String(err).slice(0, 300);
}

/**
 * Did the backend answer (even with an error)? Backend-sent JSON-RPC errors mean the backend is
 * alive; timeouts, refused connections and broken pipes mean it is not.
 */
export function isBackendAnswer(err: unknown): boolean {
  return err instanceof RpcError && !isProxyError(err);
}

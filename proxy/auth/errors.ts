/**
 * Authentication failures. Messages say what was wrong with a credential, never the
 * credential itself.
 * @module
 */

/**
 * - `missing_token`: no bearer token was presented.
 * - `invalid_token`: a token was presented and rejected (401 with `error="invalid_token"`).
 * - `unavailable`: the token could not be checked (issuer, JWKS or API server unreachable) —
 *   a server-side problem, answered with 503.
 */
export type AuthErrorCode = "missing_token" | "invalid_token" | "unavailable";

export class AuthError extends Error {
  override name = "AuthError";
  constructor(readonly code: AuthErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Failure to obtain or build credentials for a backend. */
export class OutgoingAuthError extends Error {
  override name = "OutgoingAuthError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The backend's strategy itself cannot be built (bad config, missing env var): unlike a
 * per-caller {@link OutgoingAuthError}, this excludes the backend for everyone.
 */
export class OutgoingAuthConfigError extends OutgoingAuthError {
  override name = "OutgoingAuthConfigError";
}

/**
 * Identity binding: a session may be used only by the identity that created it.
 *
 * Checked on every request (also right after a replica restores a session from the store)
 * against the identity of the live, freshly authenticated request, never a stored token, so
 * a token refresh for the same `(iss, sub)` keeps working and another caller never does.
 * @module
 */
import { UNAUTHENTICATED } from "./store.ts";

export type BindingResult =
  | { ok: true }
  | {
    ok: false;
    /** `identity-mismatch`: another authenticated caller; `anonymous-upgrade`: a token on an
     * anonymous session; `anonymous-downgrade`: no token on an authenticated session. */
    reason: "identity-mismatch" | "anonymous-upgrade" | "anonymous-downgrade";
    /** Answer 403 (the message reveals nothing about the session's owner). */
    status: 403;
    message: string;
  };

const OK: BindingResult = Object.freeze({ ok: true });

/**
 * Compares the session's bound identity key with the live request's. Fails closed: an empty
 * or missing key on either side never matches.
 */
export function checkBinding(
  record: { identityKey: string },
  liveIdentityKey: string,
): BindingResult {
  const bound = record.identityKey;
  if (typeof bound === "string" && bound !== "" && bound === liveIdentityKey) return OK;
  const reason = bound === UNAUTHENTICATED
    ? "anonymous-upgrade"
    : liveIdentityKey === UNAUTHENTICATED
    ? "anonymous-downgrade"
    : "identity-mismatch";
  return {
    ok: false,
    reason,
    status: 403,
    message: "Forbidden: this session belongs to another identity",
  };
}

/** The 403 answer for a failed binding check (JSON-RPC error, nothing about the owner). */
export function bindingErrorResponse(result: Extract<BindingResult, { ok: false }>): Response {
  return Response.json(
    { jsonrpc: "2.0", error: { code: -32001, message: result.message }, id: null },
    { status: result.status },
  );
}

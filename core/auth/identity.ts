/**
 * The caller's identity after incoming authentication, and the key a session is bound to.
 * @module
 */

/** Who is calling, as established by incoming authentication. */
export interface Identity {
  /** Token issuer (`iss`); `""` for anonymous callers. */
  issuer: string;
  /** Subject (`sub`, or the Kubernetes username); `"anonymous"` for anonymous callers. */
  subject: string;
  /** All verified claims (for Kubernetes: username, uid, groups, extra, audiences). */
  claims: Record<string, unknown>;
  /**
   * The validated bearer token, kept only so outgoing token exchange can use it as the
   * subject token. Never forward it to a backend and never log it.
   */
  token?: string;
  /** When the token expires, in milliseconds since the epoch (undefined when unknown). */
  expiresAt?: number;
}

/** The key of anonymous sessions: they refuse any identity presented later (no upgrade). */
export const ANONYMOUS_IDENTITY_KEY = "unauthenticated";

/** The identity given to every caller when incoming auth is `anonymous`. */
export const ANONYMOUS_IDENTITY: Readonly<Identity> = Object.freeze({
  issuer: "",
  subject: "anonymous",
  claims: Object.freeze({}) as Record<string, unknown>,
});

/** True for the identity that anonymous incoming auth hands out. */
export function isAnonymous(identity: Identity): boolean {
  return identity.issuer === "" && identity.subject === "anonymous" && identity.token === undefined;
}

/**
 * The value a session is bound to: `issuer + "\u0000" + subject`, or the anonymous sentinel.
 * Two identities may share a session only when their keys are equal.
 */
export function identityKey(identity: Identity): string {
  if (isAnonymous(identity)) return ANONYMOUS_IDENTITY_KEY;
  return `${identity.issuer}\u0000${identity.subject}`;
}

/**
 * OIDC / JWT bearer-token verification against an issuer's JWKS.
 * @module
 */

import { errors as joseErrors, jwtVerify } from "jose";
import { type Clock, systemClock } from "../../core/clock.ts";
import type { Identity } from "../../core/auth/identity.ts";
import { type Logger, silentLogger } from "../../core/log.ts";
import { AuthError } from "./errors.ts";
import { JWS_ALGORITHMS } from "../../crds/auth.ts";
import type { FetchFn } from "./http.ts";
import { createJwksCache } from "./jwks.ts";

/** Asymmetric algorithms accepted by default. `none` and `HS*` are never accepted. */
export const DEFAULT_ALLOWED_ALGORITHMS: readonly string[] = Object.freeze([
  ...JWS_ALGORITHMS,
  "Ed25519",
]);

export interface OidcVerifierOptions {
  /** Expected `iss`, also the base of discovery (`<issuer>/.well-known/openid-configuration`). */
  issuer: string;
  /** Accepted `aud` value(s); the token must name at least one. */
  audience: string | string[];
  /** Use this JWKS URL instead of discovering `jwks_uri`. */
  jwksUrl?: string;
  /** Subset of `DEFAULT_ALLOWED_ALGORITHMS`. @default DEFAULT_ALLOWED_ALGORITHMS */
  allowedAlgorithms?: string[];
  /** Tolerance for `exp`, `nbf` and `iat`. @default 30 */
  clockSkewSeconds?: number;
  /** Least time between two JWKS fetches (unknown-`kid` refreshes). @default 30 */
  jwksMinRefreshSeconds?: number;
  /** Key set age after which it is refetched. @default 600 */
  jwksMaxAgeSeconds?: number;
  /** Timeout of discovery and JWKS requests. @default 5000 */
  fetchTimeoutMs?: number;
  /**
   * How long a verified token is reused without checking its signature again (never past its
   * `exp`, and never across a change of the key set). 0 disables. @default 60
   */
  verifiedCacheSeconds?: number;
  /** Most verified tokens remembered (least recently used go first). @default 10000 */
  verifiedCacheMaxEntries?: number;
  fetch?: FetchFn;
  clock?: Clock;
  logger?: Logger;
}

/** Verifies a bearer token and returns who presented it. */
export interface TokenVerifier {
  /** Resolves the identity, or rejects with an `AuthError`. */
  verify(token: string, signal?: AbortSignal): Promise<Identity>;
}

function validateAlgorithms(algs: string[] | undefined): string[] {
  if (algs === undefined) return [...DEFAULT_ALLOWED_ALGORITHMS];
  if (algs.length === 0) {
    throw new RangeError(
      `Invalid oidc.allowedAlgorithms []: expected at least one of ${
        DEFAULT_ALLOWED_ALGORITHMS.join(", ")
      }`,
    );
  }
  for (const alg of algs) {
    if (!DEFAULT_ALLOWED_ALGORITHMS.includes(alg)) {
      throw new RangeError(
        `Invalid oidc.allowedAlgorithms entry "${alg}": expected one of ${
          DEFAULT_ALLOWED_ALGORITHMS.join(", ")
        } ("none" and HMAC algorithms are never accepted for tokens verified with public keys)`,
      );
    }
  }
  return [...algs];
}

/** Maps jose failures to short reasons that never include the token. */
function reason(err: unknown): AuthError {
  if (err instanceof AuthError) return err;
  if (err instanceof joseErrors.JWTExpired) return new AuthError("invalid_token", "token expired");
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    const claim = err.claim;
    if (claim === "aud") return new AuthError("invalid_token", "token audience is not accepted");
    if (claim === "iss") return new AuthError("invalid_token", "token issuer is not accepted");
    if (claim === "nbf") return new AuthError("invalid_token", "token is not yet valid");
    if (claim === "iat") return new AuthError("invalid_token", "token issued in the future");
    return new AuthError("invalid_token", `token claim "${claim}" is missing or invalid`);
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) {
    return new AuthError("invalid_token", "token signing algorithm is not allowed");
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new AuthError("invalid_token", "token signature is invalid");
  }
  if (err instanceof joseErrors.JWKSNoMatchingKey) {
    return new AuthError("invalid_token", "no signing key of the issuer matches the token");
  }
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) {
    return new AuthError("invalid_token", "token is malformed");
  }
  return new AuthError("invalid_token", "token could not be verified");
}

/** Creates a verifier for JWTs issued by `options.issuer`. */
export function createOidcVerifier(options: OidcVerifierOptions): TokenVerifier {
  if (!options.issuer || !URL.canParse(options.issuer)) {
    throw new TypeError(`Invalid oidc.issuer "${options.issuer}": expected an absolute URL`);
  }
  const audiences = Array.isArray(options.audience) ? options.audience : [options.audience];
  if (audiences.length === 0 || audiences.some((a) => typeof a !== "string" || a === "")) {
    throw new TypeError(
      `Invalid oidc.audience ${JSON.stringify(options.audience)}: expected a non-empty string`,
    );
  }
  const skew = options.clockSkewSeconds ?? 30;
  if (!(skew >= 0 && skew <= 600)) {
    throw new RangeError(
      `Invalid oidc.clockSkewSeconds ${skew}: expected a number of seconds from 0 to 600`,
    );
  }
  const algorithms = validateAlgorithms(options.allowedAlgorithms);
  const clock = options.clock ?? systemClock;
  const jwks = createJwksCache({
    issuer: options.issuer,
    jwksUrl: options.jwksUrl,
    fetch: options.fetch ?? fetch,
    clock,
    logger: options.logger ?? silentLogger,
    minRefreshIntervalMs: (options.jwksMinRefreshSeconds ?? 30) * 1000,
    maxAgeMs: (options.jwksMaxAgeSeconds ?? 600) * 1000,
    timeoutMs: options.fetchTimeoutMs,
  });

  // Signature checks cost ~0.3 ms (RS256 in WebCrypto); a client sends the same token on
  // every request of its session. Keys are the tokens themselves: held only in memory, like
  // the sessions' identities, and never logged.
  const cacheMs = (options.verifiedCacheSeconds ?? 60) * 1000;
  const cacheMax = options.verifiedCacheMaxEntries ?? 10_000;
  const verified = new Map<string, { identity: Identity; until: number; generation: number }>();

  function cached(token: string): Identity | undefined {
    const hit = verified.get(token);
    if (!hit) return undefined;
    verified.delete(token);
    if (hit.until <= clock.now() || hit.generation !== jwks.generation) return undefined;
    verified.set(token, hit);
    return { ...hit.identity };
  }

  function remember(token: string, identity: Identity, generation: number): void {
    if (cacheMs <= 0 || generation !== jwks.generation) return;
    const until = Math.min(clock.now() + cacheMs, identity.expiresAt!);
    if (until <= clock.now()) return;
    verified.set(token, { identity: { ...identity }, until, generation });
    while (verified.size > cacheMax) verified.delete(verified.keys().next().value as string);
  }

  return {
    async verify(token) {
      if (!token) throw new AuthError("missing_token", "no bearer token");
      const hit = cached(token);
      if (hit) return hit;
      let payload;
      try {
        ({ payload } = await jwtVerify(token, jwks.getKey, {
          issuer: options.issuer,
          audience: audiences,
          algorithms,
          clockTolerance: skew,
          currentDate: new Date(clock.now()),
          requiredClaims: ["exp", "sub"],
        }));
      } catch (err) {
        throw reason(err);
      }
      const identity: Identity = {
        issuer: payload.iss!,
        subject: payload.sub!,
        claims: payload as Record<string, unknown>,
        token,
        expiresAt: payload.exp! * 1000,
      };
      remember(token, identity, jwks.generation);
      return identity;
    },
  };
}

/**
 * Kubernetes service-account token verification through the TokenReview API, with plain
 * `fetch` (the proxy does not load @kubernetes/client-node).
 *
 * The proxy's own credentials (its service-account token) must be allowed to create
 * `tokenreviews` (ClusterRole `system:auth-delegator`).
 * @module
 */

import { decodeJwt } from "jose";
import { type Clock, systemClock } from "../../core/clock.ts";
import { sha256Hex } from "../../core/auth/hash.ts";
import type { Identity } from "../../core/auth/identity.ts";
import { type Logger, silentLogger } from "../../core/log.ts";
import { AuthError } from "./errors.ts";
import { describeFetchError, type FetchFn, fetchText } from "./http.ts";
import type { TokenVerifier } from "./oidc.ts";

/**
 * The audience a caller's token must carry when none is configured. Never the API server's own
 * default audience: a pod's default service-account token would then authenticate, and vmcp
 * would hold tokens that work against the Kubernetes API. Clients mint one with a projected
 * volume or `kubectl create token <sa> --audience toolhive` (the audience of the seed era).
 */
export const DEFAULT_KUBERNETES_AUDIENCE = "toolhive";

export const IN_CLUSTER_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token";
export const IN_CLUSTER_CA_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";

export interface TokenReviewVerifierOptions {
  /** @default https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (in-cluster) */
  apiServerUrl?: string;
  /** The proxy's own token. Prefer `tokenFile` (projected tokens rotate). */
  bearerToken?: string;
  /** Re-read every minute. @default IN_CLUSTER_TOKEN_FILE when no bearerToken */
  tokenFile?: string;
  /** CA bundle of the API server. @default IN_CLUSTER_CA_FILE when apiServerUrl is defaulted */
  caFile?: string;
  /** CA bundle as PEM text (instead of caFile). */
  caPem?: string;
  /**
   * Audiences the caller's token must carry (TokenReview `spec.audiences`); one is enough.
   * @default [DEFAULT_KUBERNETES_AUDIENCE] ("toolhive") when undefined or empty
   */
  audiences?: string[];
  /** Accept only service accounts of this namespace. */
  namespace?: string;
  /** Accept only this service account name (combine with `namespace`). */
  serviceAccount?: string;
  /** `Identity.issuer` of verified callers. @default "kubernetes" */
  issuer?: string;
  /** How long a positive review is reused (bounded by the token's `exp`). @default 10 */
  cacheTtlSeconds?: number;
  /** @default 1000 */
  maxCacheEntries?: number;
  /** @default 5000 */
  timeoutMs?: number;
  fetch?: FetchFn;
  clock?: Clock;
  logger?: Logger;
}

export interface TokenReviewVerifier extends TokenVerifier {
  /** Releases the HTTP client that holds the CA bundle. */
  close(): void;
}

interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  audiences?: string[];
  error?: string;
}

function inClusterUrl(): string {
  const host = Deno.env.get("KUBERNETES_SERVICE_HOST");
  const port = Deno.env.get("KUBERNETES_SERVICE_PORT") ?? "443";
  if (!host) {
    throw new TypeError(
      "kubernetes incoming auth: apiServerUrl is not set and KUBERNETES_SERVICE_HOST is missing (not running in a cluster)",
    );
  }
  return `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Creates a verifier that asks the API server to review each (uncached) token. */
export function createTokenReviewVerifier(
  options: TokenReviewVerifierOptions,
): TokenReviewVerifier {
  const defaulted = options.apiServerUrl === undefined;
  const apiServerUrl = (options.apiServerUrl ?? inClusterUrl()).replace(/\/+$/, "");
  if (!URL.canParse(apiServerUrl)) {
    throw new TypeError(`Invalid kubernetes.apiServerUrl "${apiServerUrl}": expected a URL`);
  }
  const tokenFile = options.bearerToken === undefined
    ? options.tokenFile ?? IN_CLUSTER_TOKEN_FILE
    : undefined;
  const caFile = options.caFile ?? (defaulted && !options.caPem ? IN_CLUSTER_CA_FILE : undefined);
  const caPem = options.caPem ?? (caFile ? Deno.readTextFileSync(caFile) : undefined);
  const httpClient = caPem ? Deno.createHttpClient({ caCerts: [caPem] }) : undefined;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const doFetch = options.fetch ?? fetch;
  const ttlMs = (options.cacheTtlSeconds ?? 10) * 1000;
  const maxEntries = options.maxCacheEntries ?? 1000;
  const issuer = options.issuer ?? "kubernetes";
  const audiences = options.audiences?.length ? options.audiences : [DEFAULT_KUBERNETES_AUDIENCE];
  const cache = new Map<string, { identity: Omit<Identity, "token">; until: number }>();
  let ownToken: { value: string; readAt: number } | undefined;

  async function credentials(): Promise<string> {
    if (options.bearerToken !== undefined) return options.bearerToken;
    if (!ownToken || clock.now() - ownToken.readAt > 60_000) {
      try {
        ownToken = { value: (await Deno.readTextFile(tokenFile!)).trim(), readAt: clock.now() };
      } catch (err) {
        throw new AuthError(
          "unavailable",
          `cannot read the proxy's service-account token from ${tokenFile}: ${
            describeFetchError(err)
          }`,
        );
      }
    }
    return ownToken.value;
  }

  async function review(token: string, signal?: AbortSignal): Promise<TokenReviewStatus> {
    const url = `${apiServerUrl}/apis/authentication.k8s.io/v1/tokenreviews`;
    const body = JSON.stringify({
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenReview",
      spec: { token, audiences },
    });
    let res;
    try {
      res = await fetchText(
        doFetch,
        url,
        {
          method: "POST",
          headers: {
            authorization: `Bearer ${await credentials()}`,
            "content-type": "application/json",
            accept: "application/json",
          },
          body,
          ...(httpClient ? { client: httpClient } : {}),
        },
        options.timeoutMs ?? 5000,
        signal,
      );
    } catch (err) {
      if (err instanceof AuthError) throw err;
      throw new AuthError(
        "unavailable",
        `TokenReview at ${apiServerUrl} failed: ${describeFetchError(err)}`,
      );
    }
    if (res.status === 401 || res.status === 403) {
      throw new AuthError(
        "unavailable",
        `the API server refused the proxy's TokenReview (HTTP ${res.status}); its service account needs the system:auth-delegator ClusterRole (create tokenreviews)`,
      );
    }
    if (res.status !== 200 && res.status !== 201) {
      throw new AuthError(
        "unavailable",
        `TokenReview at ${apiServerUrl} answered HTTP ${res.status}`,
      );
    }
    try {
      return (JSON.parse(res.body) as { status?: TokenReviewStatus }).status ?? {};
    } catch {
      throw new AuthError("unavailable", `TokenReview at ${apiServerUrl} did not return JSON`);
    }
  }

  function check(status: TokenReviewStatus): Omit<Identity, "token"> {
    const username = status.user?.username;
    if (!status.authenticated || !username) {
      throw new AuthError("invalid_token", "token was not accepted by the Kubernetes API server");
    }
    if (!(status.audiences ?? []).some((a) => audiences.includes(a))) {
      throw new AuthError("invalid_token", "token audience is not accepted");
    }
    if (options.namespace !== undefined || options.serviceAccount !== undefined) {
      const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username);
      if (
        !m || (options.namespace !== undefined && m[1] !== options.namespace) ||
        (options.serviceAccount !== undefined && m[2] !== options.serviceAccount)
      ) {
        throw new AuthError("invalid_token", `user ${username} is not an accepted service account`);
      }
    }
    return {
      issuer,
      subject: username,
      claims: {
        username,
        uid: status.user?.uid,
        groups: status.user?.groups ?? [],
        extra: status.user?.extra ?? {},
        audiences: status.audiences ?? [],
      },
    };
  }

  function expiryOf(token: string): number | undefined {
    try {
      const exp = decodeJwt(token).exp;
      return typeof exp === "number" ? exp * 1000 : undefined;
    } catch {
      return undefined;
    }
  }

  return {
    async verify(token, signal) {
      if (!token) throw new AuthError("missing_token", "no bearer token");
      const key = await sha256Hex(token);
      const hit = cache.get(key);
      const now = clock.now();
      if (hit && hit.until > now) {
        cache.delete(key);
        cache.set(key, hit);
        return { ...hit.identity, token };
      }
      if (hit) cache.delete(key);
      const identity = check(await review(token, signal));
      // The API server has just accepted the token, so its exp (unverified here) is trustworthy.
      const expiresAt = expiryOf(token);
      if (expiresAt !== undefined) identity.expiresAt = expiresAt;
      const until = Math.min(now + ttlMs, expiresAt ?? Infinity);
      if (until > now) {
        cache.set(key, { identity, until });
        while (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
      }
      logger.debug("TokenReview accepted a token", { subject: identity.subject });
      return { ...identity, token };
    },
    close() {
      httpClient?.close();
    },
  };
}

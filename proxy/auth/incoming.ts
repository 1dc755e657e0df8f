/**
 * Incoming (client → vmcp) authentication of each HTTP request, and the RFC 9728
 * protected-resource metadata that tells MCP clients where to get a token.
 * @module
 */

import type { IncomingAuth } from "../../crds/auth.ts";
import { ANONYMOUS_IDENTITY, type Identity } from "../../core/auth/identity.ts";
import type { Clock } from "../../core/clock.ts";
import { parseDuration } from "../../core/duration.ts";
import { type Logger, silentLogger } from "../../core/log.ts";
import { AuthError } from "./errors.ts";
import type { FetchFn } from "./http.ts";
import { createTokenReviewVerifier, type TokenReviewVerifierOptions } from "./kubernetes.ts";
import { createOidcVerifier, type TokenVerifier } from "./oidc.ts";
import { createIntrospectionVerifier, createOpaqueAwareVerifier } from "./introspection.ts";

export const PROTECTED_RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource";

/** RFC 9728 §2 metadata served at `PROTECTED_RESOURCE_METADATA_PATH`. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers?: string[];
  bearer_methods_supported: string[];
  scopes_supported?: string[];
  resource_name?: string;
}

export interface IncomingAuthDeps {
  fetch?: FetchFn;
  clock?: Clock;
  logger?: Logger;
  /** Public URL of the MCP endpoint when the config has no `resourceUrl`. */
  resourceUrl?: string;
  /**
   * Where and as whom to call TokenReview (types `kubernetes` and `oidcConfig.type:
   * kubernetes`). @default in-cluster (service host env, mounted token and CA)
   */
  kubernetes?: Pick<
    TokenReviewVerifierOptions,
    "apiServerUrl" | "bearerToken" | "tokenFile" | "caFile" | "caPem" | "cacheTtlSeconds"
  >;
  /** Use this verifier instead of building one from the config (tests, embedding). */
  verifier?: TokenVerifier;
  /** Reads `clientSecretEnv`. @default Deno.env.get */
  env?: (name: string) => string | undefined;
}

export interface IncomingAuthenticator {
  readonly type: IncomingAuth["type"];
  /**
   * The caller's identity, or the Response to send instead: 401 with `WWW-Authenticate`
   * (missing or rejected token) or 503 (the token could not be checked).
   */
  authenticate(req: Request, signal?: AbortSignal): Promise<Identity | Response>;
  /** RFC 9728 metadata, or undefined for anonymous auth (nothing to advertise). */
  metadata(req?: Request): ProtectedResourceMetadata | undefined;
  /** Answers `GET /.well-known/oauth-protected-resource[/path]` (404 when anonymous). */
  metadataResponse(req: Request): Response;
  /** Releases HTTP clients. */
  close(): void;
}

/** Extracts an RFC 6750 bearer token; `null` when absent, `""` when malformed. */
export function bearerToken(req: Request): string | null {
  const h = req.headers.get("authorization");
  if (h === null || !/^bearer(\s|$)/i.test(h)) return null;
  const m = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(h);
  return m ? m[1]! : "";
}

/** True for the RFC 9728 well-known path, also in its path-suffixed form (`…/mcp`). */
export function isProtectedResourceMetadataPath(pathname: string): boolean {
  return pathname === PROTECTED_RESOURCE_METADATA_PATH ||
    pathname.startsWith(`${PROTECTED_RESOURCE_METADATA_PATH}/`);
}

function resourceOf(
  config: IncomingAuth | undefined,
  deps: IncomingAuthDeps,
  req?: Request,
): string {
  const configured = config?.oidcConfig?.resourceUrl ?? deps.resourceUrl;
  if (configured) return configured;
  return req ? `${new URL(req.url).origin}/mcp` : "/mcp";
}

/** The RFC 9728 document for `config` (undefined for anonymous). */
export function protectedResourceMetadata(
  config: IncomingAuth | undefined,
  deps: Pick<IncomingAuthDeps, "resourceUrl"> = {},
  req?: Request,
): ProtectedResourceMetadata | undefined {
  const type = config?.type ?? "anonymous";
  if (type === "anonymous") return undefined;
  const inline = config?.oidcConfig?.type !== "kubernetes" ? config?.oidcConfig?.inline : undefined;
  return {
    resource: resourceOf(config, deps, req),
    ...(type === "oidc" && inline ? { authorization_servers: [inline.issuer] } : {}),
    bearer_methods_supported: ["header"],
    ...(type === "oidc" && inline ? { scopes_supported: inline.scopes ?? ["openid"] } : {}),
    resource_name: "vmcp",
  };
}

const quoted = (s: string) => s.replace(/["\\\r\n]/g, "");

/** The metadata URL clients are pointed at: `<origin of resource>/.well-known/oauth-protected-resource`. */
function metadataUrl(resource: string, req?: Request): string {
  const base = URL.canParse(resource)
    ? new URL(resource).origin
    : req
    ? new URL(req.url).origin
    : "";
  return `${base}${PROTECTED_RESOURCE_METADATA_PATH}`;
}

/** JSON-RPC error body, as MCP clients expect even on HTTP errors. */
function jsonRpcError(
  status: number,
  code: number,
  message: string,
  headers: HeadersInit = {},
): Response {
  return new Response(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
  });
}

/**
 * 401 with `WWW-Authenticate: Bearer resource_metadata="…"` (RFC 9728 §5.1), plus
 * `error="invalid_token"` and a description when a token was presented.
 */
export function unauthorizedResponse(
  resource: string,
  failure: AuthError,
  options: { scopes?: string[]; req?: Request } = {},
): Response {
  if (failure.code === "unavailable") {
    return jsonRpcError(503, -32000, "Authentication is temporarily unavailable", {
      "retry-after": "5",
    });
  }
  const parts = [`Bearer resource_metadata="${metadataUrl(resource, options.req)}"`];
  if (options.scopes?.length) parts.push(`scope="${quoted(options.scopes.join(" "))}"`);
  if (failure.code === "invalid_token") {
    parts.push(`error="invalid_token"`, `error_description="${quoted(failure.message)}"`);
  }
  const message = failure.code === "missing_token"
    ? "Unauthorized: a bearer token is required"
    : `Unauthorized: ${failure.message}`;
  return jsonRpcError(401, -32001, message, { "www-authenticate": parts.join(", ") });
}

function buildVerifier(
  config: IncomingAuth,
  deps: IncomingAuthDeps,
): TokenVerifier & { close?(): void } {
  const k8s = config.type === "kubernetes"
    ? config.kubernetes ?? config.oidcConfig?.kubernetes ?? {}
    : config.oidcConfig?.type === "kubernetes"
    ? config.oidcConfig.kubernetes ?? {}
    : undefined;
  if (k8s) {
    const audiences = k8s.audiences ?? (k8s.audience ? [k8s.audience] : undefined);
    return createTokenReviewVerifier({
      ...deps.kubernetes,
      audiences,
      namespace: k8s.namespace,
      serviceAccount: k8s.serviceAccount,
      issuer: k8s.issuer,
      fetch: deps.fetch,
      clock: deps.clock,
      logger: deps.logger,
    });
  }
  const inline = config.oidcConfig?.inline;
  if (!inline) {
    throw new TypeError(
      'Invalid incomingAuth: type "oidc" needs oidcConfig.inline (issuer, audience) or oidcConfig.type "kubernetes"',
    );
  }
  const audience = inline.audience ?? config.oidcConfig?.resourceUrl ?? deps.resourceUrl;
  if (!audience) {
    throw new TypeError(
      "Invalid incomingAuth.oidcConfig.inline.audience: missing, and there is no resourceUrl to default it to; set the audience tokens for vmcp carry",
    );
  }
  const clockSkewSeconds = parseDuration(inline.clockSkew ?? "30s") / 1000;
  const jwt = createOidcVerifier({
    issuer: inline.issuer,
    audience,
    jwksUrl: inline.jwksUrl,
    allowedAlgorithms: inline.allowedAlgorithms,
    clockSkewSeconds,
    fetch: deps.fetch,
    clock: deps.clock,
    logger: deps.logger,
  });
  if (!inline.introspectionUrl) return jwt;
  return createOpaqueAwareVerifier(
    jwt,
    createIntrospectionVerifier({
      url: inline.introspectionUrl,
      clientId: inline.clientId ?? "",
      clientSecret: introspectionSecret(inline, deps),
      issuer: inline.issuer,
      audience,
      clockSkewSeconds,
      fetch: deps.fetch,
      clock: deps.clock,
      logger: deps.logger,
    }),
  );
}

/** The client secret `introspectionUrl` authenticates with, read from `clientSecretEnv`. */
function introspectionSecret(
  inline: NonNullable<NonNullable<IncomingAuth["oidcConfig"]>["inline"]>,
  deps: IncomingAuthDeps,
): string {
  const name = inline.clientSecretEnv;
  if (!name) {
    throw new TypeError(
      "Invalid incomingAuth.oidcConfig.inline.clientSecretEnv: missing; introspectionUrl needs the client secret (clientSecretRef in a cluster, clientSecretEnv standalone)",
    );
  }
  const value = (deps.env ?? ((n: string) => Deno.env.get(n)))(name);
  if (!value) {
    throw new TypeError(
      `Invalid incomingAuth.oidcConfig.inline.clientSecretEnv "${name}": the environment variable is not set`,
    );
  }
  return value;
}

/**
 * Builds the authenticator for `config` (undefined means anonymous). Throws a `TypeError`
 * naming the field when the config cannot work.
 */
export function createIncomingAuth(
  config: IncomingAuth | undefined,
  deps: IncomingAuthDeps = {},
): IncomingAuthenticator {
  const type = config?.type ?? "anonymous";
  const logger = (deps.logger ?? silentLogger).with({ component: "incoming-auth" });
  const metadata = (req?: Request) => protectedResourceMetadata(config, deps, req);
  const metadataResponse = (req: Request) => {
    const doc = metadata(req);
    if (!doc) return new Response("Not Found", { status: 404 });
    return Response.json(doc, { headers: { "cache-control": "public, max-age=300" } });
  };

  if (type === "anonymous") {
    logger.warn(
      "incoming auth is anonymous: every caller is accepted without credentials (development only)",
    );
    return {
      type,
      authenticate: () => Promise.resolve(ANONYMOUS_IDENTITY),
      metadata,
      metadataResponse,
      close() {},
    };
  }

  const verifier = deps.verifier ?? buildVerifier(config!, deps);
  const scopes = type === "oidc" && config?.oidcConfig?.type !== "kubernetes"
    ? config?.oidcConfig?.inline?.scopes ?? ["openid"]
    : undefined;

  return {
    type,
    async authenticate(req, signal) {
      const token = bearerToken(req);
      const resource = resourceOf(config, deps, req);
      if (token === null) {
        return unauthorizedResponse(
          resource,
          new AuthError("missing_token", "no bearer token"),
          { scopes, req },
        );
      }
      try {
        if (token === "") throw new AuthError("invalid_token", "malformed Authorization header");
        return await verifier.verify(token, signal);
      } catch (err) {
        const failure = err instanceof AuthError
          ? err
          : new AuthError("unavailable", "token verification failed unexpectedly");
        if (failure.code === "unavailable") {
          logger.warn("cannot verify tokens", { error: failure.message });
        } else {
          logger.debug("rejected a token", { reason: failure.message });
        }
        return unauthorizedResponse(resource, failure, { scopes, req });
      }
    },
    metadata,
    metadataResponse,
    close() {
      (verifier as { close?(): void }).close?.();
    },
  };
}

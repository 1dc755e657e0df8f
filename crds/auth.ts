/**
 * Incoming (client → vmcp) and outgoing (vmcp → backend) authentication schemas, shared by
 * the VirtualMCPServer CRD, MCPExternalAuthConfig and the standalone proxy config.
 * @module
 */
import { z } from "zod";
import { duration, LocalObjectRefSchema, SecretKeyRefSchema } from "./common.ts";

/** Asymmetric JWS algorithms vmcp accepts for incoming tokens (`none` and HS* never). */
export const JWS_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
] as const;

export const OidcInlineSchema = z.strictObject({
  issuer: z.string().url().describe("OIDC issuer URL; must equal the token's iss claim."),
  audience: z.string().min(1).optional().describe(
    "Expected aud claim. Strongly recommended; tokens for other audiences are rejected.",
  ),
  jwksUrl: z.string().url().optional().describe(
    "JWKS URL. Empty: discovered from {issuer}/.well-known/openid-configuration.",
  ),
  clientId: z.string().optional().describe("OAuth client id of vmcp at the identity provider."),
  clientSecretRef: SecretKeyRefSchema.optional().describe(
    "Secret holding the OAuth client secret (never copied into the ConfigMap).",
  ),
  clientSecretEnv: z.string().optional().describe(
    "Standalone/rendered form: environment variable holding the client secret.",
  ),
  allowedAlgorithms: z.array(
    z.enum(JWS_ALGORITHMS),
  )
    .optional().describe(
      "Accepted JWS algorithms. Default: RS256, ES256, PS256 families and EdDSA.",
    ),
  clockSkew: duration("Tolerated clock skew for exp/nbf.").default("30s"),
  scopes: z.array(z.string()).optional().describe(
    "Scopes advertised in the protected-resource metadata (default [openid]).",
  ),
});

export const KubernetesTokenSchema = z.strictObject({
  audiences: z.array(z.string()).optional().describe(
    "Audiences the service-account token must carry (TokenReview spec.audiences). Empty: the API server's default.",
  ),
  audience: z.string().optional().describe("Single-audience shorthand (seed-era field)."),
  issuer: z.string().optional().describe("Informational: issuer of the service-account tokens."),
  serviceAccount: z.string().optional().describe("Accept only this service account (name)."),
  namespace: z.string().optional().describe("Accept only service accounts of this namespace."),
});

export const OidcConfigSchema = z.strictObject({
  type: z.enum(["inline", "kubernetes"]).default("inline").describe(
    "Where the OIDC settings come from: inline, or kubernetes (service-account tokens via TokenReview).",
  ),
  inline: OidcInlineSchema.optional().describe("Inline OIDC provider settings (type inline)."),
  kubernetes: KubernetesTokenSchema.optional().describe(
    "Service-account token settings (type kubernetes).",
  ),
  resourceUrl: z.string().url().optional().describe(
    "Public URL of this MCP endpoint for RFC 9728 protected-resource metadata. Default: the service URL.",
  ),
});

export const IncomingAuthSchema = z.strictObject({
  type: z.enum(["anonymous", "oidc", "kubernetes"]).default("anonymous").describe(
    "How clients authenticate: anonymous (development only), oidc, or kubernetes service-account tokens.",
  ),
  oidcConfig: OidcConfigSchema.optional().describe("OIDC settings; required for type oidc."),
  kubernetes: KubernetesTokenSchema.optional().describe("Settings for type kubernetes."),
}).describe("Client → vmcp authentication. Omitted means anonymous (reported as a warning).");
export type IncomingAuth = z.infer<typeof IncomingAuthSchema>;

export const HeaderInjectionSchema = z.strictObject({
  headerName: z.string().min(1).regex(
    /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/,
    "must be an HTTP header name",
  )
    .describe("Header sent to the backend."),
  valueSecretRef: SecretKeyRefSchema.optional().describe("Secret holding the header value."),
  valueEnv: z.string().optional().describe(
    "Environment variable holding the header value (standalone and rendered configs).",
  ),
});

export const TokenExchangeSchema = z.strictObject({
  tokenUrl: z.string().url().describe("RFC 8693 token endpoint."),
  clientId: z.string().optional().describe("Client id used to authenticate at the token endpoint."),
  clientSecretRef: SecretKeyRefSchema.optional().describe("Secret holding the client secret."),
  clientSecretEnv: z.string().optional().describe(
    "Environment variable holding the client secret (standalone and rendered configs).",
  ),
  audience: z.string().min(1).describe("Audience requested for the backend token."),
  scopes: z.array(z.string()).optional().describe("Scopes requested for the backend token."),
  subjectTokenType: z.string().optional().describe(
    "Type of the caller's token: access_token (default), id_token, jwt, or a full URN.",
  ),
  externalTokenHeaderName: z.string().optional().describe(
    "Send the exchanged token in this header instead of Authorization: Bearer.",
  ),
});

export const BackendAuthStrategySchema = z.strictObject({
  type: z.enum([
    "discovered",
    "unauthenticated",
    "externalAuthConfigRef",
    "external_auth_config_ref",
    "headerInjection",
    "tokenExchange",
  ]).describe(
    "discovered: use the backend's own externalAuthConfigRef; externalAuthConfigRef: use the named MCPExternalAuthConfig; unauthenticated, headerInjection, tokenExchange: inline strategies.",
  ),
  externalAuthConfigRef: LocalObjectRefSchema.optional().describe(
    "The MCPExternalAuthConfig to use (type externalAuthConfigRef).",
  ),
  headerInjection: HeaderInjectionSchema.optional().describe("Settings for type headerInjection."),
  tokenExchange: TokenExchangeSchema.optional().describe("Settings for type tokenExchange."),
});
export type BackendAuthStrategy = z.infer<typeof BackendAuthStrategySchema>;

export const OutgoingAuthSchema = z.strictObject({
  source: z.enum(["discovered", "inline", "mixed"]).default("discovered").describe(
    "discovered: from each backend's externalAuthConfigRef; inline: only default/backends below; mixed: discovered, with backends entries overriding.",
  ),
  default: BackendAuthStrategySchema.optional().describe(
    "Strategy for backends with no explicit or discovered entry (default unauthenticated).",
  ),
  backends: z.record(z.string(), BackendAuthStrategySchema).optional().describe(
    "Per-backend strategies keyed by backend name.",
  ),
}).describe("vmcp → backend authentication.");
export type OutgoingAuth = z.infer<typeof OutgoingAuthSchema>;

export const TokenCacheSchema = z.strictObject({
  provider: z.enum(["memory", "redis"]).default("memory").describe(
    "Where exchanged tokens are cached.",
  ),
  memory: z.strictObject({
    maxEntries: z.number().int().min(1).default(1000).describe("Maximum cached tokens (LRU)."),
    ttlOffset: duration("Refresh this long before a token expires.").default("5m"),
  }).optional().describe("Settings for the memory provider."),
  redis: z.strictObject({
    address: z.string().min(1).describe("Redis host:port."),
    db: z.number().int().min(0).default(0).describe("Redis database number."),
    keyPrefix: z.string().default("vmcp:tokens:").describe("Prefix of every cache key."),
    passwordRef: SecretKeyRefSchema.optional().describe("Secret holding the Redis password."),
    passwordEnv: z.string().optional().describe("Environment variable holding the Redis password."),
    tls: z.boolean().default(false).describe("Connect to Redis over TLS."),
    encryptionKeyRef: SecretKeyRefSchema.optional().describe(
      "Secret holding a base64 32-byte key; cached tokens are AES-GCM encrypted at rest.",
    ),
    encryptionKeyEnv: z.string().optional().describe(
      "Environment variable holding the base64 32-byte encryption key.",
    ),
    ttlOffset: duration("Refresh this long before a token expires.").default("5m"),
  }).optional().describe("Settings for the redis provider; required when provider is redis."),
}).describe("Cache for exchanged backend tokens.");
export type TokenCache = z.infer<typeof TokenCacheSchema>;

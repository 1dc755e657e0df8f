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
    "Expected aud claim; tokens for other audiences are rejected. Default: oidcConfig.resourceUrl (in a VirtualMCPServer: the service URL); a standalone config without resourceUrl or server.publicUrl must set it.",
  ),
  jwksUrl: z.string().url().optional().describe(
    "JWKS URL. Empty: discovered from {issuer}/.well-known/openid-configuration.",
  ),
  introspectionUrl: z.string().url().optional().describe(
    "RFC 7662 token introspection endpoint. Bearer tokens that are not JWTs (opaque tokens) are posted there with clientId and the client secret (HTTP Basic); active false is refused, answers are cached up to 60s and never past exp. Needs clientId and clientSecretRef (standalone: clientSecretEnv).",
  ),
  clientId: z.string().optional().describe("OAuth client id of vmcp at the identity provider."),
  clientSecret: z.string().optional().describe(
    "Not supported (seed-era plain-text secret): put the secret in a Secret and set clientSecretRef (standalone: clientSecretEnv).",
  ),
  clientSecretRef: SecretKeyRefSchema.optional().describe(
    "Secret holding the OAuth client secret (never copied into the ConfigMap; the proxy gets it as env VMCP_OIDC_CLIENT_SECRET).",
  ),
  clientSecretEnv: z.string().optional().describe(
    "Standalone/rendered form: environment variable holding the client secret.",
  ),
  allowedAlgorithms: z.array(
    z.enum(JWS_ALGORITHMS),
  ).min(1)
    .optional().describe(
      "Accepted JWS algorithms. Default: RS256, ES256, PS256 families and EdDSA.",
    ),
  clockSkew: duration("Tolerated clock skew for exp/nbf.", { min: "0s", max: "10m" }).default(
    "30s",
  ),
  scopes: z.array(z.string()).optional().describe(
    "Scopes advertised in the protected-resource metadata (default [openid]).",
  ),
});

export const KubernetesTokenSchema = z.strictObject({
  audiences: z.array(z.string()).optional().describe(
    "Audiences the service-account token must carry (TokenReview spec.audiences); one match is enough. Unset or empty: \"toolhive\", never the API server's default audience, so a pod's default service-account token (which also works against the Kubernetes API) is refused with 401. Mint client tokens with that audience, e.g. kubectl create token <sa> --audience toolhive.",
  ),
  audience: z.string().optional().describe("Single-audience shorthand (seed-era field)."),
  issuer: z.string().optional().describe("Informational: issuer of the service-account tokens."),
  serviceAccount: z.string().optional().describe("Accept only this service account (name)."),
  namespace: z.string().optional().describe("Accept only service accounts of this namespace."),
  jwksUrl: z.string().optional().describe(
    "Not supported: service-account tokens are checked by TokenReview. To verify them by signature instead, use oidcConfig.type inline with the cluster's issuer and jwksUrl.",
  ),
  introspectionUrl: z.string().optional().describe(
    "Not supported: service-account tokens are checked by TokenReview (the Kubernetes form of introspection). For an RFC 7662 endpoint use oidcConfig.type inline with introspectionUrl.",
  ),
});

export const OidcConfigSchema = z.strictObject({
  type: z.enum(["inline", "kubernetes", "configMap"]).default("inline").describe(
    "Where the OIDC settings come from: inline, kubernetes (service-account tokens via TokenReview), or configMap (a ConfigMap in the same namespace holds the inline settings; cluster only).",
  ),
  inline: OidcInlineSchema.optional().describe("Inline OIDC provider settings (type inline)."),
  kubernetes: KubernetesTokenSchema.optional().describe(
    "Service-account token settings (type kubernetes).",
  ),
  configMap: z.strictObject({
    name: z.string().min(1).describe("Name of the ConfigMap (same namespace)."),
    key: z.string().min(1).default("oidc.json").describe(
      "Key holding the settings: JSON or YAML with the fields of oidcConfig.inline (issuer, audience, jwksUrl, introspectionUrl, clientId, clientSecretRef, allowedAlgorithms, clockSkew, scopes).",
    ),
  }).optional().describe(
    "ConfigMap holding the OIDC settings (type configMap). The controller renders them as inline settings and re-renders when the ConfigMap changes. Kubernetes only: a standalone config uses inline.",
  ),
  resourceUrl: z.string().url().optional().describe(
    "Public URL of this MCP endpoint: the RFC 9728 resource, and the expected audience when inline.audience is unset. Default: in a cluster, the VirtualMCPServer's status.url + /mcp (http://vmcp-<name>.<namespace>.svc.cluster.local:4483/mcp); standalone, server.publicUrl, else the request's origin + /mcp.",
  ),
});

export const AuthzConfigSchema = z.strictObject({
  type: z.enum(["inline", "configMap"]).default("inline").describe(
    "Where the Cedar policies come from: inline (in this spec) or configMap (a ConfigMap in the same namespace; cluster only).",
  ),
  inline: z.strictObject({
    policies: z.array(z.string().min(1)).min(1).describe(
      'Cedar policies, one per entry, with ToolHive\'s entity model so its policies work unchanged: principal Client::"<sub>" (token claims as claim_<name> attributes, also in context; members of THVGroup::"<g>" for each entry of the first of the groups, roles or cognito:groups claims that is an array), actions Action::"call_tool", Action::"get_prompt", Action::"read_resource", resources Tool::"<advertised name>", Prompt::"<advertised name>", Resource::"<uri>" (ToolHive\'s sanitized id, e.g. Resource::"file____data_readme_txt", names the same resource) with attributes name, backend, operation, feature, uri, a tool\'s annotation hints such as readOnlyHint, and the call\'s or prompt\'s arguments as arg_<name> (also in context); parents Backend::"<backend>" and MCP::"<server name>". Whole numbers are Cedar longs, others decimals. One decision filters tools/list, prompts/list and resources/list per caller and gates the call; resources/templates/list shows a template when read_resource on Resource::"<uriTemplate>" is allowed (attributes uri, name and uriTemplate: the template). Nothing is allowed unless a policy permits it; a forbid always wins.',
    ),
    entitiesJson: z.string().default("[]").describe(
      "Cedar entities as JSON text (an array of {uid, attrs, parents}), e.g. THVGroup hierarchies.",
    ),
    groupClaimName: z.string().min(1).optional().describe(
      'Claim holding the caller\'s groups (its group-entity parents), e.g. "https://example.com/groups" or a dotted path such as "realm_access.roles" (a top-level claim of that exact name wins). When the token lacks it, the groups, roles and cognito:groups claims are tried, as when unset.',
    ),
    roleClaimName: z.string().min(1).optional().describe(
      "Claim holding the caller's roles (same forms as groupClaimName); its entries become parents too, besides the groups. Unset: no roles.",
    ),
    groupEntityType: z.string().min(1).optional().describe(
      'Cedar entity type of the group and role parents (default THVGroup), a plain Cedar identifier such as "Group" (no "::" namespace).',
    ),
  }).optional().describe("The policies (type inline)."),
  configMap: z.strictObject({
    name: z.string().min(1).describe("Name of the ConfigMap (same namespace)."),
    key: z.string().min(1).default("authz.json").describe(
      'Key holding ToolHive\'s authz file: JSON or YAML {version: "1.0", type: "cedarv1", cedar: {policies: [...], entities_json: "[]", group_claim_name, role_claim_name, group_entity_type}} (the last three optional, as inline.groupClaimName, roleClaimName, groupEntityType).',
    ),
  }).optional().describe(
    "ConfigMap holding the policies (type configMap). The controller renders them as inline policies and re-renders when the ConfigMap changes; the proxy applies them without dropping sessions. A missing ConfigMap sets AuthConfigured False with reason AuthzConfigMapNotFound; a missing key or content that is not valid policies, AuthzConfigMapInvalid. Kubernetes only: a standalone config uses inline.",
  ),
}).describe(
  "Cedar authorization of every tools/call, prompts/get and resources/read, for both protocol eras; tools/list, prompts/list, resources/list and resources/templates/list show each caller only what it may use, and a refused request is answered as one for a name that does not exist. Composite tools are authorized as themselves and each step again.",
);
export type AuthzConfig = z.infer<typeof AuthzConfigSchema>;

export const IncomingAuthSchema = z.strictObject({
  type: z.enum(["anonymous", "oidc", "kubernetes"]).default("anonymous").describe(
    "How clients authenticate: anonymous (development only), oidc, or kubernetes service-account tokens.",
  ),
  oidcConfig: OidcConfigSchema.optional().describe("OIDC settings; required for type oidc."),
  kubernetes: KubernetesTokenSchema.optional().describe("Settings for type kubernetes."),
  authzConfig: AuthzConfigSchema.optional(),
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
  subjectTokenType: z.string().regex(
    /^(access_token|id_token|jwt|urn:.+)$/,
    "must be access_token, id_token, jwt or a token-type URN (urn:…)",
  ).optional().describe(
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
    ttlOffset: duration(
      "Refresh this long before a token expires (at most half the token's lifetime).",
      { min: "0s", max: "24h" },
    ).default("5m"),
  }).optional().describe("Settings for the memory provider; an error with provider redis."),
  redis: z.strictObject({
    address: z.string().min(1).describe("Redis host:port."),
    db: z.number().int().min(0).default(0).describe("Redis database number."),
    keyPrefix: z.string().default("vmcp:tokens:").describe("Prefix of every cache key."),
    passwordRef: SecretKeyRefSchema.optional().describe("Secret holding the Redis password."),
    passwordEnv: z.string().optional().describe("Environment variable holding the Redis password."),
    tls: z.boolean().default(false).describe("Connect to Redis over TLS."),
    encryptionKeyRef: SecretKeyRefSchema.optional().describe(
      "Secret holding a base64 32-byte key; cached tokens are AES-GCM encrypted at rest. Provider redis needs this or encryptionKeyEnv (standalone configs: encryptionKeyEnv).",
    ),
    encryptionKeyEnv: z.string().optional().describe(
      "Environment variable holding the base64 32-byte encryption key.",
    ),
    ttlOffset: duration(
      "Refresh this long before a token expires (at most half the token's lifetime).",
      { min: "0s", max: "24h" },
    ).default("5m"),
  }).optional().describe(
    "Settings for the redis provider; required when provider is redis, an error with provider memory (set provider: redis).",
  ),
}).describe("Cache for exchanged backend tokens.");
export type TokenCache = z.infer<typeof TokenCacheSchema>;

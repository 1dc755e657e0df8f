/**
 * Outgoing (vmcp → backend) authentication strategies: the runtime config shape.
 *
 * Field names follow `crds/auth.ts` (`BackendAuthStrategySchema`) after Secret references are
 * resolved into environment variables: `headerInjection.valueEnv`, `tokenExchange.clientSecretEnv`.
 * Canonical `type` values are camelCase (`unauthenticated`, `headerInjection`,
 * `tokenExchange`); `parseBackendAuthStrategy` also accepts ToolHive's runtime spellings
 * (`header_injection`, `token_exchange`, `headerValue`, `headerValueEnv`).
 * Literal `value`/`clientSecret` exist for tests and local files.
 * @module
 */

import { z } from "zod";

export const TOKEN_TYPE_ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";
export const TOKEN_TYPE_ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";
export const TOKEN_TYPE_JWT = "urn:ietf:params:oauth:token-type:jwt";
export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";

const SHORT_TOKEN_TYPES: Record<string, string> = {
  access_token: TOKEN_TYPE_ACCESS_TOKEN,
  id_token: TOKEN_TYPE_ID_TOKEN,
  jwt: TOKEN_TYPE_JWT,
};

/**
 * Expands `access_token`, `id_token` and `jwt` to their RFC 8693 URNs; a URN passes through;
 * undefined means access token. Throws a `RangeError` naming the value otherwise.
 */
export function normalizeSubjectTokenType(value: string | undefined): string {
  if (value === undefined || value === "") return TOKEN_TYPE_ACCESS_TOKEN;
  const short = SHORT_TOKEN_TYPES[value];
  if (short) return short;
  if (value.startsWith("urn:")) return value;
  throw new RangeError(
    `Invalid tokenExchange.subjectTokenType "${value}": expected access_token, id_token, jwt or a token-type URN`,
  );
}

/** RFC 7230 header-name token. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Headers a strategy may not set: they belong to the transport or the MCP protocol. */
const FORBIDDEN_HEADERS = new Set([
  "host",
  "content-length",
  "content-type",
  "transfer-encoding",
  "connection",
  "upgrade",
  "te",
  "trailer",
  "keep-alive",
  "proxy-connection",
  "mcp-session-id",
  "mcp-protocol-version",
]);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const unauthenticatedStrategySchema = z.object({ type: z.literal("unauthenticated") });

export const headerInjectionStrategySchema = z.object({
  type: z.literal("headerInjection"),
  headerInjection: z.object({
    headerName: z.string().regex(HEADER_NAME, "must be an HTTP header name").refine(
      (n) => !FORBIDDEN_HEADERS.has(n.toLowerCase()),
      "must not be a transport or MCP protocol header",
    ),
    value: z.string().optional(),
    valueEnv: z.string().regex(ENV_NAME, "must be an environment variable name").optional(),
  }).refine(
    (h) => (h.value === undefined) !== (h.valueEnv === undefined),
    "exactly one of value and valueEnv is required (a valueSecretRef must be resolved to valueEnv first)",
  ),
});

export const tokenExchangeStrategySchema = z.object({
  type: z.literal("tokenExchange"),
  tokenExchange: z.object({
    tokenUrl: z.url({ protocol: /^https?$/ }),
    clientId: z.string().min(1).optional(),
    clientSecret: z.string().min(1).optional(),
    clientSecretEnv: z.string().regex(ENV_NAME, "must be an environment variable name")
      .optional(),
    audience: z.string().min(1).optional(),
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, "must be a scope token"))
      .optional(),
    subjectTokenType: z.string().optional(),
    /** Send the obtained token as `<name>: Bearer <token>` instead of `Authorization`. */
    externalTokenHeaderName: z.string().regex(HEADER_NAME, "must be an HTTP header name").refine(
      (n) => !FORBIDDEN_HEADERS.has(n.toLowerCase()),
      "must not be a transport or MCP protocol header",
    ).optional(),
  }).refine(
    (t) => !(t.clientSecret !== undefined && t.clientSecretEnv !== undefined),
    "clientSecret and clientSecretEnv are mutually exclusive",
  ).refine(
    (t) => t.clientId !== undefined || (t.clientSecret === undefined && !t.clientSecretEnv),
    "a client secret requires clientId",
  ).refine((t) => {
    try {
      normalizeSubjectTokenType(t.subjectTokenType);
      return true;
    } catch {
      return false;
    }
  }, "subjectTokenType must be access_token, id_token, jwt or a token-type URN"),
});

/** A backend's outgoing auth strategy (canonical camelCase `type`). */
export const backendAuthStrategySchema = z.discriminatedUnion("type", [
  unauthenticatedStrategySchema,
  headerInjectionStrategySchema,
  tokenExchangeStrategySchema,
]);

export type UnauthenticatedStrategy = z.infer<typeof unauthenticatedStrategySchema>;
export type HeaderInjectionStrategy = z.infer<typeof headerInjectionStrategySchema>;
export type TokenExchangeStrategy = z.infer<typeof tokenExchangeStrategySchema>;
export type BackendAuthStrategy = z.infer<typeof backendAuthStrategySchema>;
export type BackendAuthStrategyType = BackendAuthStrategy["type"];

const TYPE_ALIASES: Record<string, BackendAuthStrategyType> = {
  header_injection: "headerInjection",
  token_exchange: "tokenExchange",
};

/**
 * Validates a strategy, accepting ToolHive's snake_case `type` spellings. Throws a
 * `TypeError` whose message names `field` and every problem found.
 */
export function parseBackendAuthStrategy(input: unknown, field = "auth"): BackendAuthStrategy {
  let value: unknown = input;
  if (value && typeof value === "object" && "type" in value) {
    const t = (value as { type: unknown }).type;
    if (typeof t === "string" && TYPE_ALIASES[t]) value = { ...value, type: TYPE_ALIASES[t] };
    const h = (value as { headerInjection?: Record<string, unknown> }).headerInjection;
    if (h && typeof h === "object" && ("headerValue" in h || "headerValueEnv" in h)) {
      const { headerValue, headerValueEnv, ...rest } = h;
      value = {
        ...(value as Record<string, unknown>),
        headerInjection: {
          ...(headerValue === undefined ? {} : { value: headerValue }),
          ...(headerValueEnv === undefined ? {} : { valueEnv: headerValueEnv }),
          ...rest,
        },
      };
    }
  }
  const result = backendAuthStrategySchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) =>
    `${[field, ...i.path.map(String)].join(".")}: ${i.message}`
  );
  throw new TypeError(
    `Invalid outgoing auth strategy (${
      problems.join("; ")
    }); type must be one of unauthenticated, headerInjection, tokenExchange`,
  );
}

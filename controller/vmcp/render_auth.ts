/**
 * Resolves the auth parts of a VirtualMCPServer for the rendered proxy config:
 * `externalAuthConfigRef` strategies become inline strategies, and every Secret reference
 * becomes an environment variable name (the Deployment fills it from the Secret).
 * @module
 */
import type {
  BackendAuthStrategy,
  IncomingAuth,
  OutgoingAuth,
  TokenCache,
} from "../../crds/auth.ts";
import type { MCPExternalAuthConfigSpec } from "../../crds/backends.ts";
import type { Problem } from "../../core/config/problems.ts";
import type { SecretEnvCollector } from "./secret_env.ts";

export interface AuthContext {
  authConfigs: ReadonlyMap<string, MCPExternalAuthConfigSpec>;
  env: SecretEnvCollector;
  problems: Problem[];
}

type Json = Record<string, unknown>;

function headerInjection(
  h: NonNullable<BackendAuthStrategy["headerInjection"]>,
  parts: string[],
  ctx: AuthContext,
): Json {
  const { valueSecretRef, ...rest } = h;
  if (!valueSecretRef) return { ...rest };
  return { ...rest, valueEnv: ctx.env.add([...parts, "HEADER_VALUE"], valueSecretRef) };
}

function tokenExchange(
  t: NonNullable<BackendAuthStrategy["tokenExchange"]>,
  parts: string[],
  ctx: AuthContext,
): Json {
  const { clientSecretRef, ...rest } = t;
  if (!clientSecretRef) return { ...rest };
  return { ...rest, clientSecretEnv: ctx.env.add([...parts, "CLIENT_SECRET"], clientSecretRef) };
}

/** An MCPExternalAuthConfig as an inline strategy (secrets as env names). */
export function convertExternalAuthConfig(
  spec: MCPExternalAuthConfigSpec,
  parts: string[],
  ctx: AuthContext,
): Json {
  const out: Json = { type: spec.type };
  if (spec.type === "headerInjection" && spec.headerInjection) {
    out.headerInjection = headerInjection(spec.headerInjection, parts, ctx);
  }
  if (spec.type === "tokenExchange" && spec.tokenExchange) {
    out.tokenExchange = tokenExchange(spec.tokenExchange, parts, ctx);
  }
  return out;
}

/** Looks up a referenced MCPExternalAuthConfig; records a problem at `path` when missing. */
export function lookupAuthConfig(
  name: string,
  path: string,
  ctx: AuthContext,
): MCPExternalAuthConfigSpec | undefined {
  const spec = ctx.authConfigs.get(name);
  if (!spec) {
    ctx.problems.push({
      path,
      message: `MCPExternalAuthConfig "${name}" not found in this namespace`,
      value: name,
    });
  }
  return spec;
}

/**
 * One strategy of `outgoingAuth` (default or a backends entry) with references resolved.
 * `parts` name the env variables (`DEFAULT`, or the backend name).
 */
export function resolveStrategy(
  s: BackendAuthStrategy,
  parts: string[],
  path: string,
  ctx: AuthContext,
): Json {
  if (s.type === "externalAuthConfigRef" || s.type === "external_auth_config_ref") {
    const name = s.externalAuthConfigRef?.name;
    if (!name) {
      ctx.problems.push({
        path: `${path}.externalAuthConfigRef`,
        message: `Required for type "${s.type}"`,
      });
      return { type: "unauthenticated" };
    }
    const spec = lookupAuthConfig(name, `${path}.externalAuthConfigRef.name`, ctx);
    return spec ? convertExternalAuthConfig(spec, parts, ctx) : { type: "unauthenticated" };
  }
  const out: Json = { type: s.type };
  if (s.headerInjection) out.headerInjection = headerInjection(s.headerInjection, parts, ctx);
  if (s.tokenExchange) out.tokenExchange = tokenExchange(s.tokenExchange, parts, ctx);
  return out;
}

/** `outgoingAuth` with every reference resolved. */
export function resolveOutgoingAuth(oa: OutgoingAuth, ctx: AuthContext): Json {
  const out: Json = { source: oa.source };
  if (oa.default) {
    out.default = resolveStrategy(oa.default, ["DEFAULT"], "outgoingAuth.default", ctx);
  }
  if (oa.backends) {
    const backends: Json = {};
    for (const name of Object.keys(oa.backends).sort()) {
      backends[name] = resolveStrategy(
        oa.backends[name]!,
        [name],
        `outgoingAuth.backends.${name}`,
        ctx,
      );
    }
    out.backends = backends;
  }
  return out;
}

/**
 * `incomingAuth` with the OIDC client secret as `VMCP_OIDC_CLIENT_SECRET` and, for `oidc`,
 * `oidcConfig.resourceUrl` defaulted to `serviceResourceUrl` (`status.url` + `/mcp`): the
 * RFC 9728 resource, and the expected audience when `inline.audience` is unset.
 */
export function resolveIncomingAuth(
  ia: IncomingAuth,
  ctx: AuthContext,
  serviceResourceUrl?: string,
): Json {
  const out = structuredClone(ia) as IncomingAuth;
  const oc = out.oidcConfig;
  if (out.type === "oidc" && oc && !oc.resourceUrl && serviceResourceUrl) {
    oc.resourceUrl = serviceResourceUrl;
  }
  const inline = oc?.inline;
  if (!oc || !inline?.clientSecretRef) return out as Json;
  const { clientSecretRef, ...rest } = inline;
  const clientSecretEnv = ctx.env.add([], clientSecretRef, "VMCP_OIDC_CLIENT_SECRET");
  return { ...out, oidcConfig: { ...oc, inline: { ...rest, clientSecretEnv } } };
}

/** `tokenCache` with the Redis password and encryption key as env names. */
export function resolveTokenCache(tc: TokenCache, ctx: AuthContext): Json {
  if (!tc.redis) return structuredClone(tc) as Json;
  const { passwordRef, encryptionKeyRef, ...redis } = tc.redis;
  const out: Json = { ...redis };
  if (passwordRef) {
    out.passwordEnv = ctx.env.add([], passwordRef, "VMCP_TOKEN_CACHE_REDIS_PASSWORD");
  }
  if (encryptionKeyRef) {
    out.encryptionKeyEnv = ctx.env.add([], encryptionKeyRef, "VMCP_TOKEN_CACHE_ENCRYPTION_KEY");
  }
  return { ...tc, redis: out };
}

/** `sessionStorage` with the Redis password as `VMCP_SESSION_REDIS_PASSWORD`. */
export function resolveSessionStorage(
  ss: { passwordRef?: { name: string; key: string } | undefined } & Json,
  ctx: AuthContext,
): Json {
  const { passwordRef, ...rest } = ss;
  if (!passwordRef) return { ...rest };
  return { ...rest, passwordEnv: ctx.env.add([], passwordRef, "VMCP_SESSION_REDIS_PASSWORD") };
}

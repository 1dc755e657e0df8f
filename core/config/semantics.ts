/**
 * Cross-field rules that a schema alone cannot say, shared by the controller (reported as
 * conditions) and the proxy (reported at load, exit 2).
 * @module
 */
import type { Problem } from "./problems.ts";
import { seedAggregationProblems, seedIncomingProblems } from "./seed_fields.ts";
import type { IncomingAuth, OutgoingAuth, TokenCache } from "../../crds/auth.ts";
import type { Aggregation } from "../../crds/aggregation.ts";
import type { BackendAuthStrategy } from "../../crds/auth.ts";
import type { RateLimiting } from "../../crds/rate_limit.ts";
import { rateLimitProblems } from "./rate_limit.ts";

export interface SemanticInput {
  incomingAuth?: IncomingAuth | undefined;
  outgoingAuth?: OutgoingAuth | undefined;
  aggregation?: Aggregation | undefined;
  tokenCache?: TokenCache | undefined;
  sessionStorage?: {
    provider: string;
    address?: string | undefined;
    passwordRef?: unknown;
  } | undefined;
  compositeTools?: { name: string }[] | undefined;
  operational?: {
    inputRequired?: { stateKeyRef?: unknown; previousStateKeyRef?: unknown } | undefined;
  } | undefined;
  optimizer?: { embeddingApiKeyRef?: unknown } | undefined;
  /** Standalone configs only: `publicUrl` is the default OIDC audience. */
  server?: { publicUrl?: string | undefined } | undefined;
  rateLimiting?: RateLimiting | undefined;
}

/** `host:port`, `[v6]:port` or `host`, as the proxy's Redis client parses it. */
const REDIS_ADDRESS = /^(\[[^\]]+\]|[^:\[\]]+)(:(\d{1,5}))?$/;

function redisAddressProblem(address: string | undefined, path: string): Problem[] {
  if (address === undefined) return [];
  const m = REDIS_ADDRESS.exec(address);
  const port = m?.[3] === undefined ? 6379 : Number(m[3]);
  if (m && port >= 1 && port <= 65535) return [];
  return [{ path, message: 'Expected host:port, e.g. "redis:6379"', value: address }];
}

function secretRefProblem(ref: unknown, path: string, instead: string): Problem[] {
  if (ref === undefined) return [];
  return [{
    path,
    message: `Secret references need Kubernetes; use ${instead} in a standalone config`,
    value: ref,
  }];
}

/** Checks one inline backend auth strategy; `standalone` forbids Secret references. */
export function checkStrategy(
  s: BackendAuthStrategy,
  path: string,
  standalone: boolean,
): Problem[] {
  const out: Problem[] = [];
  if (
    (s.type === "externalAuthConfigRef" || s.type === "external_auth_config_ref") &&
    !s.externalAuthConfigRef
  ) {
    out.push({ path: `${path}.externalAuthConfigRef`, message: `Required for type "${s.type}"` });
  }
  if (s.type === "headerInjection") {
    const h = s.headerInjection;
    if (!h) {
      out.push({ path: `${path}.headerInjection`, message: 'Required for type "headerInjection"' });
    } else {
      const n = (h.valueSecretRef ? 1 : 0) + (h.valueEnv ? 1 : 0);
      if (n !== 1) {
        out.push({
          path: `${path}.headerInjection`,
          message: "Exactly one of valueSecretRef or valueEnv must be set",
        });
      }
      if (standalone && h.valueSecretRef) {
        out.push({
          path: `${path}.headerInjection.valueSecretRef`,
          message: "Secret references need Kubernetes; use valueEnv in a standalone config",
          value: h.valueSecretRef,
        });
      }
    }
  }
  if (s.type === "tokenExchange") {
    const t = s.tokenExchange;
    if (!t) {
      out.push({ path: `${path}.tokenExchange`, message: 'Required for type "tokenExchange"' });
    } else if (standalone && t.clientSecretRef) {
      out.push({
        path: `${path}.tokenExchange.clientSecretRef`,
        message: "Secret references need Kubernetes; use clientSecretEnv in a standalone config",
        value: t.clientSecretRef,
      });
    }
  }
  return out;
}

/** All cross-field problems of a spec or config. `backendNames` enables name checks. */
export function checkSemantics(
  spec: SemanticInput,
  options: { standalone: boolean; backendNames?: string[] },
): Problem[] {
  const out: Problem[] = [];
  out.push(...incomingProblems(spec, options.standalone));
  out.push(...seedIncomingProblems(spec.incomingAuth, options.standalone));
  out.push(...seedAggregationProblems(spec.aggregation));
  const oa = spec.outgoingAuth;
  if (oa?.default) {
    if (oa.default.type === "discovered") {
      out.push({
        path: "outgoingAuth.default.type",
        message:
          'The default cannot be "discovered"; allowed: unauthenticated, externalAuthConfigRef, headerInjection, tokenExchange',
        value: "discovered",
      });
    }
    out.push(...checkStrategy(oa.default, "outgoingAuth.default", options.standalone));
  }
  for (const [name, s] of Object.entries(oa?.backends ?? {})) {
    out.push(...checkStrategy(s, `outgoingAuth.backends.${name}`, options.standalone));
    if (options.backendNames && !options.backendNames.includes(name)) {
      out.push({
        path: `outgoingAuth.backends.${name}`,
        message: `No backend named "${name}"; known: ${
          options.backendNames.join(", ") || "(none)"
        }`,
        value: name,
      });
    }
  }
  const ag = spec.aggregation;
  if (
    ag?.conflictResolution === "priority" && !(ag.conflictResolutionConfig.priorityOrder?.length)
  ) {
    out.push({
      path: "aggregation.conflictResolutionConfig.priorityOrder",
      message: 'Required (non-empty) for conflictResolution "priority"',
    });
  }
  const seen = new Set<string>();
  (ag?.tools ?? []).forEach((t, i) => {
    if (seen.has(t.workload)) {
      out.push({
        path: `aggregation.tools[${i}].workload`,
        message: "Duplicate workload entry",
        value: t.workload,
      });
    }
    seen.add(t.workload);
    if (options.backendNames && !options.backendNames.includes(t.workload)) {
      out.push({
        path: `aggregation.tools[${i}].workload`,
        message: `No backend named "${t.workload}"; known: ${
          options.backendNames.join(", ") || "(none)"
        }`,
        value: t.workload,
      });
    }
    for (const [orig, o] of Object.entries(t.overrides ?? {})) {
      if (o.name === undefined && o.description === undefined) {
        out.push({
          path: `aggregation.tools[${i}].overrides.${orig}`,
          message: "An override needs a name or a description",
        });
      }
    }
  });
  out.push(...tokenCacheProblems(spec.tokenCache, options.standalone));
  out.push(...sessionStorageProblems(spec.sessionStorage, options.standalone));
  out.push(...rateLimitProblems(spec.rateLimiting, spec.incomingAuth?.type));
  if (options.standalone) {
    out.push(...secretRefProblem(
      spec.optimizer?.embeddingApiKeyRef,
      "optimizer.embeddingApiKeyRef",
      "embeddingApiKeyEnv",
    ));
    const ir = spec.operational?.inputRequired;
    const env = "the environment variable VMCP_REQUEST_STATE_KEY";
    out.push(
      ...secretRefProblem(ir?.stateKeyRef, "operational.inputRequired.stateKeyRef", env),
      ...secretRefProblem(
        ir?.previousStateKeyRef,
        "operational.inputRequired.previousStateKeyRef",
        `${env}_PREVIOUS`,
      ),
    );
  }
  const names = new Set<string>();
  (spec.compositeTools ?? []).forEach((c, i) => {
    if (names.has(c.name)) {
      out.push({
        path: `compositeTools[${i}].name`,
        message: "Duplicate composite tool name",
        value: c.name,
      });
    }
    names.add(c.name);
  });
  return out;
}

function incomingProblems(spec: SemanticInput, standalone: boolean): Problem[] {
  const out: Problem[] = [];
  const ia = spec.incomingAuth;
  if (ia?.type !== "oidc") return out;
  const oc = ia.oidcConfig;
  if (!oc) return [{ path: "incomingAuth.oidcConfig", message: 'Required for type "oidc"' }];
  if (oc.type !== "inline") return out;
  const inline = oc.inline;
  if (!inline) {
    return [{
      path: "incomingAuth.oidcConfig.inline",
      message: 'Required for oidcConfig.type "inline" (issuer, audience, …)',
    }];
  }
  // The proxy falls back to resourceUrl, then (standalone) server.publicUrl, as the audience.
  // In a cluster the controller always renders resourceUrl (status.url + /mcp).
  const fallback = oc.resourceUrl ?? (standalone ? spec.server?.publicUrl : "status.url + /mcp");
  if (inline.audience === undefined && fallback === undefined) {
    out.push({
      path: "incomingAuth.oidcConfig.inline.audience",
      message: `Required unless oidcConfig.resourceUrl${
        standalone ? " or server.publicUrl" : ""
      } is set (the expected aud claim of tokens for vmcp)`,
    });
  }
  if (standalone) {
    out.push(
      ...secretRefProblem(
        inline.clientSecretRef,
        "incomingAuth.oidcConfig.inline.clientSecretRef",
        "clientSecretEnv",
      ),
    );
  }
  return out;
}

function tokenCacheProblems(tc: TokenCache | undefined, standalone: boolean): Problem[] {
  if (!tc) return [];
  const out: Problem[] = [];
  if (tc.provider === "memory" && tc.redis) {
    out.push({
      path: "tokenCache.redis",
      message:
        'Only used with provider "redis", but tokenCache.provider is "memory" (the default): set provider: redis, or remove this block',
    });
  }
  if (tc.provider !== "redis") return out;
  const r = tc.redis;
  if (!r) {
    out.push({ path: "tokenCache.redis", message: 'Required for provider "redis" (address, …)' });
    return out;
  }
  out.push(...redisAddressProblem(r.address, "tokenCache.redis.address"));
  if (standalone) {
    out.push(
      ...secretRefProblem(r.passwordRef, "tokenCache.redis.passwordRef", "passwordEnv"),
      ...secretRefProblem(
        r.encryptionKeyRef,
        "tokenCache.redis.encryptionKeyRef",
        "encryptionKeyEnv",
      ),
    );
  }
  if (r.encryptionKeyEnv === undefined && r.encryptionKeyRef === undefined) {
    out.push({
      path: standalone ? "tokenCache.redis.encryptionKeyEnv" : "tokenCache.redis.encryptionKeyRef",
      message:
        `Required for provider "redis": cached tokens are encrypted at rest (a base64 32-byte key${
          standalone ? " in this environment variable" : "; or set encryptionKeyEnv"
        })`,
    });
  }
  return out;
}

function sessionStorageProblems(
  ss: SemanticInput["sessionStorage"],
  standalone: boolean,
): Problem[] {
  if (!ss) return [];
  const out: Problem[] = [];
  if (ss.provider === "redis") {
    if (!ss.address) {
      out.push({ path: "sessionStorage.address", message: 'Required for provider "redis"' });
    }
    out.push(...redisAddressProblem(ss.address, "sessionStorage.address"));
  } else if (ss.address !== undefined) {
    out.push({
      path: "sessionStorage.address",
      message: `Only used with provider "redis", but sessionStorage.provider is "${ss.provider}"`,
      value: ss.address,
    });
  }
  if (standalone) {
    out.push(...secretRefProblem(ss.passwordRef, "sessionStorage.passwordRef", "passwordEnv"));
  }
  return out;
}

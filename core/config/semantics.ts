/**
 * Cross-field rules that a schema alone cannot say, shared by the controller (reported as
 * conditions) and the proxy (reported at load, exit 2).
 * @module
 */
import type { Problem } from "./problems.ts";
import type { IncomingAuth, OutgoingAuth, TokenCache } from "../../crds/auth.ts";
import type { Aggregation } from "../../crds/aggregation.ts";
import type { BackendAuthStrategy } from "../../crds/auth.ts";

export interface SemanticInput {
  incomingAuth?: IncomingAuth | undefined;
  outgoingAuth?: OutgoingAuth | undefined;
  aggregation?: Aggregation | undefined;
  tokenCache?: TokenCache | undefined;
  sessionStorage?: { provider: string; address?: string | undefined } | undefined;
  compositeTools?: { name: string }[] | undefined;
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
  const ia = spec.incomingAuth;
  if (ia?.type === "oidc") {
    const oc = ia.oidcConfig;
    if (!oc) out.push({ path: "incomingAuth.oidcConfig", message: 'Required for type "oidc"' });
    else if (oc.type === "inline" && !oc.inline) {
      out.push({
        path: "incomingAuth.oidcConfig.inline",
        message: 'Required for oidcConfig.type "inline" (issuer, audience, …)',
      });
    }
  }
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
  const tc = spec.tokenCache;
  if (tc?.provider === "redis" && !tc.redis) {
    out.push({ path: "tokenCache.redis", message: 'Required for provider "redis" (address, …)' });
  }
  if (spec.sessionStorage?.provider === "redis" && !spec.sessionStorage.address) {
    out.push({ path: "sessionStorage.address", message: 'Required for provider "redis"' });
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

/**
 * Seed-era VirtualMCPServer fields: the ones this project does not implement are accepted by
 * the schema only to be refused with a message that says what to use instead (nothing is
 * accepted and then ignored); the cross-field rules of the implemented ones (OIDC settings
 * from a ConfigMap, RFC 7662 introspection).
 * @module
 */
import type { Problem } from "./problems.ts";
import type { IncomingAuth } from "../../crds/auth.ts";
import type { Aggregation } from "../../crds/aggregation.ts";
import { authzProblems } from "../authz/policies.ts";

const KUBERNETES_ONLY_TOKENREVIEW =
  "service-account tokens are checked by TokenReview against the API server";

function kubernetesProblems(
  k: { jwksUrl?: string | undefined; introspectionUrl?: string | undefined } | undefined,
  path: string,
): Problem[] {
  const out: Problem[] = [];
  if (k?.jwksUrl !== undefined) {
    out.push({
      path: `${path}.jwksUrl`,
      message:
        `Not supported: ${KUBERNETES_ONLY_TOKENREVIEW}. To verify them by signature instead, use oidcConfig.type "inline" with the cluster's issuer and jwksUrl`,
      value: k.jwksUrl,
    });
  }
  if (k?.introspectionUrl !== undefined) {
    out.push({
      path: `${path}.introspectionUrl`,
      message:
        `Not supported: ${KUBERNETES_ONLY_TOKENREVIEW} (the Kubernetes form of introspection). For an RFC 7662 endpoint use oidcConfig.type "inline" with introspectionUrl, clientId and clientSecretRef`,
      value: k.introspectionUrl,
    });
  }
  return out;
}

/** Problems of the seed-era incoming-auth fields. */
export function seedIncomingProblems(
  ia: IncomingAuth | undefined,
  standalone: boolean,
): Problem[] {
  if (!ia) return [];
  const out: Problem[] = authzProblems(ia.authzConfig, "incomingAuth.authzConfig", standalone);
  const oc = ia.oidcConfig;
  out.push(...kubernetesProblems(ia.kubernetes, "incomingAuth.kubernetes"));
  if (!oc) return out;
  out.push(...kubernetesProblems(oc.kubernetes, "incomingAuth.oidcConfig.kubernetes"));
  if (oc.type === "configMap" && standalone) {
    out.push({
      path: "incomingAuth.oidcConfig.type",
      message:
        'oidcConfig.type "configMap" needs Kubernetes: in a standalone config write the settings (issuer, audience, jwksUrl, introspectionUrl, clientId, clientSecretEnv) under oidcConfig.inline and set type "inline"',
      value: "configMap",
    });
  } else if (oc.type === "configMap" && !oc.configMap) {
    out.push({
      path: "incomingAuth.oidcConfig.configMap",
      message: 'Required for oidcConfig.type "configMap" (name, and key: default oidc.json)',
    });
  } else if (oc.type === "configMap" && oc.inline) {
    out.push({
      path: "incomingAuth.oidcConfig.inline",
      message:
        'Not used with oidcConfig.type "configMap" (the settings come from the ConfigMap): remove it, or set type "inline"',
    });
  } else if (oc.type !== "configMap" && oc.configMap) {
    out.push({
      path: "incomingAuth.oidcConfig.configMap",
      message: `Only used with oidcConfig.type "configMap", but the type is "${oc.type}"`,
      value: oc.configMap,
    });
  }
  const inline = oc.inline;
  if (!inline) return out;
  const at = "incomingAuth.oidcConfig.inline";
  if (inline.clientSecret !== undefined) {
    out.push({
      path: `${at}.clientSecret`,
      message: `Plain-text client secrets are not accepted: ${
        standalone
          ? "put it in an environment variable and set clientSecretEnv"
          : "put it in a Secret and set clientSecretRef {name, key}"
      }`,
    });
  }
  if (inline.introspectionUrl !== undefined) {
    if (!inline.clientId) {
      out.push({
        path: `${at}.clientId`,
        message:
          "Required with introspectionUrl: vmcp authenticates at the introspection endpoint as this client",
      });
    }
    if (!inline.clientSecretRef && !inline.clientSecretEnv) {
      out.push({
        path: standalone ? `${at}.clientSecretEnv` : `${at}.clientSecretRef`,
        message: `Required with introspectionUrl: the client secret vmcp authenticates with${
          standalone ? " (name of an environment variable)" : " (a Secret name and key)"
        }`,
      });
    }
  }
  return out;
}

/** Problems of the seed-era aggregation fields. */
export function seedAggregationProblems(ag: Aggregation | undefined): Problem[] {
  const out: Problem[] = [];
  (ag?.tools ?? []).forEach((t, i) => {
    if (t.toolConfigRef) {
      out.push({
        path: `aggregation.tools[${i}].toolConfigRef`,
        message:
          "Not supported: MCPToolConfig is not a kind this operator serves. Write the tool filter and overrides inline in this entry (filter: [names], overrides: {original: {name, description}})",
        value: t.toolConfigRef,
      });
    }
  });
  return out;
}

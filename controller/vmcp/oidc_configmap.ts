/**
 * `incomingAuth.oidcConfig.type: configMap`: the OIDC settings live in a ConfigMap of the
 * VirtualMCPServer's namespace (key default `oidc.json`, JSON or YAML with the fields of
 * `oidcConfig.inline`). The controller reads it and renders the settings inline, so the proxy
 * only ever sees `type: inline`; a change of the ConfigMap re-queues the server
 * (controller/watches.ts) and, through the config checksum, rolls its pods.
 * @module
 */
import YAML from "yaml";
import { OidcInlineSchema } from "../../crds/auth.ts";
import type { VirtualMCPServerSpec } from "../../crds/virtualmcpserver.ts";
import { type Problem, problemsFromZod } from "../../core/config/problems.ts";
import type { View } from "../view.ts";
import { readConfigMapKey } from "./configmap_key.ts";

/** Name of the ConfigMap a VirtualMCPServer spec (raw or parsed) takes its OIDC settings from. */
export function oidcConfigMapName(spec: unknown): string | undefined {
  const oc =
    (spec as { incomingAuth?: { oidcConfig?: { type?: string; configMap?: { name?: string } } } })
      ?.incomingAuth?.oidcConfig;
  return oc?.type === "configMap" ? oc.configMap?.name : undefined;
}

/**
 * `spec` with `oidcConfig` of type configMap replaced by the inline settings the ConfigMap
 * holds; problems name the ConfigMap, the key and the field. Other specs come back as given.
 */
export async function resolveOidcConfigMap(
  view: View,
  namespace: string,
  spec: VirtualMCPServerSpec,
): Promise<{ spec: VirtualMCPServerSpec; problems: Problem[] }> {
  const oc = spec.incomingAuth?.oidcConfig;
  if (oc?.type !== "configMap" || !oc.configMap) return { spec, problems: [] };
  const read = await readConfigMapKey(
    view,
    namespace,
    oc.configMap,
    "spec.incomingAuth.oidcConfig.configMap",
  );
  if ("problems" in read) return { spec, problems: read.problems };
  const { text, where } = read;
  let raw: unknown;
  try {
    raw = YAML.parse(text, { version: "1.1" });
  } catch (err) {
    return {
      spec,
      problems: [{ path: where, message: `Not valid JSON or YAML: ${(err as Error).message}` }],
    };
  }
  if (raw && typeof raw === "object" && "clientSecret" in raw) {
    return {
      spec,
      problems: [{
        path: `${where}: clientSecret`,
        message:
          "Plain-text client secrets are not accepted (a ConfigMap is not a Secret): put it in a Secret and set clientSecretRef {name, key}",
      }],
    };
  }
  const parsed = OidcInlineSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = problemsFromZod(parsed.error, raw, [], OidcInlineSchema);
    return { spec, problems: problems.map((p) => ({ ...p, path: `${where}: ${p.path}` })) };
  }
  const { configMap: _, ...rest } = oc;
  return {
    spec: {
      ...spec,
      incomingAuth: {
        ...spec.incomingAuth!,
        oidcConfig: { ...rest, type: "inline", inline: parsed.data },
      },
    },
    problems: [],
  };
}

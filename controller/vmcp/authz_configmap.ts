/**
 * `incomingAuth.authzConfig.type: configMap`: the Cedar policies live in a ConfigMap of the
 * VirtualMCPServer's namespace (key default `authz.json`, ToolHive's authz file:
 * `{version, type: cedarv1, cedar: {policies, entities_json}}`, JSON or YAML). The controller
 * reads it, checks the policies with the Cedar engine and renders them inline, so the proxy only
 * ever sees `type: inline`. A change of the ConfigMap re-queues the server (controller/watches.ts)
 * and rewrites the rendered config, which the proxy reloads without dropping sessions (the pod
 * checksum leaves the policies out: reconcile.ts).
 * @module
 */
import type { VirtualMCPServerSpec } from "../../crds/virtualmcpserver.ts";
import type { Problem } from "../../core/config/problems.ts";
import {
  entitiesProblems,
  groupEntityTypeProblems,
  parseAuthzFile,
  policyProblems,
} from "../../core/authz/policies.ts";
import type { View } from "../view.ts";
import { readConfigMapKey } from "./configmap_key.ts";

/**
 * `AuthConfigured` reasons for a policy ConfigMap that cannot be used (ToolHive's): the
 * ConfigMap does not exist, or it exists but its key is missing or does not hold valid policies.
 */
export type AuthzConfigMapReason = "AuthzConfigMapNotFound" | "AuthzConfigMapInvalid";

/** Name of the ConfigMap a VirtualMCPServer spec (raw or parsed) takes its policies from. */
export function authzConfigMapName(spec: unknown): string | undefined {
  const ac =
    (spec as { incomingAuth?: { authzConfig?: { type?: string; configMap?: { name?: string } } } })
      ?.incomingAuth?.authzConfig;
  return ac?.type === "configMap" ? ac.configMap?.name : undefined;
}

/**
 * `spec` with `authzConfig` of type configMap replaced by the inline policies the ConfigMap
 * holds; problems name the ConfigMap, the key and the policy (line and column).
 */
export async function resolveAuthzConfigMap(
  view: View,
  namespace: string,
  spec: VirtualMCPServerSpec,
): Promise<{ spec: VirtualMCPServerSpec; problems: Problem[]; reason?: AuthzConfigMapReason }> {
  const ac = spec.incomingAuth?.authzConfig;
  if (ac?.type !== "configMap" || !ac.configMap) return { spec, problems: [] };
  const at = "spec.incomingAuth.authzConfig.configMap";
  const read = await readConfigMapKey(view, namespace, ac.configMap, at);
  if ("problems" in read) {
    // The ConfigMap itself is absent (the name is at fault), or it lacks the key (its payload).
    const notFound = read.problems.some((p) => p.path === `${at}.name`);
    return {
      spec,
      problems: read.problems,
      reason: notFound ? "AuthzConfigMapNotFound" : "AuthzConfigMapInvalid",
    };
  }
  const { text, where } = read;
  let src;
  try {
    src = parseAuthzFile(text);
  } catch (err) {
    return {
      spec,
      problems: [{ path: where, message: (err as Error).message }],
      reason: "AuthzConfigMapInvalid",
    };
  }
  const problems = [
    ...policyProblems(src.policies, `${where}: cedar.policies`),
    ...entitiesProblems(src.entitiesJson, `${where}: cedar.entities_json`),
    ...groupEntityTypeProblems(src.groupEntityType, `${where}: cedar.group_entity_type`),
  ];
  if (problems.length > 0) return { spec, problems, reason: "AuthzConfigMapInvalid" };
  return {
    spec: {
      ...spec,
      incomingAuth: {
        ...spec.incomingAuth!,
        authzConfig: { type: "inline", inline: src },
      },
    },
    problems: [],
  };
}

/** Splits problems into the authorization config's (→ `AuthConfigured`) and the others. */
export function splitAuthzProblems(problems: Problem[]): { authz: Problem[]; rest: Problem[] } {
  const authz = problems.filter((p) => p.path.startsWith("spec.incomingAuth.authzConfig"));
  return { authz, rest: problems.filter((p) => !authz.includes(p)) };
}

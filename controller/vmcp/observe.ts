/**
 * Reads everything a VirtualMCPServer depends on (group, member servers, auth configs,
 * composite tool definitions, Secrets) through a {@link View} and renders the proxy config.
 * Every user mistake found becomes a problem naming the field; nothing here writes.
 * @module
 */
import {
  type VirtualMCPServerSpec,
  VirtualMCPServerSpecSchema,
} from "../../crds/virtualmcpserver.ts";
import {
  type MCPExternalAuthConfigSpec,
  MCPExternalAuthConfigSpecSchema,
  MCPServerSpecSchema,
} from "../../crds/backends.ts";
import { type CompositeToolSpec, CompositeToolSpecSchema } from "../../crds/composite_tool.ts";
import { type Problem, problemsFromZod } from "../../core/config/problems.ts";
import { checkSemantics } from "../../core/config/semantics.ts";
import { validateCompositeTool } from "../../core/composite/validate.ts";
import type { KubeObject } from "../runtime/kube.ts";
import { TYPES, type View } from "../view.ts";
import { checkPodTemplateSpec } from "./pod_template.ts";
import {
  type AuthzConfigMapReason,
  resolveAuthzConfigMap,
  splitAuthzProblems,
} from "./authz_configmap.ts";
import { resolveOidcConfigMap } from "./oidc_configmap.ts";
import { type MemberServer, renderProxyConfig, type RenderResult } from "./render_config.ts";

export interface VmcpInputs {
  spec?: VirtualMCPServerSpec;
  group: "ready" | "notFound" | "notReady";
  groupName: string;
  servers: MemberServer[];
  render?: RenderResult;
  configProblems: Problem[];
  podTemplateProblems: Problem[];
  authProblems: Problem[];
  compositeProblems: Problem[];
  compositeReason?: "CompositeToolRefNotFound" | "CompositeToolRefInvalid";
  /** Why the policy ConfigMap cannot be used (the `AuthConfigured` reason), if so. */
  authReason?: AuthzConfigMapReason;
  anonymous: boolean;
  /** Group members whose spec could not be read (also in `configProblems`). */
  discoveryProblems: Problem[];
}

interface DeploymentStatus {
  observedGeneration?: number;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

/**
 * Why the Deployment's current rollout failed, as the deployment controller reports it:
 * `ReplicaFailure` True (pods cannot be created, e.g. quota) or `Progressing` False with
 * `ProgressDeadlineExceeded`. Undefined while it progresses, when it is fine, and when the
 * status describes an older generation (a newer spec gets its own chance).
 */
export function deploymentFailure(d: KubeObject | undefined): string | undefined {
  if (!d) return undefined;
  const status = (d.status ?? {}) as DeploymentStatus;
  const generation = d.metadata?.generation;
  if (
    generation !== undefined && status.observedGeneration !== undefined &&
    status.observedGeneration < generation
  ) return undefined;
  const describe = (c: { type: string; reason?: string; message?: string }) =>
    `${c.type} ${c.reason ?? ""}${c.message ? `: ${c.message}` : ""}`.replace(/ :/, ":");
  const failure = status.conditions?.find((c) =>
    c.type === "ReplicaFailure" && c.status === "True"
  );
  if (failure) return describe(failure);
  const progressing = status.conditions?.find((c) =>
    c.type === "Progressing" && c.status === "False" && c.reason === "ProgressDeadlineExceeded"
  );
  return progressing ? describe(progressing) : undefined;
}

/** Prefixes config paths with `spec.` so messages name the CR field. */
function specPaths(problems: readonly Problem[]): Problem[] {
  return problems.map((
    p,
  ) => (/^(backends|MCPServer )/.test(p.path) ? p : { ...p, path: `spec.${p.path}` }));
}

/** The MCPServers of `group` in `namespace`, sorted by name; invalid specs become problems. */
export async function groupMembers(
  view: View,
  namespace: string,
  group: string,
): Promise<{ servers: MemberServer[]; problems: Problem[] }> {
  const problems: Problem[] = [];
  const servers: MemberServer[] = [];
  const all = await view.list(TYPES.server, namespace);
  for (const s of all) {
    const spec = s.spec as { groupRef?: { name?: string } } | undefined;
    if (spec?.groupRef?.name !== group) continue;
    const name = s.metadata?.name ?? "";
    const parsed = MCPServerSpecSchema.safeParse(s.spec);
    if (!parsed.success) {
      problems.push(...problemsFromZod(parsed.error, s.spec, [`MCPServer ${name}: spec`]));
      continue;
    }
    servers.push({ name, spec: parsed.data });
  }
  servers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { servers, problems };
}

async function authConfigs(view: View, namespace: string) {
  const out = new Map<string, MCPExternalAuthConfigSpec>();
  for (const o of await view.list(TYPES.authConfig, namespace)) {
    const parsed = MCPExternalAuthConfigSpecSchema.safeParse(o.spec);
    if (parsed.success) out.set(o.metadata?.name ?? "", parsed.data);
  }
  return out;
}

async function compositeDefs(
  view: View,
  namespace: string,
  spec: VirtualMCPServerSpec,
  problems: Problem[],
) {
  const out = new Map<string, CompositeToolSpec>();
  let invalid = false;
  for (const [i, ref] of (spec.compositeToolRefs ?? []).entries()) {
    const o = await view.get(TYPES.compositeDef, namespace, ref.name);
    if (!o) continue; // reported as not found by the renderer
    const found = validateCompositeTool(o.spec ?? {});
    const parsed = CompositeToolSpecSchema.safeParse(o.spec);
    if (found.length || !parsed.success) {
      invalid = true;
      problems.push({
        path: `spec.compositeToolRefs[${i}].name`,
        message: `VirtualMCPCompositeToolDefinition "${ref.name}" is invalid: ${
          found.map((p) => `${p.path}: ${p.message}`).join("; ") || "its spec does not parse"
        }`,
        value: ref.name,
      });
      continue;
    }
    out.set(ref.name, parsed.data);
  }
  return { defs: out, invalid };
}

async function secretProblems(
  view: View,
  namespace: string,
  render: RenderResult,
): Promise<Problem[]> {
  const out: Problem[] = [];
  for (const v of render.env) {
    const secret = await view.get<KubeObject & { data?: Record<string, string> }>(
      TYPES.secret,
      namespace,
      v.secretRef.name,
    );
    if (!secret) {
      out.push({
        path: `env ${v.name}`,
        message: `Secret "${v.secretRef.name}" not found`,
        value: v.secretRef,
      });
    } else if (!(v.secretRef.key in (secret.data ?? {}))) {
      out.push({
        path: `env ${v.name}`,
        message: `Secret "${v.secretRef.name}" has no key "${v.secretRef.key}"`,
        value: v.secretRef,
      });
    }
  }
  return out;
}

/** Observes and renders; see the module documentation. */
export async function observeVmcp(view: View, vmcp: KubeObject): Promise<VmcpInputs> {
  const name = vmcp.metadata?.name ?? "";
  const namespace = vmcp.metadata?.namespace ?? "";
  const raw = (vmcp.spec ?? {}) as { groupRef?: { name?: string }; podTemplateSpec?: unknown };
  const out: VmcpInputs = {
    group: "notFound",
    groupName: raw.groupRef?.name ?? "",
    servers: [],
    configProblems: [],
    podTemplateProblems: checkPodTemplateSpec(raw.podTemplateSpec),
    authProblems: [],
    compositeProblems: [],
    anonymous: true,
    discoveryProblems: [],
  };
  const parsed = VirtualMCPServerSpecSchema.safeParse(vmcp.spec ?? {});
  if (!parsed.success) {
    out.configProblems = problemsFromZod(parsed.error, vmcp.spec, ["spec"]);
    return out;
  }
  // OIDC settings kept in a ConfigMap are rendered inline (problems name the ConfigMap).
  const fromConfigMap = await resolveOidcConfigMap(view, namespace, parsed.data);
  // Cedar policies kept in a ConfigMap likewise (problems name the ConfigMap and the policy).
  const authzFrom = await resolveAuthzConfigMap(view, namespace, fromConfigMap.spec);
  const spec = authzFrom.spec;
  out.spec = spec;
  out.authProblems.push(...fromConfigMap.problems, ...authzFrom.problems);
  if (authzFrom.reason) out.authReason = authzFrom.reason;
  out.anonymous = (spec.incomingAuth?.type ?? "anonymous") === "anonymous";
  const group = await view.get(TYPES.group, namespace, spec.groupRef.name);
  const phase = (group?.status as { phase?: string } | undefined)?.phase;
  out.group = !group ? "notFound" : phase === "Ready" ? "ready" : "notReady";
  const { defs, invalid } = await compositeDefs(view, namespace, spec, out.compositeProblems);
  if (invalid) out.compositeReason = "CompositeToolRefInvalid";
  // Read even while the group is not Ready: an unreadable member is why, and says so.
  const members = group ? await groupMembers(view, namespace, spec.groupRef.name) : undefined;
  out.discoveryProblems = members?.problems ?? [];
  if (out.group !== "ready" || !members) {
    // Without the backends only the spec's own cross-field rules can be checked.
    const { authz, rest } = splitAuthzProblems(
      specPaths(checkSemantics(spec, { standalone: false })),
    );
    out.configProblems = rest;
    out.authProblems.push(...authz);
    return out;
  }
  out.servers = members.servers;
  const render = renderProxyConfig({
    name,
    namespace,
    spec,
    servers: members.servers,
    authConfigs: await authConfigs(view, namespace),
    compositeDefs: defs,
  });
  out.render = render;
  const split = splitAuthzProblems(specPaths(render.configProblems));
  out.configProblems = [...members.problems, ...split.rest];
  out.authProblems = [
    ...out.authProblems,
    ...split.authz,
    ...specPaths(render.authProblems),
    ...(await secretProblems(view, namespace, render)),
  ];
  out.compositeProblems.push(...specPaths(render.compositeProblems));
  return out;
}

/**
 * Renders the proxy config (`crds/vmcp_config.ts`) a VirtualMCPServer's ConfigMap carries:
 * the spec, the group's MCPServers as `backends[]`, referenced composite tool definitions
 * inlined, auth references resolved and Secrets turned into environment variable names.
 * Pure: every input is passed in.
 * @module
 */
import { createHash } from "node:crypto";
import YAML from "yaml";
import type { VirtualMCPServerSpec } from "../../crds/virtualmcpserver.ts";
import type { MCPExternalAuthConfigSpec, MCPServerSpec } from "../../crds/backends.ts";
import type { CompositeToolSpec } from "../../crds/composite_tool.ts";
import type { Problem } from "../../core/config/problems.ts";
import { validateConfig } from "../../core/config/load.ts";
import { mcpServerEndpoint } from "../mcpserver/backend.ts";
import { VMCP_PORT, vmcpNames, vmcpUrl } from "../meta.ts";
import { SecretEnvCollector, type SecretEnvVar } from "./secret_env.ts";
import { renderOptimizer } from "./render_optimizer.ts";
import {
  type AuthContext,
  convertExternalAuthConfig,
  lookupAuthConfig,
  resolveIncomingAuth,
  resolveOutgoingAuth,
  resolveSessionStorage,
  resolveTokenCache,
} from "./render_auth.ts";

export interface MemberServer {
  name: string;
  spec: MCPServerSpec;
}

export interface RenderInput {
  name: string;
  namespace: string;
  /** The parsed spec (defaults applied). */
  spec: VirtualMCPServerSpec;
  /** The group's MCPServers. */
  servers: readonly MemberServer[];
  /** MCPExternalAuthConfigs of the namespace by name (parsed specs). */
  authConfigs: ReadonlyMap<string, MCPExternalAuthConfigSpec>;
  /** VirtualMCPCompositeToolDefinitions of the namespace by name (parsed specs). */
  compositeDefs: ReadonlyMap<string, CompositeToolSpec>;
}

export interface RenderResult {
  /** The proxy config object (what config.yaml holds). */
  config: Record<string, unknown>;
  /** Environment variables the Deployment fills from Secrets. */
  env: SecretEnvVar[];
  /** Unresolvable auth references (MCPExternalAuthConfig not found). */
  authProblems: Problem[];
  /** Unresolvable or duplicate composite tool references. */
  compositeProblems: Problem[];
  /** What the proxy's own loader reports about the rendered config. */
  configProblems: Problem[];
}

function setIf(out: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined) out[key] = value;
}

function renderBackends(input: RenderInput, ctx: AuthContext): Record<string, unknown>[] {
  const discovered = (input.spec.outgoingAuth?.source ?? "discovered") !== "inline";
  const explicit = input.spec.outgoingAuth?.backends ?? {};
  return [...input.servers].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    .map((s) => {
      const ep = mcpServerEndpoint(s.name, input.namespace, s.spec);
      const b: Record<string, unknown> = { name: s.name, transport: ep.transport, url: ep.url };
      // An MCPServer has no protocol field: Streamable HTTP backends are probed (ADR 0010).
      b.protocol = ep.transport === "streamable-http" ? "auto" : "legacy";
      const ref = s.spec.externalAuthConfigRef?.name;
      // An explicit outgoingAuth.backends entry wins in every mode (core/auth/resolve_strategy):
      // the server's own reference is then unused, so it is neither resolved nor required.
      const overridden = Object.hasOwn(explicit, s.name) &&
        explicit[s.name]!.type !== "discovered";
      if (discovered && ref && !overridden) {
        const cfg = lookupAuthConfig(
          ref,
          `MCPServer ${s.name}: spec.externalAuthConfigRef.name`,
          ctx,
        );
        if (cfg) {
          b.auth = convertExternalAuthConfig(cfg, [s.name], ctx);
          b.authConfigRef = ref;
        }
      }
      return b;
    });
}

/**
 * The Host values the proxy accepts in a cluster (its DNS-rebinding defence): the Service's
 * names with and without the port, plus the host of `oidcConfig.resourceUrl` (the public URL,
 * e.g. an Ingress). IP-literal hosts (kubelet probes, Prometheus) are always allowed by the
 * proxy; other names can be added with the VMCP_ALLOWED_HOSTS environment variable.
 */
export function serviceHosts(name: string, namespace: string, resourceUrl?: string): string[] {
  const svc = vmcpNames(name, namespace).service;
  const names = [svc, `${svc}.${namespace}`, `${svc}.${namespace}.svc`];
  names.push(`${names[2]}.cluster.local`);
  const hosts = names.flatMap((n) => [n, `${n}:${VMCP_PORT}`]);
  if (resourceUrl) {
    try {
      const u = new URL(resourceUrl);
      if (!hosts.includes(u.host)) hosts.push(u.host);
    } catch { /* reported by the config validation */ }
  }
  return hosts;
}

function renderCompositeTools(input: RenderInput, problems: Problem[]): unknown[] | undefined {
  const inline = input.spec.compositeTools ?? [];
  const refs = input.spec.compositeToolRefs ?? [];
  if (!inline.length && !refs.length) return undefined;
  const out: unknown[] = inline.map((t) => structuredClone(t));
  const names = new Set(inline.map((t) => t.name));
  refs.forEach((r, i) => {
    const def = input.compositeDefs.get(r.name);
    if (!def) {
      problems.push({
        path: `compositeToolRefs[${i}].name`,
        message: `VirtualMCPCompositeToolDefinition "${r.name}" not found in this namespace`,
        value: r.name,
      });
      return;
    }
    if (names.has(def.name)) {
      problems.push({
        path: `compositeToolRefs[${i}].name`,
        message: `Defines tool "${def.name}", which another composite tool already defines`,
        value: r.name,
      });
      return;
    }
    names.add(def.name);
    out.push(structuredClone(def));
  });
  return out;
}

/**
 * `operational` as the proxy reads it: the requestState keys' Secret references become the
 * environment variables the proxy reads them from (VMCP_REQUEST_STATE_KEY[_PREVIOUS]).
 */
function renderOperational(
  op: NonNullable<VirtualMCPServerSpec["operational"]>,
  env: SecretEnvCollector,
): Record<string, unknown> {
  const out = structuredClone(op) as Record<string, unknown>;
  const ir = op.inputRequired;
  if (!ir) return out;
  const { stateKeyRef, previousStateKeyRef, ...rest } = structuredClone(ir);
  if (stateKeyRef) env.add([], stateKeyRef, "VMCP_REQUEST_STATE_KEY");
  if (previousStateKeyRef) env.add([], previousStateKeyRef, "VMCP_REQUEST_STATE_KEY_PREVIOUS");
  out.inputRequired = rest;
  return out;
}

/** Renders the proxy config and validates it with the proxy's own loader. */
export function renderProxyConfig(input: RenderInput): RenderResult {
  const env = new SecretEnvCollector();
  const authProblems: Problem[] = [];
  const compositeProblems: Problem[] = [];
  const ctx: AuthContext = { authConfigs: input.authConfigs, env, problems: authProblems };
  const spec = input.spec;
  const config: Record<string, unknown> = { name: input.name, namespace: input.namespace };
  config.groupRef = { name: spec.groupRef.name };
  if (spec.incomingAuth) {
    const resource = `${vmcpUrl(input.name, input.namespace)}/mcp`;
    config.incomingAuth = resolveIncomingAuth(spec.incomingAuth, ctx, resource);
  }
  if (spec.outgoingAuth) config.outgoingAuth = resolveOutgoingAuth(spec.outgoingAuth, ctx);
  setIf(config, "aggregation", spec.aggregation && structuredClone(spec.aggregation));
  if (spec.tokenCache) config.tokenCache = resolveTokenCache(spec.tokenCache, ctx);
  setIf(config, "operational", spec.operational && renderOperational(spec.operational, env));
  setIf(config, "compositeTools", renderCompositeTools(input, compositeProblems));
  if (spec.sessionStorage) config.sessionStorage = resolveSessionStorage(spec.sessionStorage, ctx);
  setIf(config, "audit", spec.audit && structuredClone(spec.audit));
  setIf(config, "rateLimiting", spec.rateLimiting && structuredClone(spec.rateLimiting));
  // Spans and metrics name the VirtualMCPServer unless the spec names the service.
  setIf(config, "telemetry", spec.telemetry && { serviceName: input.name, ...spec.telemetry });
  setIf(config, "optimizer", spec.optimizer && renderOptimizer(spec.optimizer, env));
  config.backends = renderBackends(input, ctx);
  config.server = {
    host: "0.0.0.0",
    port: VMCP_PORT,
    allowedHosts: serviceHosts(
      input.name,
      input.namespace,
      spec.incomingAuth?.oidcConfig?.resourceUrl,
    ),
  };
  // What the proxy does at start: parse the ConfigMap text, then its loader's rules
  // (core/config/load.ts), so the controller's verdict is the proxy's. `standalone: false`
  // only changes how problems are named (Secret references are already env names here).
  const text = configYaml(config);
  const { problems } = validateConfig(YAML.parse(text, { version: "1.1" }), { standalone: false });
  return {
    config,
    env: env.vars,
    authProblems,
    compositeProblems,
    configProblems: problems,
  };
}

/** Keys sorted at every level, so equal configs give byte-identical text. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/**
 * Deterministic YAML of a config: sorted keys, no anchors, YAML 1.1 quoting (the proxy's
 * loader reads YAML 1.1, so strings like `on` or `0755` are quoted).
 */
export function configYaml(config: unknown): string {
  return YAML.stringify(sortKeys(config), {
    version: "1.1",
    lineWidth: 0,
    aliasDuplicateObjects: false,
  });
}

/** Lower-case hex sha256 of `text`. */
export function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

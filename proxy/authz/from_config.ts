/**
 * The proxy's authorization from its config: a gate (gate.ts) over the Cedar policies of
 * `incomingAuth.authzConfig.inline` (the controller renders a ConfigMap's policies there), or
 * none. Resources have the parent `MCP::"<config name>"` (ToolHive's server scope). A reload
 * with the same policies keeps the gate and its cached decisions.
 * @module
 */
import type { VmcpConfig } from "../../crds/vmcp_config.ts";
import { CedarAuthorizer } from "./cedar.ts";
import { AuthzGate } from "./gate.ts";

/** What `authzFromConfig` hands back: the gate (if any) and the key of its policies. */
export interface ConfiguredAuthz {
  gate: AuthzGate | undefined;
  key: string;
}

/**
 * The gate for `config`: `previous` when its policies are unchanged, else a new one (the
 * previous one is then disposed). Throws `ConfigError` for policies the engine refuses (the
 * config loader has refused them already).
 */
export function authzFromConfig(config: VmcpConfig, previous?: ConfiguredAuthz): ConfiguredAuthz {
  const inline = config.incomingAuth?.authzConfig?.inline;
  const key = inline ? JSON.stringify([inline, config.name]) : "";
  if (previous && previous.key === key) return previous;
  const gate = inline
    ? new AuthzGate(CedarAuthorizer.create(
      {
        policies: inline.policies,
        entitiesJson: inline.entitiesJson ?? "[]",
        groupClaimName: inline.groupClaimName,
        roleClaimName: inline.roleClaimName,
        groupEntityType: inline.groupEntityType,
      },
      undefined,
      { serverName: config.name },
    ))
    : undefined;
  previous?.gate?.dispose();
  return { gate, key };
}

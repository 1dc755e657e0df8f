/**
 * Checking Cedar authorization config with the real Cedar engine (`@cedar-policy/cedar-wasm`):
 * each policy is parsed on its own so a problem names the policy's index and the line and column
 * inside it; entitiesJson is parsed as Cedar entities. Also reads ToolHive's authz file (the
 * ConfigMap form). Used by `vmcp validate`, the proxy's config loader and the controller.
 * @module
 */
import * as cedar from "@cedar-policy/cedar-wasm";
import YAML from "yaml";
import type { AuthzConfig } from "../../crds/auth.ts";
import type { Problem } from "../config/problems.ts";

/** The policies and entities an authorizer is built from. */
export interface CedarSource {
  policies: string[];
  /** JSON text of an array of Cedar entities. */
  entitiesJson: string;
  /** Claim of the caller's groups (ToolHive's `group_claim_name`); default: well-known ones. */
  groupClaimName?: string | undefined;
  /** Claim of the caller's roles (ToolHive's `role_claim_name`); default: none. */
  roleClaimName?: string | undefined;
  /** Entity type of group and role parents (ToolHive's `group_entity_type`); default THVGroup. */
  groupEntityType?: string | undefined;
}

/** Problems of a group entity type: a plain Cedar identifier (ToolHive's rule). */
export function groupEntityTypeProblems(type: string | undefined, path: string): Problem[] {
  if (type === undefined) return [];
  const ok = !type.includes("::") &&
    cedar.checkParsePolicySet({
        staticPolicies: { p: `permit(principal in ${type}::"x", action, resource);` },
      }).type === "success";
  if (ok) return [];
  return [{
    path,
    message:
      'Not a plain Cedar identifier (letters, digits and "_", not starting with a digit, not a reserved word, no "::" namespace), e.g. "THVGroup" or "Group"',
    value: type,
  }];
}

const encoder = new TextEncoder();

/** 1-based line and column of UTF-8 byte `offset` in `text` (Cedar reports byte offsets). */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const bytes = encoder.encode(text);
  const before = new TextDecoder().decode(bytes.subarray(0, Math.max(0, offset)));
  const lines = before.split("\n");
  return { line: lines.length, column: [...lines[lines.length - 1]!].length + 1 };
}

interface DetailedError {
  message: string;
  help?: string | null;
  sourceLocations?: { start: number; end: number; label?: string | null }[];
}

function describe(e: DetailedError, text: string): string {
  const msg = e.message.replace(
    /^failed to parse polic(y|ies)( with id `[^`]*`)? from string: /,
    "",
  );
  const loc = e.sourceLocations?.[0];
  const where = loc ? lineColumn(text, loc.start) : undefined;
  const parts = [where ? `line ${where.line}, column ${where.column}: ${msg}` : msg];
  if (loc?.label) parts.push(`(${loc.label})`);
  if (e.help) parts.push(`help: ${e.help}`);
  return parts.join(" ");
}

/** Problems of Cedar policy texts, one per policy entry that does not parse as one policy. */
export function policyProblems(policies: readonly string[], path: string): Problem[] {
  const out: Problem[] = [];
  policies.forEach((text, i) => {
    const answer = cedar.checkParsePolicySet({ staticPolicies: { [`policy${i}`]: text } });
    if (answer.type === "success") return;
    out.push({
      path: `${path}[${i}]`,
      message: `Invalid Cedar policy ${i}: ${
        answer.errors.map((e) => describe(e, text)).join("; ")
      } (each entry holds exactly one policy, e.g. permit(principal, action == Action::"call_tool", resource == Tool::"echo");)`,
    });
  });
  return out;
}

/** Problems of an entitiesJson text (JSON array of Cedar entities). */
export function entitiesProblems(entitiesJson: string, path: string): Problem[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(entitiesJson);
  } catch (err) {
    return [{ path, message: `Not JSON: ${(err as Error).message}`, value: entitiesJson }];
  }
  if (!Array.isArray(parsed)) {
    return [{ path, message: "Expected a JSON array of Cedar entities", value: entitiesJson }];
  }
  const answer = cedar.checkParseEntities({ entities: parsed as cedar.Entities });
  if (answer.type === "success") return [];
  return [{
    path,
    message: `Invalid Cedar entities: ${answer.errors.map((e) => e.message).join("; ")}`,
  }];
}

/** Problems of `incomingAuth.authzConfig` (policies parsed with the Cedar engine). */
export function authzProblems(
  cfg: AuthzConfig | undefined,
  path: string,
  standalone: boolean,
): Problem[] {
  if (!cfg) return [];
  const out: Problem[] = [];
  if (cfg.type === "configMap") {
    if (standalone) {
      out.push({
        path: `${path}.type`,
        message:
          'authzConfig.type "configMap" needs Kubernetes: in a standalone config write the policies under authzConfig.inline.policies and set type "inline"',
        value: "configMap",
      });
    } else if (!cfg.configMap) {
      out.push({
        path: `${path}.configMap`,
        message: 'Required for authzConfig.type "configMap" (name, and key: default authz.json)',
      });
    }
    if (cfg.inline) {
      out.push({
        path: `${path}.inline`,
        message:
          'Not used with authzConfig.type "configMap" (the policies come from the ConfigMap): remove it, or set type "inline"',
      });
    }
    return out;
  }
  if (cfg.configMap) {
    out.push({
      path: `${path}.configMap`,
      message: 'Only used with authzConfig.type "configMap", but the type is "inline"',
      value: cfg.configMap,
    });
  }
  if (!cfg.inline) {
    out.push({
      path: `${path}.inline`,
      message: 'Required for authzConfig.type "inline" (policies: at least one Cedar policy)',
    });
    return out;
  }
  out.push(...policyProblems(cfg.inline.policies, `${path}.inline.policies`));
  out.push(...entitiesProblems(cfg.inline.entitiesJson, `${path}.inline.entitiesJson`));
  out.push(
    ...groupEntityTypeProblems(cfg.inline.groupEntityType, `${path}.inline.groupEntityType`),
  );
  return out;
}

/**
 * Reads ToolHive's authz file (`{version, type: "cedarv1", cedar: {policies, entities_json}}`,
 * JSON or YAML) into policies and entities; throws an Error saying what is wrong.
 */
export function parseAuthzFile(text: string): CedarSource {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new Error(`not JSON or YAML: ${(err as Error).message}`);
  }
  const d = doc as {
    type?: unknown;
    cedar?: { policies?: unknown; entities_json?: unknown; [k: string]: unknown };
  };
  if (!d || typeof d !== "object") throw new Error("expected an object {version, type, cedar}");
  if (d.type !== undefined && d.type !== "cedarv1") {
    throw new Error(`type "${String(d.type)}" is not supported; only "cedarv1"`);
  }
  const policies = d.cedar?.policies;
  if (
    !Array.isArray(policies) || policies.length === 0 ||
    !policies.every((p) => typeof p === "string")
  ) {
    throw new Error("cedar.policies must be a non-empty array of Cedar policy strings");
  }
  const entities = d.cedar?.entities_json ?? "[]";
  if (typeof entities !== "string") {
    throw new Error("cedar.entities_json must be a string holding a JSON array");
  }
  const out: CedarSource = { policies: policies as string[], entitiesJson: entities };
  const names = {
    group_claim_name: "groupClaimName",
    role_claim_name: "roleClaimName",
    group_entity_type: "groupEntityType",
  } as const;
  for (const [file, field] of Object.entries(names)) {
    const v = (d.cedar as Record<string, unknown>)[file];
    if (v === undefined || v === "") continue;
    if (typeof v !== "string") {
      throw new Error(`cedar.${file} must be a string, got ${JSON.stringify(v)}`);
    }
    out[field] = v;
  }
  return out;
}

/**
 * Cedar authorization with the real engine (`@cedar-policy/cedar-wasm`), using ToolHive's entity
 * model so its policies work unchanged (pkg/authz/authorizers/cedar):
 *
 * - principal `Client::"<sub>"`, attributes `claim_<name>` for every token claim, parents
 *   `THVGroup::"<g>"` for the entries of the first of the `groups`, `roles`, `cognito:groups`
 *   claims that is an array (or of ToolHive's `groupClaimName`, plus `roleClaimName`'s; the type
 *   renamed by `groupEntityType`);
 * - actions `Action::"call_tool"`, `Action::"get_prompt"`, `Action::"read_resource"` (attribute
 *   `operation`);
 * - resources `Tool::"<advertised name>"`, `Prompt::"<advertised name>"`, `Resource::"<uri>"`
 *   with `name`, `operation`, `feature`, `backend` (parents `Backend::"<backend>"` and, as
 *   ToolHive gives every resource, `MCP::"<server name>"`), a tool's annotation hints, `uri` for
 *   resources, and the call's or prompt's arguments as `arg_<name>` (scalars; others as
 *   `arg_<name>_present`);
 * - context: the `claim_*` and `arg_*` values.
 *
 * ToolHive names a resource `Resource::"<sanitized uri>"` (`:`, `/`, `\`, `?`, `&`, `=`, `#`,
 * space and `.` replaced by `_`). So that its policies work unchanged, a read is decided as if
 * the resource had both ids: when some policy's text holds the sanitized id, the request is also
 * decided with it, and the answer is allow when one of the two decisions allows and neither was
 * a `forbid` (exactly Cedar's rule over the union of the policies that apply to either id).
 *
 * A resource template (resources/templates/list) is decided as `Action::"read_resource"` on
 * `Resource::"<uriTemplate>"` with `uri` and `name` the template and `uriTemplate` set.
 *
 * Whole numbers become Cedar longs (ToolHive's documented `context.arg_value1 == 5`); other
 * numbers decimals.
 *
 * Claims and arguments go to the engine only when some policy mentions them (`claim_`, `arg_`,
 * `context`), which also tells the caches whether a decision depends on the arguments.
 * Decisions are shared between items the policies of a slice cannot tell apart (sharing.ts),
 * per principal and bounded.
 * @module
 */
import * as cedar from "@cedar-policy/cedar-wasm";
import type { Identity } from "../../core/auth/identity.ts";
import {
  type CedarSource,
  entitiesProblems,
  groupEntityTypeProblems,
  policyProblems,
} from "../../core/authz/policies.ts";
import { ConfigError } from "../../core/config/problems.ts";
import { MAX_CACHED_ID_LENGTH, PolicySlices } from "./slices.ts";
import { PolicyReads } from "./sharing.ts";

/** Decisions kept per principal, keyed by what the policies can see of the item. */
const MAX_DECISIONS = 1024;
type Answer = "allow" | "forbid" | "none";

export type AuthzAction = "call_tool" | "get_prompt" | "read_resource";

/** The item a request is about. */
export interface AuthzResource {
  type: "Tool" | "Prompt" | "Resource";
  /** Advertised name (tools, prompts) or URI (resources). */
  id: string;
  /** The backend serving it (absent for composite tools). */
  backend?: string | undefined;
  /** Tool annotations (`readOnlyHint`, …): booleans are copied. */
  annotations?: Record<string, unknown> | undefined;
  /** A resource template (`id` is the uriTemplate). */
  template?: boolean | undefined;
}

/** ToolHive's `sanitizeURIForCedar`: the id it gives `Resource::` entities. */
export function sanitizeUri(uri: string): string {
  return uri.replace(/[:/\\?&=# .]/g, "_");
}

type Json = cedar.CedarValueJson;
type EntityJson = cedar.EntityJson;

/** ToolHive's depth bound for nested claim values. */
const MAX_DEPTH = 10;
const GROUP_CLAIMS = ["groups", "roles", "cognito:groups"];
const HINTS = ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"];
const FEATURE = { Tool: "tool", Prompt: "prompt", Resource: "resource" } as const;
const OPERATION = { Tool: "call", Prompt: "get", Resource: "read" } as const;

/** A JSON value as a Cedar value (undefined: dropped, as ToolHive drops unsupported ones). */
export function toCedarValue(v: unknown, depth = 0): Json | undefined {
  if (depth > MAX_DEPTH) return undefined;
  switch (typeof v) {
    case "string":
    case "boolean":
      return v;
    case "number":
      if (Number.isSafeInteger(v)) return v;
      if (!Number.isFinite(v) || Math.abs(v) >= 922337203685477) return undefined;
      return { __extn: { fn: "decimal", arg: v.toFixed(4) } };
    case "object": {
      if (v === null) return undefined;
      if (Array.isArray(v)) {
        return v.map((x) => toCedarValue(x, depth + 1)).filter((x) => x !== undefined) as Json[];
      }
      const out: Record<string, Json> = {};
      for (const [k, x] of Object.entries(v)) {
        if (k.startsWith("__")) continue; // Cedar JSON escapes (__entity, __extn): never from data
        const c = toCedarValue(x, depth + 1);
        if (c !== undefined) out[k] = c;
      }
      return out;
    }
    default:
      return undefined;
  }
}

/** `claim_<name>` attributes of an identity's claims. */
export function claimAttributes(claims: Record<string, unknown>): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(claims)) {
    const c = toCedarValue(v);
    if (c !== undefined) out[`claim_${k}`] = c;
  }
  return out;
}

/** `arg_<name>` attributes (ToolHive: scalars as they are, others as `arg_<name>_present`). */
export function argumentAttributes(
  args: Record<string, unknown> | undefined,
): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(args ?? {})) {
    const c = typeof v === "object" || v === undefined ? undefined : toCedarValue(v);
    if (c !== undefined) out[`arg_${k}`] = c;
    else if (v !== null && v !== undefined) out[`arg_${k}_present`] = true;
  }
  return out;
}

/** Where a caller's groups come from (ToolHive's group/role claim options). */
interface GroupOptions {
  groupClaimName?: string | undefined;
  roleClaimName?: string | undefined;
}

/** A claim by exact top-level name, else by dotted path (`realm_access.roles`), as ToolHive. */
function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (path in claims) return claims[path];
  const parts = path.split(".");
  if (parts.length < 2) return undefined;
  let v: unknown = claims;
  for (const p of parts) {
    if (!v || typeof v !== "object" || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

/** The string entries of an array claim; undefined when absent or not an array. */
function entriesOf(
  claims: Record<string, unknown>,
  name: string | undefined,
): string[] | undefined {
  if (!name) return undefined;
  const v = claimAt(claims, name);
  return Array.isArray(v) ? v.filter((g): g is string => typeof g === "string") : undefined;
}

/**
 * The caller's groups (ToolHive): the configured group claim, else the first of the well-known
 * ones that is an array; then the role claim's entries; without duplicates.
 */
export function groupsOf(claims: Record<string, unknown>, opts: GroupOptions = {}): string[] {
  let groups = entriesOf(claims, opts.groupClaimName);
  for (const name of GROUP_CLAIMS) {
    if (groups !== undefined) break;
    groups = entriesOf(claims, name);
  }
  return [...new Set([...(groups ?? []), ...(entriesOf(claims, opts.roleClaimName) ?? [])])];
}

/** A caller as the engine sees it (built once per principal; see gate.ts). */
export interface CedarPrincipal {
  uid: { type: "Client"; id: string };
  entity: EntityJson;
  /** `claim_*` values (the context's part from the token). */
  claims: Record<string, Json>;
  /** Decisions by (policy slice, item as the policies see it), bounded (`MAX_DECISIONS`). */
  decisions: Map<string, Answer>;
}

let nextId = 0;

/** The compiled policy set and entities; `dispose()` frees the engine's copy. */
export class CedarAuthorizer {
  readonly #id: string;
  readonly #entities: EntityJson[];
  readonly #entityKeys: Set<string>;
  /** Some policy reads the call's arguments (decisions then depend on them). */
  readonly usesArguments: boolean;
  readonly #usesClaims: boolean;
  readonly #usesContext: boolean;
  readonly #text: string;
  readonly #slices: PolicySlices | undefined;
  readonly #reads: PolicyReads;
  readonly #groups: GroupOptions;
  readonly #groupType: string;
  /** `MCP::"<server name>"`, every resource's parent (ToolHive's server scope), or none. */
  readonly #server: { type: "MCP"; id: string } | undefined;

  private constructor(
    src: CedarSource,
    entities: EntityJson[],
    slicing: boolean,
    serverName: string | undefined,
  ) {
    this.#server = serverName ? { type: "MCP", id: serverName } : undefined;
    this.#groups = { groupClaimName: src.groupClaimName, roleClaimName: src.roleClaimName };
    this.#groupType = src.groupEntityType ?? "THVGroup";
    this.#id = `vmcp-authz-${++nextId}`;
    this.#entities = entities;
    this.#entityKeys = new Set(entities.map((e) => uidKey(e.uid)));
    const text = src.policies.join("\n");
    this.#text = text;
    this.usesArguments = text.includes("arg_");
    this.#usesClaims = text.includes("claim_");
    this.#usesContext = text.includes("context");
    const staticPolicies = Object.fromEntries(src.policies.map((p, i) => [`policy${i}`, p]));
    const answer = cedar.preparsePolicySet(this.#id, { staticPolicies });
    if (answer.type !== "success") {
      throw new ConfigError([{
        path: "incomingAuth.authzConfig",
        message: answer.errors.map((e) => e.message).join("; "),
      }], "Cedar policies");
    }
    this.#reads = new PolicyReads(src.policies, src.entitiesJson);
    this.#slices = slicing
      ? new PolicySlices(staticPolicies, this.#id, this.#reads.idSensitive)
      : undefined;
  }

  /** Checks and compiles `src`; throws `ConfigError` naming each bad policy's line and column. */
  static create(
    src: CedarSource,
    path = "incomingAuth.authzConfig.inline",
    opts: { slicing?: boolean; serverName?: string | undefined } = {},
  ): CedarAuthorizer {
    const problems = [
      ...(src.policies.length === 0
        ? [{ path: `${path}.policies`, message: "At least one Cedar policy is required" }]
        : []),
      ...policyProblems(src.policies, `${path}.policies`),
      ...entitiesProblems(src.entitiesJson, `${path}.entitiesJson`),
      ...groupEntityTypeProblems(src.groupEntityType, `${path}.groupEntityType`),
    ];
    if (problems.length > 0) throw new ConfigError(problems, "Cedar authorization config");
    return new CedarAuthorizer(
      src,
      JSON.parse(src.entitiesJson) as EntityJson[],
      opts.slicing ?? true,
      opts.serverName,
    );
  }

  /** The engine's view of `identity` (compute once per principal). */
  principal(identity: Identity): CedarPrincipal {
    const uid = { type: "Client" as const, id: identity.subject };
    const claims = claimAttributes(identity.claims);
    const parents = groupsOf(identity.claims, this.#groups).map((id) => ({
      type: this.#groupType,
      id,
    }));
    return {
      uid,
      claims,
      entity: { uid, attrs: this.#usesClaims ? claims : {}, parents },
      decisions: new Map(),
    };
  }

  /**
   * `identity` as far as the policies can tell it from others (sharing.ts): identities with
   * the same key get the same decisions, so they may share one `principal()`.
   */
  principalKey(identity: Identity): string {
    const groups = groupsOf(identity.claims, this.#groups);
    return this.#reads.principalKey(identity.subject, identity.claims, groups);
  }

  /** One decision of the engine: true only when some policy permits and none forbids. */
  isAuthorized(
    principal: CedarPrincipal,
    action: AuthzAction,
    resource: AuthzResource,
    args?: Record<string, unknown>,
  ): boolean {
    // ToolHive's id for the same resource (module doc), when some policy may name it.
    const sanitized = resource.type === "Resource" ? sanitizeUri(resource.id) : resource.id;
    if (sanitized === resource.id || !this.#text.includes(sanitized)) {
      return this.#decide(principal, action, resource, resource.id, args, true) === "allow";
    }
    // Both ids, each over the whole set: a slice without a permit would hide a forbid.
    const first = this.#decide(principal, action, resource, resource.id, args, false);
    if (first === "forbid") return false;
    const second = this.#decide(principal, action, resource, sanitized, args, false);
    if (second === "forbid") return false;
    return first === "allow" || second === "allow";
  }

  /** The engine's answer for `resource` named `id`: allow, deny by a forbid, or no permit. */
  #decide(
    principal: CedarPrincipal,
    action: AuthzAction,
    resource: AuthzResource,
    id: string,
    args: Record<string, unknown> | undefined,
    slice: boolean,
  ): Answer {
    // Only the policies whose scope may match (slices.ts); none that permits: deny.
    const set = this.#slices && slice ? this.#slices.setFor(action, resource.type, id) : this.#id;
    if (set === null) return "none";
    const argAttrs = this.usesArguments && resource.type !== "Resource"
      ? argumentAttributes(args)
      : {};
    // Items the slice's policies cannot tell apart share one decision (sharing.ts).
    let key: string | undefined;
    const idKept = !this.#slices?.idSensitive(set) || id.length <= MAX_CACHED_ID_LENGTH;
    if (this.#slices && slice && idKept && Object.keys(argAttrs).length === 0) {
      key = `${set}\u0000${action}\u0000${resource.type}\u0000${
        this.#slices.idSensitive(set) ? id : ""
      }\u0000${resource.backend ?? "\u0001"}\u0000${resource.template ? 1 : 0}`;
      if (resource.type === "Tool") {
        // As the engine sees them: only booleans are copied (a string "true" is absent).
        for (const h of HINTS) {
          const v = resource.annotations?.[h];
          key += typeof v === "boolean" ? `\u0000${v}` : "\u0000";
        }
      }
      const known = principal.decisions.get(key);
      if (known !== undefined) return known;
    }
    const answer = this.#engine(principal, action, resource, id, argAttrs, set);
    if (key !== undefined) {
      if (principal.decisions.size >= MAX_DECISIONS) principal.decisions.clear();
      principal.decisions.set(key, answer);
    }
    return answer;
  }

  #engine(
    principal: CedarPrincipal,
    action: AuthzAction,
    resource: AuthzResource,
    id: string,
    argAttrs: Record<string, Json>,
    set: string,
  ): Answer {
    const attrs: Record<string, Json> = {};
    if (resource.type === "Tool") {
      for (const h of HINTS) {
        const v = resource.annotations?.[h];
        if (typeof v === "boolean") attrs[h] = v;
      }
    }
    Object.assign(attrs, argAttrs, {
      name: resource.id,
      operation: OPERATION[resource.type],
      feature: FEATURE[resource.type],
    });
    if (resource.type === "Resource") attrs.uri = resource.id;
    if (resource.template) attrs.uriTemplate = resource.id;
    if (resource.backend !== undefined) attrs.backend = resource.backend;
    const resourceUid = { type: resource.type, id };
    const actionUid = { type: "Action", id: action };
    const parents: cedar.EntityUidJson[] = [];
    if (resource.backend !== undefined) parents.push({ type: "Backend", id: resource.backend });
    if (this.#server) parents.push(this.#server);
    const request: EntityJson[] = [
      principal.entity,
      { uid: actionUid, attrs: { operation: action }, parents: [] },
      { uid: resourceUid, attrs, parents },
    ];
    const entities = this.#entities.length === 0 ? request : this.#merge(request);
    const answer = cedar.statefulIsAuthorized({
      principal: principal.uid,
      action: actionUid,
      resource: resourceUid,
      context: this.#usesContext ? { ...principal.claims, ...argAttrs } : {},
      entities,
      preparsedPolicySetId: set,
    });
    if (answer.type !== "success") return "none";
    if (answer.response.decision === "allow") return "allow";
    return answer.response.diagnostics.reason.length > 0 ? "forbid" : "none";
  }

  /** Configured entities, those of the request replacing ones with the same uid (ToolHive). */
  #merge(request: EntityJson[]): EntityJson[] {
    const replaced = new Set(
      request.map((e) => uidKey(e.uid)).filter((k) => this.#entityKeys.has(k)),
    );
    if (replaced.size === 0) return [...this.#entities, ...request];
    return [...this.#entities.filter((e) => !replaced.has(uidKey(e.uid))), ...request];
  }

  /** Frees the engine's copy of the policy set. */
  dispose(): void {
    this.#slices?.dispose();
    cedar.preparsePolicySet(this.#id, { staticPolicies: {} });
  }
}

function uidKey(uid: cedar.EntityUidJson): string {
  const u = "__entity" in uid ? uid.__entity : uid;
  return `${u.type}\u0000${u.id}`;
}

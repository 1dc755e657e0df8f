/**
 * Cedar authorization with the real engine (`@cedar-policy/cedar-wasm`), using ToolHive's entity
 * model so its policies work unchanged (pkg/authz/authorizers/cedar):
 *
 * - principal `Client::"<sub>"`, attributes `claim_<name>` for every token claim, parents
 *   `THVGroup::"<g>"` for the entries of the first of the `groups`, `roles`, `cognito:groups`
 *   claims that is an array;
 * - actions `Action::"call_tool"`, `Action::"get_prompt"`, `Action::"read_resource"` (attribute
 *   `operation`);
 * - resources `Tool::"<advertised name>"`, `Prompt::"<advertised name>"`, `Resource::"<uri>"`
 *   with `name`, `operation`, `feature`, `backend` (parent `Backend::"<backend>"`), a tool's
 *   annotation hints, `uri` for resources, and the call's arguments as `arg_<name>` (scalars;
 *   others as `arg_<name>_present`);
 * - context: the `claim_*` and `arg_*` values.
 *
 * Claims and arguments go to the engine only when some policy mentions them (`claim_`, `arg_`,
 * `context`), which also tells the caches whether a decision depends on the arguments.
 * @module
 */
import * as cedar from "@cedar-policy/cedar-wasm";
import type { Identity } from "../../core/auth/identity.ts";
import { type CedarSource, entitiesProblems, policyProblems } from "../../core/authz/policies.ts";
import { ConfigError } from "../../core/config/problems.ts";
import { PolicySlices } from "./slices.ts";

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

function groupsOf(claims: Record<string, unknown>): string[] {
  for (const name of GROUP_CLAIMS) {
    const v = claims[name];
    if (Array.isArray(v)) return [...new Set(v.filter((g): g is string => typeof g === "string"))];
  }
  return [];
}

/** A caller as the engine sees it (built once per principal; see gate.ts). */
export interface CedarPrincipal {
  uid: { type: "Client"; id: string };
  entity: EntityJson;
  /** `claim_*` values (the context's part from the token). */
  claims: Record<string, Json>;
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

  private constructor(src: CedarSource, entities: EntityJson[], slicing: boolean) {
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
    this.#slices = slicing ? new PolicySlices(staticPolicies, this.#id) : undefined;
  }

  /** Checks and compiles `src`; throws `ConfigError` naming each bad policy's line and column. */
  static create(
    src: CedarSource,
    path = "incomingAuth.authzConfig.inline",
    opts: { slicing?: boolean } = {},
  ): CedarAuthorizer {
    const problems = [
      ...(src.policies.length === 0
        ? [{ path: `${path}.policies`, message: "At least one Cedar policy is required" }]
        : []),
      ...policyProblems(src.policies, `${path}.policies`),
      ...entitiesProblems(src.entitiesJson, `${path}.entitiesJson`),
    ];
    if (problems.length > 0) throw new ConfigError(problems, "Cedar authorization config");
    return new CedarAuthorizer(
      src,
      JSON.parse(src.entitiesJson) as EntityJson[],
      opts.slicing ?? true,
    );
  }

  /** True when some policy's text contains `s` (e.g. an attribute name). */
  mentions(s: string): boolean {
    return this.#text.includes(s);
  }

  /** The engine's view of `identity` (compute once per principal). */
  principal(identity: Identity): CedarPrincipal {
    const uid = { type: "Client" as const, id: identity.subject };
    const claims = claimAttributes(identity.claims);
    const parents = groupsOf(identity.claims).map((id) => ({ type: "THVGroup", id }));
    return {
      uid,
      claims,
      entity: { uid, attrs: this.#usesClaims ? claims : {}, parents },
    };
  }

  /** One decision of the engine: true only when some policy permits and none forbids. */
  isAuthorized(
    principal: CedarPrincipal,
    action: AuthzAction,
    resource: AuthzResource,
    args?: Record<string, unknown>,
  ): boolean {
    // Only the policies whose scope may match (slices.ts); none that permits: deny.
    const set = this.#slices ? this.#slices.setFor(action, resource.type, resource.id) : this.#id;
    if (set === null) return false;
    const argAttrs = this.usesArguments && resource.type !== "Resource"
      ? argumentAttributes(args)
      : {};
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
    if (resource.backend !== undefined) attrs.backend = resource.backend;
    const resourceUid = { type: resource.type, id: resource.id };
    const actionUid = { type: "Action", id: action };
    const request: EntityJson[] = [
      principal.entity,
      { uid: actionUid, attrs: { operation: action }, parents: [] },
      {
        uid: resourceUid,
        attrs,
        parents: resource.backend === undefined ? [] : [{ type: "Backend", id: resource.backend }],
      },
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
    return answer.type === "success" && answer.response.decision === "allow";
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

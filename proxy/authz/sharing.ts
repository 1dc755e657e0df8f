/**
 * Which parts of a request a policy set can observe, read from the engine's own JSON form of
 * each policy (`policyToJson`), so that decisions can be shared between requests that differ
 * only in parts no policy reads:
 *
 * - the caller: its subject (the `Client::` uid) only when a policy compares or uses
 *   `principal` as a whole (`==`, `in` something that may be a `Client`, in a set, …) or names a
 *   `Client::` entity; its claims only as far as some policy reads `claim_<name>` (of
 *   `principal`, `context` or any expression that may be one of them; a `has` path counts by
 *   its first name), all of them (per-token ones such as `exp` included) when `context` is used
 *   as a whole; its groups (its `THVGroup` parents) always. `principalKey()` is that projection: callers with equal keys
 *   get equal decisions (gate.ts shares one principal state between them).
 * - the item: its id (`Tool::"<name>"`, …) only for the policies that read `resource.name`,
 *   `.uri` or `.uriTemplate`, use `resource` as a whole, or ask `resource in` an entity of an
 *   item type; a `resource == T::"id"` scope is already settled by the policy slice the request
 *   is decided with (slices.ts). `idSensitive[i]` says so for policy `i`.
 *
 * Anything not understood counts as reading everything (never shared wrongly).
 * @module
 */
import * as cedar from "@cedar-policy/cedar-wasm";

const ITEM_TYPES = new Set(["Tool", "Prompt", "Resource"]);
const ID_ATTRS = new Set(["name", "uri", "uriTemplate"]);

/** What one policy reads of the principal and the resource. */
interface Reads {
  subject: boolean;
  allClaims: boolean;
  claims: Set<string>;
  resourceId: boolean;
}

type Node = unknown;

function entityTypes(n: Node): string[] | undefined {
  // A literal entity, or a set of them; undefined: not a literal.
  const o = n as Record<string, unknown>;
  if (o && typeof o === "object" && "Value" in o) {
    const v = o.Value as { __entity?: { type: string } };
    return v && typeof v === "object" && v.__entity ? [v.__entity.type] : undefined;
  }
  if (o && typeof o === "object" && Array.isArray(o.Set)) {
    const all = (o.Set as Node[]).map(entityTypes);
    return all.every((x) => x !== undefined) ? all.flat() as string[] : undefined;
  }
  return undefined;
}

function isVar(n: Node, name: string): boolean {
  return !!n && typeof n === "object" && (n as { Var?: string }).Var === name;
}

function walk(n: Node, r: Reads): void {
  if (Array.isArray(n)) {
    for (const x of n) walk(x, r);
    return;
  }
  if (!n || typeof n !== "object") return;
  const o = n as Record<string, unknown>;
  for (const op of [".", "has"]) {
    const acc = o[op] as { left?: Node; attr?: string | string[] } | undefined;
    if (!acc || typeof acc !== "object") continue;
    // `has` may test a path (`principal has claim_a.b`): its first name is the attribute.
    const attr = Array.isArray(acc.attr) ? acc.attr[0] : acc.attr;
    if (typeof attr !== "string") continue;
    // A claim read through any expression (`(if c then principal else …).claim_x`,
    // `{p: principal}.p.claim_x`) is still that claim: its name alone keys it.
    if (attr.startsWith("claim_")) r.claims.add(attr.slice("claim_".length));
    if (isVar(acc.left, "principal") || isVar(acc.left, "context")) return;
    if (isVar(acc.left, "resource")) {
      if (ID_ATTRS.has(attr)) r.resourceId = true;
      return;
    }
    walk(acc.left, r);
    return;
  }
  const inOp = o.in as { left?: Node; right?: Node } | undefined;
  if (inOp && typeof inOp === "object") {
    const types = entityTypes(inOp.right);
    if (isVar(inOp.left, "principal")) {
      if (!types || types.includes("Client")) r.subject = true;
      if (!types) walk(inOp.right, r);
      return;
    }
    if (isVar(inOp.left, "resource")) {
      if (!types || types.some((t) => ITEM_TYPES.has(t))) r.resourceId = true;
      if (!types) walk(inOp.right, r);
      return;
    }
  }
  const isOp = o.is as { left?: Node; in?: Node } | undefined;
  if (
    isOp && typeof isOp === "object" &&
    (isVar(isOp.left, "principal") || isVar(isOp.left, "resource"))
  ) {
    if (isOp.in !== undefined) walk({ in: { left: isOp.left, right: isOp.in } }, r);
    return;
  }
  if (typeof o.Var === "string") {
    if (o.Var === "principal") r.subject = true;
    else if (o.Var === "resource") r.resourceId = true;
    else if (o.Var === "context") r.allClaims = true;
    return;
  }
  if ("Value" in o) {
    if (JSON.stringify(o.Value).includes('"Client"')) r.subject = true;
    return;
  }
  for (const v of Object.values(o)) walk(v, r);
}

function readsOf(text: string): Reads {
  const r: Reads = { subject: false, allClaims: false, claims: new Set(), resourceId: false };
  const answer = cedar.policyToJson(text);
  if (answer.type !== "success") {
    return { subject: true, allClaims: true, claims: new Set(), resourceId: true };
  }
  const { principal, resource, conditions } = answer.json as unknown as {
    principal: { op: string; entity?: Node; entities?: Node[]; in?: Node };
    resource: { op: string; entity?: Node; entities?: Node[]; in?: Node };
    conditions: { body: Node }[];
  };
  const uidType = (u: Node) => {
    // `is T in E` scopes wrap the entity: `{in: {entity: E}}`.
    const w = u as { entity?: Node } | undefined;
    const x = (w?.entity ?? u) as { type?: string; __entity?: { type: string } } | undefined;
    return x?.__entity?.type ?? x?.type;
  };
  if (principal.op === "==" || principal.op === "in" || principal.in !== undefined) {
    const ents = principal.in !== undefined
      ? [principal.in]
      : principal.entity !== undefined
      ? [principal.entity]
      : principal.entities ?? [];
    if (
      ents.length === 0 || ents.some((e) => uidType(e) === "Client" || uidType(e) === undefined)
    ) {
      r.subject = true;
    }
  }
  if (resource.op === "in" || resource.in !== undefined) {
    const ents = resource.in !== undefined
      ? [resource.in]
      : resource.entity !== undefined
      ? [resource.entity]
      : resource.entities ?? [];
    if (ents.length === 0 || ents.some((e) => ITEM_TYPES.has(uidType(e) ?? "Tool"))) {
      r.resourceId = true;
    }
  }
  for (const c of conditions) walk(c.body, r);
  return r;
}

/** What a policy set reads (module doc). */
export class PolicyReads {
  /** Per policy: its decision may depend on the item's id beyond its scope. */
  readonly idSensitive: boolean[];
  readonly #subject: boolean;
  readonly #allClaims: boolean;
  readonly #claims: string[];

  constructor(policies: readonly string[], entitiesJson: string) {
    const reads = policies.map(readsOf);
    this.idSensitive = reads.map((r) => r.resourceId);
    // Configured entities may point at a Client (e.g. a group listing members).
    this.#subject = reads.some((r) => r.subject) || entitiesJson.includes('"Client"');
    this.#allClaims = reads.some((r) => r.allClaims);
    this.#claims = [...new Set(reads.flatMap((r) => [...r.claims]))].sort();
  }

  /** The caller as the policies can see it; `groups`: its THVGroup parents. */
  principalKey(subject: string, claims: Record<string, unknown>, groups: string[]): string {
    const seen: unknown[] = [this.#subject ? subject : "", [...groups].sort()];
    if (this.#allClaims) {
      // `context` as a whole (compared, put in a record, …): every claim it holds counts.
      const keys = Object.keys(claims);
      seen.push(keys.sort().map((k) => [k, claims[k]]));
    } else {
      for (const k of this.#claims) seen.push(claims[k] === undefined ? null : [claims[k]]);
    }
    return JSON.stringify(seen);
  }
}

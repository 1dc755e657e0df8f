/**
 * Policy slicing: the engine's cost per decision grows with the number of policies, and most
 * of ToolHive's policies name their action and resource in the scope
 * (`action == Action::"call_tool", resource == Tool::"echo"`). A policy whose scope cannot
 * match a request is not applicable to it: it is never satisfied and its conditions are never
 * evaluated, so leaving it out changes nothing. Each request is decided by the Cedar engine over
 * the policies whose scope may match (each distinct subset preparsed once); when none of them
 * is a permit the answer is deny (Cedar's default) without asking the engine.
 *
 * The scope is read from the engine's own JSON form of each policy (`policyToJson`). Only
 * action constraints (`==`, `in` a list: request actions have no parents) and resource `==`
 * and `is` constraints narrow a slice; everything else (principal constraints, resource `in`)
 * keeps the policy.
 * @module
 */
import * as cedar from "@cedar-policy/cedar-wasm";

interface Scope {
  permit: boolean;
  /** Action ids the policy may apply to; undefined: any. */
  actions?: Set<string> | undefined;
  /** Resource type it may apply to; undefined: any. */
  resourceType?: string | undefined;
  /** Resource id (with `resourceType`) for `resource == T::"id"`. */
  resourceId?: string | undefined;
}

type Uid = { type: string; id: string } | { __entity: { type: string; id: string } };
const plain = (u: Uid) => ("__entity" in u ? u.__entity : u);

function scopeOf(text: string): Scope {
  const answer = cedar.policyToJson(text);
  if (answer.type !== "success") return { permit: true };
  const { action, resource, effect } = answer.json;
  const scope: Scope = { permit: effect === "permit" };
  if (action.op === "==" && "entity" in action) {
    const a = plain(action.entity as Uid);
    if (a.type === "Action") scope.actions = new Set([a.id]);
  } else if (action.op === "in") {
    const list = "entities" in action ? action.entities : [action.entity];
    const uids = (list as Uid[]).map(plain);
    if (uids.every((u) => u.type === "Action")) scope.actions = new Set(uids.map((u) => u.id));
  }
  if (resource.op === "==" && "entity" in resource) {
    const r = plain(resource.entity as Uid);
    scope.resourceType = r.type;
    scope.resourceId = r.id;
  } else if (resource.op === "is") {
    scope.resourceType = resource.entity_type;
  }
  return scope;
}

/** Bound of the request → slice map (more distinct requests use the full set). */
const MAX_REQUESTS = 8192;
/**
 * Ids (a client's URIs can be megabytes) longer than this are never kept in a cache of the
 * authorization (here, in gate.ts and in cedar.ts): decided each time, so a caller cannot make
 * the caches hold gigabytes.
 */
export const MAX_CACHED_ID_LENGTH = 1024;

/** Preparsed policy subsets per request shape (action, resource type, resource id). */
export class PolicySlices {
  readonly #policies: Record<string, string>;
  readonly #scopes: Scope[];
  readonly #ids: string[];
  readonly #prefix: string;
  readonly #full: string;
  /** Slice key (policy indices) → preparsed set id, or null when no permit applies. */
  readonly #slices = new Map<string, string | null>();
  readonly #byRequest = new Map<string, string | null>();
  /** Per policy: reads the item's id beyond its scope (sharing.ts). */
  readonly #idSensitive: readonly boolean[];
  /** The preparsed sets whose decisions may depend on the item's id. */
  readonly #sensitiveSets = new Set<string>();

  /**
   * `full`: the preparsed id of the whole set; slices get ids `${full}/…`. `idSensitive[i]`:
   * policy `i` reads the item's id beyond its scope (default: all do).
   */
  constructor(policies: Record<string, string>, full: string, idSensitive?: readonly boolean[]) {
    this.#idSensitive = idSensitive ?? Object.keys(policies).map(() => true);
    this.#policies = policies;
    this.#ids = Object.keys(policies);
    this.#scopes = this.#ids.map((id) => scopeOf(policies[id]!));
    this.#full = full;
    this.#prefix = `${full}/`;
  }

  /** The preparsed set to decide this request with; null: no permit applies (deny). */
  setFor(action: string, type: string, id: string): string | null {
    const key = `${action}\u0000${type}\u0000${id}`;
    const known = this.#byRequest.get(key);
    if (known !== undefined) return known;
    const picked: number[] = [];
    let permits = false;
    this.#scopes.forEach((s, i) => {
      if (s.actions && !s.actions.has(action)) return;
      if (s.resourceType !== undefined && s.resourceType !== type) return;
      if (s.resourceId !== undefined && s.resourceId !== id) return;
      picked.push(i);
      if (s.permit) permits = true;
    });
    let set: string | null;
    if (!permits) set = null;
    else if (picked.length === this.#ids.length) {
      set = this.#full;
      if (this.#idSensitive.some((x) => x)) this.#sensitiveSets.add(set);
    } else {
      const sliceKey = picked.join(",");
      const existing = this.#slices.get(sliceKey);
      if (existing !== undefined) set = existing;
      else {
        set = `${this.#prefix}${this.#slices.size}`;
        const staticPolicies = Object.fromEntries(
          picked.map((i) => [this.#ids[i]!, this.#policies[this.#ids[i]!]!]),
        );
        if (cedar.preparsePolicySet(set, { staticPolicies }).type !== "success") set = this.#full;
        if (set === this.#full || picked.some((i) => this.#idSensitive[i])) {
          this.#sensitiveSets.add(set);
        }
        this.#slices.set(sliceKey, set);
      }
    }
    if (id.length > MAX_CACHED_ID_LENGTH) return set;
    if (this.#byRequest.size >= MAX_REQUESTS) this.#byRequest.clear();
    this.#byRequest.set(key, set);
    return set;
  }

  /** Requests whose slice is remembered now. */
  get cachedRequests(): number {
    return this.#byRequest.size;
  }

  /**
   * Whether decisions with `set` (from `setFor`) may differ between items of the same type,
   * backend and annotations: some policy in it reads the item's id beyond the scope that put
   * it in the slice (a `resource == T::"id"` scope is settled by the slice itself).
   */
  idSensitive(set: string): boolean {
    return this.#sensitiveSets.has(set);
  }

  /** Frees the engine's copies of the slices. */
  dispose(): void {
    for (const id of this.#slices.values()) {
      if (id !== null && id !== this.#full) cedar.preparsePolicySet(id, { staticPolicies: {} });
    }
    this.#slices.clear();
    this.#byRequest.clear();
  }
}

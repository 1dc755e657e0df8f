/**
 * One Cedar decision per (caller, item) both filters the lists a caller sees and gates its
 * calls (proxy/router.ts and the call paths beside it ask here). Decisions are cached:
 *
 * - per principal, as far as the policies can tell callers apart (sharing.ts: the subject only
 *   when a policy uses it, the claims some policy reads, the groups; per-token claims such as
 *   `exp` only when a policy reads them), so callers with the same rights share decisions and
 *   lists; at most `maxPrincipals` principals (least recently used dropped);
 * - inside a principal, the engine's decisions by (policy slice, item as the slice's policies
 *   see it: type, backend, annotations, and the id only when a policy reads it), so a first list
 *   asks the engine once per distinct kind of item (cedar.ts);
 * - per item object (a tool, prompt or resource of the current lists: a recompute makes new
 *   objects, so changed annotations are decided again), or per URI for resources read by
 *   template (bounded per principal);
 * - a filtered list per (principal, list), shared between principals allowed the same items, so
 *   its page texts (preserialized.ts) are computed once per distinct set.
 *
 * Decisions that depend on a call's arguments (a policy mentions `arg_`) are never cached.
 * A new policy set gets a new gate (no stale decisions).
 * @module
 */
import type { Identity } from "../../core/auth/identity.ts";
import type { AuthzAction, AuthzResource, CedarAuthorizer, CedarPrincipal } from "./cedar.ts";
import { MAX_CACHED_ID_LENGTH } from "./slices.ts";

/** Keyed decisions (resources by URI) kept per principal. */
const MAX_KEYED = 1024;
/** Distinct allowed sets kept per list. */
const MAX_SHARED = 256;

interface PrincipalState {
  cedar: CedarPrincipal;
  byItem: WeakMap<object, boolean>;
  byKey: Map<string, boolean>;
  lists: WeakMap<readonly unknown[], readonly unknown[]>;
}

export interface AuthzGateOptions {
  /** Principals whose decisions are cached. @default 1024 */
  maxPrincipals?: number;
}

export class AuthzGate {
  readonly #cedar: CedarAuthorizer;
  readonly #max: number;
  readonly #principals = new Map<string, PrincipalState>();
  readonly #byIdentity = new WeakMap<Identity, PrincipalState>();
  readonly #shared = new WeakMap<readonly unknown[], Map<string, readonly unknown[]>>();

  constructor(authorizer: CedarAuthorizer, opts: AuthzGateOptions = {}) {
    this.#cedar = authorizer;
    this.#max = opts.maxPrincipals ?? 1024;
  }

  /** Principals whose decisions are cached now. */
  get cachedPrincipals(): number {
    return this.#principals.size;
  }

  get authorizer(): CedarAuthorizer {
    return this.#cedar;
  }

  #fingerprint(identity: Identity): string {
    return this.#cedar.principalKey(identity);
  }

  #principal(identity: Identity): PrincipalState {
    let p = this.#byIdentity.get(identity);
    if (p && this.#principals.get(this.#fingerprintOf(p)) === p) return p;
    const fp = this.#fingerprint(identity);
    p = this.#principals.get(fp);
    if (p) {
      this.#principals.delete(fp); // most recently used last
    } else {
      p = {
        cedar: this.#cedar.principal(identity),
        byItem: new WeakMap(),
        byKey: new Map(),
        lists: new WeakMap(),
      };
      fingerprints.set(p, fp);
      if (this.#principals.size >= this.#max) {
        this.#principals.delete(this.#principals.keys().next().value!);
      }
    }
    this.#principals.set(fp, p);
    this.#byIdentity.set(identity, p);
    return p;
  }

  #fingerprintOf(p: PrincipalState): string {
    return fingerprints.get(p)!;
  }

  /**
   * Whether `identity` may do `action` on `resource`. `item` (the listed object) keys the
   * cached decision; without it resources are keyed by URI and other kinds are not cached.
   */
  allows(
    identity: Identity,
    action: AuthzAction,
    resource: AuthzResource,
    item?: object,
    args?: Record<string, unknown>,
  ): boolean {
    const p = this.#principal(identity);
    if (this.#cedar.usesArguments && resource.type !== "Resource") {
      return this.#cedar.isAuthorized(p.cedar, action, resource, args);
    }
    if (item) {
      let d = p.byItem.get(item);
      if (d === undefined) {
        d = this.#cedar.isAuthorized(p.cedar, action, resource);
        p.byItem.set(item, d);
      }
      return d;
    }
    if (resource.id.length > MAX_CACHED_ID_LENGTH) {
      return this.#cedar.isAuthorized(p.cedar, action, resource); // never kept (slices.ts)
    }
    const key = `${resource.type}\u0000${resource.backend ?? ""}\u0000${resource.id}`;
    let d = p.byKey.get(key);
    if (d === undefined) {
      d = this.#cedar.isAuthorized(p.cedar, action, resource);
      if (p.byKey.size >= MAX_KEYED) p.byKey.clear();
      p.byKey.set(key, d);
    }
    return d;
  }

  /**
   * The items of `list` `identity` may use (the list itself when all are allowed), the same
   * array for every call with the same list and allowed set.
   */
  visible<T extends object>(
    identity: Identity,
    action: AuthzAction,
    list: readonly T[],
    describe: (item: T) => AuthzResource,
  ): readonly T[] {
    const p = this.#principal(identity);
    const known = p.lists.get(list);
    if (known) return known as readonly T[];
    const allowed: T[] = [];
    const bits: number[] = [];
    list.forEach((item, i) => {
      // List filtering never sees arguments: decided (and cached) as a call without them.
      const d = p.byItem.get(item) ?? this.#decide(p, action, describe(item), item);
      if (d) {
        allowed.push(item);
        bits.push(i);
      }
    });
    let out: readonly T[] = allowed.length === list.length ? list : allowed;
    if (out !== list) {
      let shared = this.#shared.get(list);
      if (!shared) this.#shared.set(list, shared = new Map());
      const key = bits.join(",");
      const same = shared.get(key);
      if (same) out = same as readonly T[];
      else if (shared.size < MAX_SHARED) shared.set(key, out);
    }
    p.lists.set(list, out);
    return out;
  }

  #decide(p: PrincipalState, action: AuthzAction, resource: AuthzResource, item: object): boolean {
    const d = this.#cedar.isAuthorized(p.cedar, action, resource);
    p.byItem.set(item, d);
    return d;
  }

  /** Frees the engine's policy set (the gate must not be used afterwards). */
  dispose(): void {
    this.#principals.clear();
    this.#cedar.dispose();
  }
}

const fingerprints = new WeakMap<PrincipalState, string>();

/**
 * The rate limiter the router asks before every `tools/call` (RouterState.rateLimits): which
 * buckets a call takes from, and the refusal when one is empty.
 *
 * A call takes one token from each bucket that applies, all or nothing: `global`, `perUser`
 * (the caller's identity key, issuer + subject), and for the called tool its `global` and
 * `perUser` (`rateLimiting.tools[]`, matched on the name the client called). A composite
 * tool's call counts as a call of that tool; each of its steps counts only against the
 * per-tool limits of the tool the step calls (the composite call already paid the server-wide
 * ones). Only `tools/call` is limited (as in ToolHive); `prompts/get` and `resources/read` are
 * not. With tool search on (`optimizer`), a `call_tool` counts as a call of the tool it names;
 * a `find_tool` search counts only against a `tools[]` entry named `find_tool` (its own
 * `global`/`perUser`), never against the server-wide buckets (proxy/tool_calls.ts).
 * @module
 */
import { type Identity, identityKey } from "../../core/auth/identity.ts";
import { parseDuration } from "../../core/duration.ts";
import {
  type BucketSpec,
  retryAfterSeconds,
  type TakeDecision,
} from "../../core/rate_limit/token_bucket.ts";
import type { RateLimitBucket, RateLimiting } from "../../crds/rate_limit.ts";
import { type LimitInfo, RateLimitedError, type RateLimitScope } from "./errors.ts";
import type { RateLimitMetrics } from "./metrics.ts";

/** Where buckets live: this process (sync) or Redis (async). */
export interface BucketStore {
  take(keys: readonly string[], specs: readonly BucketSpec[]): TakeDecision | Promise<TakeDecision>;
}

interface Limit extends BucketSpec {
  info: LimitInfo;
}

interface ToolLimits {
  global?: Limit | undefined;
  perUser?: Limit | undefined;
  /** Bucket key of `global` (built once). */
  globalKey: string;
  /** Bucket key prefix of `perUser` (the identity key follows). */
  userPrefix: string;
}

function limit(
  b: RateLimitBucket | undefined,
  scope: RateLimitScope,
  tool?: string,
): Limit | undefined {
  if (!b) return undefined;
  return {
    maxTokens: b.maxTokens,
    refillMs: parseDuration(b.refillPeriod),
    // One bucket for every caller: never evicted from a bounded store (memory_buckets.ts).
    shared: scope === "global" || scope === "tool",
    info: { scope, tool, maxTokens: b.maxTokens, refillPeriod: b.refillPeriod },
  };
}

export class RateLimiter {
  readonly #global: Limit | undefined;
  readonly #perUser: Limit | undefined;
  readonly #tools = new Map<string, ToolLimits>();
  readonly #store: BucketStore;
  readonly #metrics: RateLimitMetrics;

  /** `config` is validated (crds/rate_limit.ts): durations parse, maxTokens >= 1. */
  constructor(config: RateLimiting, store: BucketStore, metrics: RateLimitMetrics) {
    this.#global = limit(config.global ?? config.shared, "global");
    this.#perUser = limit(config.perUser, "perUser");
    for (const t of config.tools ?? []) {
      // Length-prefixed: no tool name can make one key look like another's.
      const id = `${t.name.length}:${t.name}`;
      this.#tools.set(t.name, {
        global: limit(t.global ?? t.shared, "tool", t.name),
        perUser: limit(t.perUser, "toolPerUser", t.name),
        globalKey: `t:${id}`,
        userPrefix: `tu:${id}:`,
      });
    }
    this.#store = store;
    this.#metrics = metrics;
  }

  /** The tool names `rateLimiting.tools` limits. */
  get toolNames(): IterableIterator<string> {
    return this.#tools.keys();
  }

  /**
   * Takes a token for `identity` calling `tool`; `step`: a composite tool's step (per-tool
   * limits only). Returns undefined when allowed at once, a promise when the store is remote;
   * throws (or rejects with) `RateLimitedError` when refused.
   */
  check(identity: Identity, tool: string, step = false): Promise<void> | undefined {
    const keys: string[] = [];
    const limits: Limit[] = [];
    let user: string | undefined;
    if (!step) {
      if (this.#global) {
        keys.push("g");
        limits.push(this.#global);
      }
      if (this.#perUser) {
        user = identityKey(identity);
        keys.push(`u:${user}`);
        limits.push(this.#perUser);
      }
    }
    const t = this.#tools.get(tool);
    if (t?.global) {
      keys.push(t.globalKey);
      limits.push(t.global);
    }
    if (t?.perUser) {
      keys.push(t.userPrefix + (user ?? identityKey(identity)));
      limits.push(t.perUser);
    }
    if (keys.length === 0) return undefined;
    const d = this.#store.take(keys, limits);
    if (d instanceof Promise) return d.then((r) => this.#settle(r, limits));
    this.#settle(d, limits);
    return undefined;
  }

  #settle(d: TakeDecision, limits: Limit[]): void {
    if (d.allowed) return;
    const info = limits[d.index]!.info;
    this.#metrics.refused(info.scope, info.tool);
    throw new RateLimitedError(info, retryAfterSeconds(d.retryAfterMs));
  }
}

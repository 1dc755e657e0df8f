/**
 * MCP request routing: what each client request does against the aggregated view and the
 * backends. Lists are served here, from precomputed arrays (one page text cached per list
 * version); calls (tool_calls.ts) and reads, subscriptions, prompts and completions
 * (resource_prompt_calls.ts) go to the backend that owns the advertised name or URI, with the
 * original name, `_meta` (minus reserved keys), progress relay and cancellation. Backend answers
 * and errors come back untouched. A call to an extra (composite) tool first checks every
 * backend it needs is routable (the runtime leaves it out of `tools/list` otherwise) and fails
 * with that backend's `BackendUnavailableError` if not.
 * With Cedar authorization (`RouterState.authz`, authz/gate.ts) lists show each caller only
 * what it may use, and a refused call, prompt or read is answered exactly as one of a name that
 * does not exist; composite tools are authorized as themselves and each step again. With the
 * audit trail on (`RouterState.audit`, proxy/audit/) each call, get and read is recorded (a
 * refusal as `denied`: the `AuthzDeniedError` it throws answers like an unknown name).
 * With rate limits (`RouterState.rateLimits`, rate_limit/limiter.ts) a `tools/call` takes its
 * tokens after authorization, before any backend sees it; composite steps count per tool.
 * The state's types live in router_state.ts and are re-exported here.
 * @module
 */
import { paginate } from "../core/aggregation/mod.ts";
import type { Identity } from "../core/auth/identity.ts";
import {
  visiblePrompts,
  visibleResources,
  visibleResourceTemplates,
  visibleTools,
} from "./authz/route_checks.ts";
import type { ClientCapabilities } from "../core/sdk.ts";
import type { Backend } from "./backends/backend.ts";
import type { AnyObject, SessionPeer } from "./backends/connection.ts";
import { BACKEND_UNAVAILABLE, RpcError } from "./backends/errors.ts";
import { PageTextCache } from "./preserialized.ts";
import type { RequestExtra, RouterState } from "./router_state.ts";
import { viewsOf } from "./request_forwarding.ts";
import { callTool } from "./tool_calls.ts";
import {
  complete,
  getPrompt,
  readResource,
  resourceBackend,
  subscribe,
  unsubscribe,
} from "./resource_prompt_calls.ts";

export type {
  ExtraTool,
  ExtraToolContext,
  Lists,
  RequestExtra,
  RouterState,
} from "./router_state.ts";
export { cleanResult, forwardMeta } from "./request_forwarding.ts";
export { checkSubscriptionBounds } from "./resource_prompt_calls.ts";

/** Items per page of every list answered to clients. */
export const PAGE_SIZE = 1000;

export class Router {
  constructor(readonly state: RouterState) {}

  async #failFast(): Promise<void> {
    await this.state.ready();
    const failing = this.state.failingBackends();
    if (failing.length === 0) return;
    const list = failing.map((f) => `"${f.name}" (${f.reason})`).join(", ");
    throw new RpcError(
      BACKEND_UNAVAILABLE,
      `Unavailable backend(s) with partialFailureMode "fail": ${list}`,
      { backends: failing },
    );
  }

  /** List pages carry their JSON text, serialized once per list version (ADR 0004). */
  readonly #pageTexts = new PageTextCache();

  #page(key: string, items: readonly unknown[], params: AnyObject | undefined): AnyObject {
    const cursor = params?.cursor as string | undefined;
    const page = paginate(items, cursor, PAGE_SIZE);
    const result: AnyObject = page.nextCursor
      ? { [key]: page.items, nextCursor: page.nextCursor }
      : { [key]: page.items };
    return this.#pageTexts.mark(items, cursor, result);
  }

  /** `caps`: the capabilities the caller declared (what it is listed depends on them). */
  async listTools(
    params: AnyObject | undefined,
    identity?: Identity,
    caps?: ClientCapabilities,
  ): Promise<AnyObject> {
    await this.#failFast();
    const optimizer = this.state.optimizer;
    if (optimizer !== undefined) return this.#page("tools", optimizer.tools, params);
    const views = await viewsOf(this.state, caps);
    return this.#page("tools", visibleTools(this.state, identity, views), params);
  }

  async listResources(
    params: AnyObject | undefined,
    identity?: Identity,
    caps?: ClientCapabilities,
  ): Promise<AnyObject> {
    await this.#failFast();
    const views = await viewsOf(this.state, caps);
    return this.#page("resources", visibleResources(this.state, identity, views), params);
  }

  async listResourceTemplates(
    params: AnyObject | undefined,
    identity?: Identity,
    caps?: ClientCapabilities,
  ): Promise<AnyObject> {
    await this.#failFast();
    const views = await viewsOf(this.state, caps);
    const templates = visibleResourceTemplates(this.state, identity, views);
    return this.#page("resourceTemplates", templates, params);
  }

  async listPrompts(
    params: AnyObject | undefined,
    identity?: Identity,
    caps?: ClientCapabilities,
  ): Promise<AnyObject> {
    await this.#failFast();
    const views = await viewsOf(this.state, caps);
    return this.#page("prompts", visiblePrompts(this.state, identity, views), params);
  }

  /** `tools/call` (tool_calls.ts). */
  callTool(session: SessionPeer, params: AnyObject, extra: RequestExtra): Promise<AnyObject> {
    return callTool(this.state, session, params, extra);
  }

  /**
   * The backend that serves `uri` for `identity` (as `resources/read` routes and authorizes it);
   * throws as it would.
   */
  resourceBackend(identity: Identity, uri: unknown): Backend {
    return resourceBackend(this.state, identity, uri);
  }

  readResource(session: SessionPeer, params: AnyObject, extra: RequestExtra): Promise<AnyObject> {
    return readResource(this.state, session, params, extra);
  }

  /**
   * The client of `session` says its roots changed: each backend session that is its own hears
   * it (and asks it again); shared ones do not (ADR 0006: nothing they ask could be attributed).
   */
  rootsChanged(session: SessionPeer): void {
    this.state.clientRootsChanged?.(session);
  }

  subscribe(
    session: SessionPeer & { subscriptions: Set<string> },
    params: AnyObject,
    extra: RequestExtra,
  ): Promise<AnyObject> {
    return subscribe(this.state, session, params, extra);
  }

  unsubscribe(
    session: SessionPeer & { subscriptions: Set<string> },
    params: AnyObject,
    extra: RequestExtra,
  ): Promise<AnyObject> {
    return unsubscribe(this.state, session, params, extra);
  }

  getPrompt(session: SessionPeer, params: AnyObject, extra: RequestExtra): Promise<AnyObject> {
    return getPrompt(this.state, session, params, extra);
  }

  complete(session: SessionPeer, params: AnyObject, extra: RequestExtra): Promise<AnyObject> {
    return complete(this.state, session, params, extra);
  }
}

/**
 * MCP request routing: what each client request does against the aggregated view and the
 * backends. Lists are served from precomputed arrays; calls go to the backend that owns the
 * advertised name, with the original name, `_meta` (minus reserved keys), progress relay and
 * cancellation. Backend answers and errors come back untouched. A call to an extra (composite)
 * tool first checks every backend it needs is routable (the runtime leaves it out of
 * `tools/list` otherwise) and fails with that backend's `BackendUnavailableError` if not.
 * With Cedar authorization (`RouterState.authz`, authz/gate.ts) lists show each caller only
 * what it may use, and a refused call, prompt or read is answered exactly as one of a name that
 * does not exist; composite tools are authorized as themselves and each step again. With the
 * audit trail on (`RouterState.audit`, proxy/audit/) each call, get and read is recorded (a
 * refusal as `denied`: the `AuthzDeniedError` it throws answers like an unknown name).
 * With rate limits (`RouterState.rateLimits`, rate_limit/limiter.ts) a `tools/call` takes its
 * tokens after authorization, before any backend sees it; composite steps count per tool.
 * @module
 */
import type { AggregatedView } from "../core/aggregation/mod.ts";
import {
  matchResource,
  paginate,
  resolveToolRef,
  type ToolRoute,
} from "../core/aggregation/mod.ts";
import { applyPrefix } from "../core/aggregation/types.ts";
import type { Aggregation } from "../crds/aggregation.ts";
import type { Identity } from "../core/auth/identity.ts";
import {
  mayCallTool,
  mayGetPrompt,
  mayReadResource,
  visiblePrompts,
  visibleResources,
  visibleResourceTemplates,
  visibleTools,
} from "./authz/route_checks.ts";
import {
  type ClientCapabilities,
  ErrorCode,
  type Progress,
  type RequestId,
  type Tool,
} from "../core/sdk.ts";
import type { ViewSet } from "./capability_views.ts";
import type { Backend } from "./backends/backend.ts";
import type { AnyObject, SessionPeer } from "./backends/connection.ts";
import { BACKEND_UNAVAILABLE, BackendUnavailableError, RpcError } from "./backends/errors.ts";
import { PageTextCache } from "./preserialized.ts";
import type { AuthzGate } from "./authz/gate.ts";
import type { RateLimiter } from "./rate_limit/limiter.ts";
import { AuthzDeniedError } from "./authz/denied.ts";
import { MAX_URI_CHARS, MAX_URIS_PER_STREAM } from "./server/listen_filter.ts";
import type { Auditor } from "./audit/auditor.ts";
import { FIND_TOOL, type OptimizerTools } from "./optimizer/meta_tools.ts";

/** Items per page of every list answered to clients. */
export const PAGE_SIZE = 1000;
const RESERVED_META = "io.modelcontextprotocol/";

/** Precomputed list results (sorted), rebuilt when the view or the extra tools change. */
export interface Lists {
  tools: Tool[];
  resources: AnyObject[];
  resourceTemplates: AnyObject[];
  prompts: AnyObject[];
}

/** What a composite (or any extra) tool handler gets. */
export interface ExtraToolContext {
  identity: Identity;
  /** The client's request id: server-to-client requests travel on its response stream. */
  requestId: RequestId;
  /** The calling session: `session.request(...)` relays elicitation/sampling to the client. */
  session: SessionPeer;
  /** Reports progress to the client (no-op when the client sent no progressToken). */
  progress(p: { progress: number; total?: number; message?: string }): void;
  signal: AbortSignal;
  /** Calls any routable tool, hidden ones included (`name` or `backend.originalTool`). */
  callTool(ref: string, args: AnyObject, opts?: { signal?: AbortSignal }): Promise<AnyObject>;
  /** The audit trail (composite workflow and step events); absent when off. */
  audit?: Auditor | undefined;
}

/** A tool served by the proxy itself (the composite-tools seam). */
export interface ExtraTool {
  tool: Tool;
  handler(args: AnyObject, ctx: ExtraToolContext): Promise<AnyObject>;
  /**
   * Backends the handler's calls go to (a composite tool's step backends). While one of them is
   * not routable the tool is left out of `tools/list`, and a call to it fails as a call to a
   * tool of that backend does. Absent or empty: always listed.
   */
  backends?: readonly string[];
}

/** The runtime state the router reads. */
export interface RouterState {
  /** Routable backends only: what clients see. */
  readonly view: AggregatedView;
  /** Every discovered backend (routable or not): for better errors. */
  readonly fullView: AggregatedView;
  readonly lists: Lists;
  readonly extraTools: ReadonlyMap<string, ExtraTool>;
  /** The aggregation settings (strategy and prefix format of unknown names). */
  readonly aggregation?: Aggregation | undefined;
  backend(name: string): Backend | undefined;
  /** Throws `BackendUnavailableError` when the backend must not get requests now. */
  assertRoutable(name: string): void;
  /** `partialFailureMode: fail` → the unavailable backends with reasons, else []. */
  failingBackends(): { name: string; reason: string }[];
  /** Resolves once the first discovery finished. */
  ready(): Promise<void>;
  /**
   * Configured backends whose capabilities were never discovered, with why (and their
   * discovery is asked for now). Read only when a name is unknown.
   */
  undiscoveredBackends(): { name: string; reason: string }[];
  /** Cedar authorization (incomingAuth.authzConfig); absent: everyone may use everything. */
  readonly authz?: AuthzGate | undefined;
  /** Rate limits on tools/call (`rateLimiting`, proxy/rate_limit/); absent when off. */
  readonly rateLimits?: RateLimiter | undefined;
  /** The audit trail (proxy/audit/); absent when off (one null check per request). */
  readonly audit?: Auditor | undefined;
  /** Tool search (`optimizer`, optimizer/meta_tools.ts): clients see find_tool and call_tool. */
  readonly optimizer?: OptimizerTools | undefined;
  /**
   * The views of callers declaring `caps` (capability_views.ts); absent: everyone sees the base
   * views (`view`, `fullView`, `lists`).
   */
  viewsFor?(caps: ClientCapabilities): ViewSet | Promise<ViewSet>;
  /** Forwards a client's `notifications/roots/list_changed` to its own backend sessions. */
  clientRootsChanged?(session: SessionPeer): void;
}

export interface RequestExtra {
  requestId: RequestId;
  signal: AbortSignal;
}

/**
 * A legacy session holds at most as many resource subscriptions, of URIs at most as long, as a
 * 2026-07-28 listen stream (`MAX_URIS_PER_STREAM`, `MAX_URI_CHARS`): each one is held in the
 * session and in the backend's subscriber table until it ends. Throws -32602 past either bound.
 */
export function checkSubscriptionBounds(held: ReadonlySet<string>, uri: string): void {
  if (uri.length > MAX_URI_CHARS) {
    throw invalid(
      `resources/subscribe: params.uri is ${uri.length} characters; at most ${MAX_URI_CHARS} are allowed`,
      { limit: "uriChars", max: MAX_URI_CHARS },
    );
  }
  if (!held.has(uri) && held.size >= MAX_URIS_PER_STREAM) {
    throw invalid(
      `resources/subscribe: this session already holds ${held.size} subscriptions; at most ${MAX_URIS_PER_STREAM} are allowed (unsubscribe first)`,
      { limit: "subscriptionsPerSession", max: MAX_URIS_PER_STREAM },
    );
  }
}

/** Copies `_meta` without reserved keys and without the client's progressToken. */
export function forwardMeta(meta: unknown): AnyObject | undefined {
  if (!meta || typeof meta !== "object") return undefined;
  let out: AnyObject | undefined;
  for (const [k, v] of Object.entries(meta)) {
    if (k === "progressToken" || k.startsWith(RESERVED_META)) continue;
    (out ??= {})[k] = v;
  }
  return out;
}

/** A backend result with reserved `_meta` keys removed (copied only when needed). */
export function cleanResult(result: AnyObject): AnyObject {
  const meta = result._meta;
  if (!meta || typeof meta !== "object") return result;
  if (!Object.keys(meta).some((k) => k.startsWith(RESERVED_META))) return result;
  const cleaned = forwardMeta(meta);
  const { _meta: _, ...rest } = result;
  return cleaned ? { ...rest, _meta: cleaned } : rest;
}

function withMeta(params: AnyObject, meta: unknown): AnyObject {
  const m = forwardMeta(meta);
  if (m) params._meta = m;
  return params;
}

/**
 * A backend that refused a tool call with HTTP 401/403 (missing or rejected credentials): a
 * tool error result naming the backend, so the model sees why instead of a protocol error.
 */
function authRefusal(err: unknown): AnyObject | undefined {
  if (!(err instanceof BackendUnavailableError)) return undefined;
  const status = err.httpStatus;
  if (status !== 401 && status !== 403) return undefined;
  const text = `Backend "${err.backend}" refused the call with HTTP ${status} (${
    status === 401 ? "Unauthorized" : "Forbidden"
  }): the credentials vmcp sent are missing or not accepted; check outgoingAuth for this backend`;
  return { content: [{ type: "text", text }], isError: true };
}

function invalid(message: string, data?: unknown): RpcError {
  return new RpcError(ErrorCode.InvalidParams, message, data);
}

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

  /**
   * The views of a caller declaring `caps` (capability_views.ts): the base ones when it gave
   * none or the state keeps no others.
   */
  #viewsOf(caps: ClientCapabilities | undefined): ViewSet | Promise<ViewSet> {
    const viewsFor = this.state.viewsFor;
    return caps === undefined || viewsFor === undefined
      ? this.state
      : viewsFor.call(this.state, caps);
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
    const views = await this.#viewsOf(caps);
    return this.#page("tools", visibleTools(this.state, identity, views), params);
  }

  async listResources(
    params: AnyObject | undefined,
    identity?: Identity,
    caps?: ClientCapabilities,
  ): Promise<AnyObject> {
    await this.#failFast();
    const views = await this.#viewsOf(caps);
    return this.#page("resources", visibleResources(this.state, identity, views), params);
  }

  async listResourceTemplates(
    params: AnyObject | undefined,
    identity?: Identity,
    caps?: ClientCapabilities,
  ): Promise<AnyObject> {
    await this.#failFast();
    const views = await this.#viewsOf(caps);
    const templates = visibleResourceTemplates(this.state, identity, views);
    return this.#page("resourceTemplates", templates, params);
  }

  async listPrompts(
    params: AnyObject | undefined,
    identity?: Identity,
    caps?: ClientCapabilities,
  ): Promise<AnyObject> {
    await this.#failFast();
    const views = await this.#viewsOf(caps);
    return this.#page("prompts", visiblePrompts(this.state, identity, views), params);
  }

  /** The backend for a route, or an error saying why it cannot take the request. */
  #backendFor(name: string): Backend {
    const backend = this.state.backend(name);
    if (!backend) throw new BackendUnavailableError(name, "not configured any more");
    this.state.assertRoutable(name);
    return backend;
  }

  callTool(session: SessionPeer, params: AnyObject, extra: RequestExtra): Promise<AnyObject> {
    // Tool search on (optimizer/meta_tools.ts): only find_tool and call_tool are callable.
    const optimizer = this.state.optimizer;
    if (optimizer !== undefined) return this.#optimizerCall(optimizer, session, params, extra);
    return this.#auditedCall(session, params, extra);
  }

  /** find_tool / call_tool; call_tool's call takes the plain path below (#auditedCall). */
  #optimizerCall(
    optimizer: OptimizerTools,
    session: SessionPeer,
    params: AnyObject,
    extra: RequestExtra,
  ): Promise<AnyObject> {
    const call = (found?: (count: number) => void) =>
      optimizer.call(params, extra.signal, {
        all: this.state.lists.tools,
        visible: async () => {
          let views = this.#viewsOf(session.clientCapabilities());
          if (views instanceof Promise) views = await views;
          return visibleTools(this.state, session.identity, views);
        },
        callPlain: (inner) => this.#auditedCall(session, inner, extra),
        ...(found ? { found } : {}),
      });
    if (params.name !== FIND_TOOL) return call();
    // find_tool: audited (mcp_tool_search) and limited only by a `rateLimiting.tools[]` entry
    // named find_tool (not by the server-wide global/perUser buckets: a search calls no backend).
    const audit = this.state.audit;
    const limits = this.state.rateLimits;
    const search = async (found?: (count: number) => void) => {
      if (limits) await limits.check(session.identity, FIND_TOOL, true);
      return await call(found);
    };
    if (audit === undefined) return search();
    return audit.toolSearch(session, params, search);
  }

  #auditedCall(session: SessionPeer, params: AnyObject, extra: RequestExtra): Promise<AnyObject> {
    const audit = this.state.audit;
    if (audit === undefined) return this.#callTool(session, params, extra);
    return audit.request(
      "tools/call",
      this.state,
      session,
      params,
      () => this.#callTool(session, params, extra),
    );
  }

  async #callTool(session: SessionPeer, params: AnyObject, extra: RequestExtra) {
    const name = params.name;
    if (typeof name !== "string") throw invalid("tools/call: params.name must be a string");
    const extraTool = this.state.extraTools.get(name);
    if (extraTool) {
      // A tool the caller may not call is unknown to it (the same answer: existence not told).
      if (!mayCallTool(this.state, session.identity, extraTool.tool, undefined, params.arguments)) {
        throw new AuthzDeniedError(`Unknown tool "${name}"`, { tool: name });
      }
      // Not listed while a backend it needs is not routable: refuse as for that backend's tools.
      for (const b of extraTool.backends ?? []) this.#backendFor(b);
      // Counted as a call of the composite tool; its steps count per tool (#callExtra).
      const limits = this.state.rateLimits;
      if (limits) await limits.check(session.identity, name);
      return await this.#callExtra(extraTool, session, params, extra);
    }
    // What the caller would be offered with its capabilities (capability_views.ts).
    let views = this.#viewsOf(session.clientCapabilities());
    if (views instanceof Promise) views = await views;
    let route = views.view.toolRoutes.get(name);
    if (!route || route.hidden) {
      // Not routable in the clients' view. A tool of a discovered backend is either refused as
      // unavailable (#call throws) or, when its backend is routable again (or this call is its
      // trial) before the view is recomputed, routed: never "Unknown tool".
      const known = views.fullView.toolRoutes.get(name);
      if (!known || known.hidden) this.#unknownTool(name);
      route = known;
    }
    if (!mayCallTool(this.state, session.identity, route.tool, route.backend, params.arguments)) {
      throw new AuthzDeniedError(`Unknown tool "${name}"`, { tool: name });
    }
    const limits = this.state.rateLimits;
    if (limits) await limits.check(session.identity, name);
    const meta = params._meta as AnyObject | undefined;
    return await this.#call(session, route, params.arguments as AnyObject | undefined, meta, extra);
  }

  /**
   * Throws for a tool name no discovered backend offers. While a configured backend was never
   * discovered its tools are unknown: under the `prefix` strategy a name with that backend's
   * prefix is refused as unavailable naming it; under `priority`/`manual` (names say nothing
   * about their backend) any unknown name is refused -32003 naming the undiscovered backends.
   * Otherwise -32602 Unknown tool.
   */
  #unknownTool(name: string): never {
    const missing = this.state.undiscoveredBackends();
    if (missing.length > 0) {
      const aggregation = this.state.aggregation;
      const strategy = aggregation?.conflictResolution ?? "prefix";
      if (strategy === "prefix") {
        const format = aggregation?.conflictResolutionConfig?.prefixFormat ?? "{workload}_";
        let owner: { name: string; reason: string } | undefined;
        let longest = -1;
        for (const b of missing) {
          const prefix = applyPrefix(format, b.name, "");
          if (name.startsWith(prefix) && prefix.length > longest) {
            owner = b;
            longest = prefix.length;
          }
        }
        if (owner) {
          throw new BackendUnavailableError(owner.name, `not discovered yet: ${owner.reason}`);
        }
      } else {
        const list = missing.map((b) => `"${b.name}" (${b.reason})`).join(", ");
        throw new RpcError(
          BACKEND_UNAVAILABLE,
          `Unknown tool "${name}" (backend(s) ${list} not yet discovered)`,
          { tool: name, backends: missing },
        );
      }
    }
    throw invalid(`Unknown tool "${name}"`, { tool: name });
  }

  async #call(
    session: SessionPeer,
    route: ToolRoute,
    args: AnyObject | undefined,
    meta: AnyObject | undefined,
    extra: RequestExtra,
    onprogress?: (p: Progress) => void,
  ): Promise<AnyObject> {
    const backend = this.#backendFor(route.backend);
    const out: AnyObject = { name: route.originalName };
    if (args !== undefined) out.arguments = args;
    withMeta(out, meta);
    const token = meta?.progressToken as string | number | undefined;
    const relay = onprogress ?? (token === undefined ? undefined : (p: Progress) => {
      session.notify(
        { method: "notifications/progress", params: { ...p, progressToken: token } },
        extra.requestId,
      )
        .catch(() => {});
    });
    let result: AnyObject;
    try {
      result = await backend.request("tools/call", out, {
        session,
        relatedRequestId: extra.requestId,
        signal: extra.signal,
        ...(relay ? { onprogress: relay } : {}),
      });
    } catch (err) {
      const refused = authRefusal(err);
      if (refused) return refused;
      throw err;
    }
    return cleanResult(result);
  }

  async #callExtra(tool: ExtraTool, session: SessionPeer, params: AnyObject, extra: RequestExtra) {
    const token = (params._meta as AnyObject | undefined)?.progressToken as
      | string
      | number
      | undefined;
    const ctx: ExtraToolContext = {
      identity: session.identity,
      requestId: extra.requestId,
      session,
      signal: extra.signal,
      audit: this.state.audit,
      progress: (p) => {
        if (token === undefined) return;
        session.notify(
          { method: "notifications/progress", params: { ...p, progressToken: token } },
          extra.requestId,
        )
          .catch(() => {});
      },
      callTool: (ref, args, opts) => {
        const route = resolveToolRef(this.state.fullView, ref);
        // Each step is authorized again, as the tool it calls (hidden ones included).
        if (!route) return Promise.reject(invalid(`Unknown tool "${ref}"`, { tool: ref }));
        if (!mayCallTool(this.state, session.identity, route.tool, route.backend, args)) {
          return Promise.reject(new AuthzDeniedError(`Unknown tool "${ref}"`, { tool: ref }));
        }
        const run = () =>
          this.#call(session, route, args, undefined, {
            requestId: extra.requestId,
            signal: opts?.signal ?? extra.signal,
          });
        // A step counts only against the per-tool limits of the tool it calls.
        const limits = this.state.rateLimits;
        if (!limits) return run();
        try {
          const wait = limits.check(session.identity, route.advertisedName, true);
          return wait ? wait.then(run) : run();
        } catch (err) {
          return Promise.reject(err);
        }
      },
    };
    return await tool.handler((params.arguments ?? {}) as AnyObject, ctx);
  }

  /**
   * The backend that serves `uri` for `identity` (as `resources/read` routes and authorizes it);
   * throws as it would.
   */
  resourceBackend(identity: Identity, uri: unknown): Backend {
    this.#assertMayRead(identity, uri);
    return this.#resourceBackend(uri);
  }

  #resourceBackend(uri: unknown): Backend {
    if (typeof uri !== "string") throw invalid("params.uri must be a string");
    const name = matchResource(this.state.view, uri);
    if (name === undefined) {
      const known = matchResource(this.state.fullView, uri);
      if (known !== undefined) return this.#backendFor(known); // as for tools: never "unknown"
      throw invalid(`Unknown resource "${uri}"`, { uri });
    }
    return this.#backendFor(name);
  }

  /** Throws "Unknown resource" (as for one that does not exist) when the caller may not read it. */
  #assertMayRead(identity: Identity, uri: unknown): void {
    if (!mayReadResource(this.state, identity, uri)) {
      throw new AuthzDeniedError(`Unknown resource "${uri}"`, { uri });
    }
  }

  readResource(session: SessionPeer, params: AnyObject, extra: RequestExtra): Promise<AnyObject> {
    const audit = this.state.audit;
    if (audit === undefined) return this.#readResource(session, params, extra);
    return audit.request(
      "resources/read",
      this.state,
      session,
      params,
      () => this.#readResource(session, params, extra),
    );
  }

  async #readResource(
    session: SessionPeer,
    params: AnyObject,
    extra: RequestExtra,
  ): Promise<AnyObject> {
    this.#assertMayRead(session.identity, params.uri);
    const backend = this.#resourceBackend(params.uri);
    const out = withMeta({ uri: params.uri }, params._meta);
    const opts = { session, relatedRequestId: extra.requestId, signal: extra.signal };
    return cleanResult(await backend.request("resources/read", out, opts));
  }

  /**
   * The client of `session` says its roots changed: each backend session that is its own hears
   * it (and asks it again); shared ones do not (ADR 0006: nothing they ask could be attributed).
   */
  rootsChanged(session: SessionPeer): void {
    this.state.clientRootsChanged?.(session);
  }

  async subscribe(
    session: SessionPeer & { subscriptions: Set<string> },
    params: AnyObject,
    extra: RequestExtra,
  ) {
    this.#assertMayRead(session.identity, params.uri);
    const backend = this.#resourceBackend(params.uri);
    checkSubscriptionBounds(session.subscriptions, params.uri as string);
    await backend.subscribe(session, params.uri as string, extra.signal);
    session.subscriptions.add(params.uri as string);
    return {};
  }

  async unsubscribe(
    session: SessionPeer & { subscriptions: Set<string> },
    params: AnyObject,
    extra: RequestExtra,
  ) {
    const uri = params.uri;
    if (typeof uri !== "string") throw invalid("params.uri must be a string");
    session.subscriptions.delete(uri);
    const name = matchResource(this.state.fullView, uri);
    const backend = name === undefined ? undefined : this.state.backend(name);
    await backend?.unsubscribe(session, uri, extra.signal).catch(() => {});
    return {};
  }

  getPrompt(session: SessionPeer, params: AnyObject, extra: RequestExtra): Promise<AnyObject> {
    const audit = this.state.audit;
    if (audit === undefined) return this.#getPrompt(session, params, extra);
    return audit.request(
      "prompts/get",
      this.state,
      session,
      params,
      () => this.#getPrompt(session, params, extra),
    );
  }

  async #getPrompt(
    session: SessionPeer,
    params: AnyObject,
    extra: RequestExtra,
  ): Promise<AnyObject> {
    const name = params.name;
    if (typeof name !== "string") throw invalid("prompts/get: params.name must be a string");
    const route = this.state.view.promptRoutes.get(name) ??
      this.state.fullView.promptRoutes.get(name); // as for tools: refused or routed, not unknown
    const args = params.arguments;
    if (!route) throw invalid(`Unknown prompt "${name}"`, { prompt: name });
    if (!mayGetPrompt(this.state, session.identity, name, route.backend, args)) {
      throw new AuthzDeniedError(`Unknown prompt "${name}"`, { prompt: name });
    }
    const backend = this.#backendFor(route.backend);
    const out: AnyObject = { name: route.originalName };
    if (params.arguments !== undefined) out.arguments = params.arguments;
    withMeta(out, params._meta);
    const opts = { session, relatedRequestId: extra.requestId, signal: extra.signal };
    return cleanResult(await backend.request("prompts/get", out, opts));
  }

  async complete(session: SessionPeer, params: AnyObject, extra: RequestExtra): Promise<AnyObject> {
    const ref = params.ref as AnyObject | undefined;
    const empty = { completion: { values: [], hasMore: false } };
    let backend: Backend | undefined;
    let outRef = ref;
    if (ref?.type === "ref/prompt" && typeof ref.name === "string") {
      const route = this.state.view.promptRoutes.get(ref.name);
      if (!route || !mayGetPrompt(this.state, session.identity, ref.name, route.backend)) {
        return empty;
      }
      backend = this.#backendFor(route.backend);
      outRef = { ...ref, name: route.originalName };
    } else if (ref?.type === "ref/resource" && typeof ref.uri === "string") {
      const name = matchResource(this.state.view, ref.uri);
      if (name === undefined || !mayReadResource(this.state, session.identity, ref.uri)) {
        return empty;
      }
      backend = this.#backendFor(name);
    }
    if (!backend || !(backend.caps?.capabilities as AnyObject | undefined)?.completions) {
      return empty;
    }
    const { _meta, ...rest } = params;
    const out = withMeta({ ...rest, ref: outRef }, _meta);
    const opts = { session, relatedRequestId: extra.requestId, signal: extra.signal };
    return cleanResult(await backend.request("completion/complete", out, opts));
  }
}

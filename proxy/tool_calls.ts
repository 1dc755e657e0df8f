/**
 * `tools/call`: a call goes to the backend that owns the advertised name, with the original
 * name, `_meta` (minus reserved keys), progress relay and cancellation; the backend's answer or
 * error comes back untouched (an HTTP 401/403 refusal becomes a tool error naming the backend).
 * A call to an extra (composite) tool first checks every backend it needs is routable (the
 * runtime leaves it out of `tools/list` otherwise) and fails with that backend's
 * `BackendUnavailableError` if not; its steps are authorized and rate-limited each as the tool
 * it calls. With Cedar authorization a refused call answers as an unknown name would; with the
 * audit trail on each call is recorded; with rate limits a call takes its tokens after
 * authorization, before any backend sees it. With tool search on (optimizer/meta_tools.ts) only
 * find_tool and call_tool are callable. Functions of the `RouterState`, called by router.ts.
 * @module
 */
import { resolveToolRef, type ToolRoute } from "../core/aggregation/mod.ts";
import { applyPrefix } from "../core/aggregation/types.ts";
import { mayCallTool, visibleTools } from "./authz/route_checks.ts";
import type { Progress } from "../core/sdk.ts";
import type { AnyObject, SessionPeer } from "./backends/connection.ts";
import { BACKEND_UNAVAILABLE, BackendUnavailableError, RpcError } from "./backends/errors.ts";
import { AuthzDeniedError } from "./authz/denied.ts";
import { FIND_TOOL, type OptimizerTools } from "./optimizer/meta_tools.ts";
import type { ExtraTool, ExtraToolContext, RequestExtra, RouterState } from "./router_state.ts";
import {
  audited,
  backendFor,
  cleanResult,
  invalid,
  viewsOf,
  withMeta,
} from "./request_forwarding.ts";

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

/** `tools/call` for `session` (the Router's entry point). */
export function callTool(
  state: RouterState,
  session: SessionPeer,
  params: AnyObject,
  extra: RequestExtra,
): Promise<AnyObject> {
  // Tool search on (optimizer/meta_tools.ts): only find_tool and call_tool are callable.
  const optimizer = state.optimizer;
  if (optimizer !== undefined) return optimizerCall(state, optimizer, session, params, extra);
  return audited("tools/call", callNamedTool, state, session, params, extra);
}

/** find_tool / call_tool; call_tool's call takes the plain (audited) path below. */
function optimizerCall(
  state: RouterState,
  optimizer: OptimizerTools,
  session: SessionPeer,
  params: AnyObject,
  extra: RequestExtra,
): Promise<AnyObject> {
  const call = (found?: (count: number) => void) =>
    optimizer.call(params, extra.signal, {
      all: state.lists.tools,
      visible: async () => {
        let views = viewsOf(state, session.clientCapabilities());
        if (views instanceof Promise) views = await views;
        return visibleTools(state, session.identity, views);
      },
      callPlain: (inner) => audited("tools/call", callNamedTool, state, session, inner, extra),
      ...(found ? { found } : {}),
    });
  if (params.name !== FIND_TOOL) return call();
  // find_tool: audited (mcp_tool_search) and limited only by a `rateLimiting.tools[]` entry
  // named find_tool (not by the server-wide global/perUser buckets: a search calls no backend).
  const audit = state.audit;
  const limits = state.rateLimits;
  const search = async (found?: (count: number) => void) => {
    if (limits) await limits.check(session.identity, FIND_TOOL, true);
    return await call(found);
  };
  if (audit === undefined) return search();
  return audit.toolSearch(session, params, search);
}

/** A call by advertised name: an extra (composite) tool, or a backend's tool via its route. */
async function callNamedTool(
  state: RouterState,
  session: SessionPeer,
  params: AnyObject,
  extra: RequestExtra,
): Promise<AnyObject> {
  const name = params.name;
  if (typeof name !== "string") throw invalid("tools/call: params.name must be a string");
  const extraTool = state.extraTools.get(name);
  if (extraTool) {
    // A tool the caller may not call is unknown to it (the same answer: existence not told).
    if (!mayCallTool(state, session.identity, extraTool.tool, undefined, params.arguments)) {
      throw new AuthzDeniedError(`Unknown tool "${name}"`, { tool: name });
    }
    // Not listed while a backend it needs is not routable: refuse as for that backend's tools.
    for (const b of extraTool.backends ?? []) backendFor(state, b);
    // Counted as a call of the composite tool; its steps count per tool (callExtra).
    const limits = state.rateLimits;
    if (limits) await limits.check(session.identity, name);
    return await callExtra(state, extraTool, session, params, extra);
  }
  // What the caller would be offered with its capabilities (capability_views.ts).
  let views = viewsOf(state, session.clientCapabilities());
  if (views instanceof Promise) views = await views;
  let route = views.view.toolRoutes.get(name);
  if (!route || route.hidden) {
    // Not routable in the clients' view. A tool of a discovered backend is either refused as
    // unavailable (callRoute throws) or, when its backend is routable again (or this call is its
    // trial) before the view is recomputed, routed: never "Unknown tool".
    const known = views.fullView.toolRoutes.get(name);
    if (!known || known.hidden) unknownTool(state, name);
    route = known;
  }
  if (!mayCallTool(state, session.identity, route.tool, route.backend, params.arguments)) {
    throw new AuthzDeniedError(`Unknown tool "${name}"`, { tool: name });
  }
  const limits = state.rateLimits;
  if (limits) await limits.check(session.identity, name);
  const meta = params._meta as AnyObject | undefined;
  return await callRoute(
    state,
    session,
    route,
    params.arguments as AnyObject | undefined,
    meta,
    extra,
  );
}

/**
 * Throws for a tool name no discovered backend offers. While a configured backend was never
 * discovered its tools are unknown: under the `prefix` strategy a name with that backend's
 * prefix is refused as unavailable naming it; under `priority`/`manual` (names say nothing
 * about their backend) any unknown name is refused -32003 naming the undiscovered backends.
 * Otherwise -32602 Unknown tool.
 */
function unknownTool(state: RouterState, name: string): never {
  const missing = state.undiscoveredBackends();
  if (missing.length > 0) {
    const aggregation = state.aggregation;
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

/** Sends the call to the route's backend (original name, `_meta`, progress relay). */
async function callRoute(
  state: RouterState,
  session: SessionPeer,
  route: ToolRoute,
  args: AnyObject | undefined,
  meta: AnyObject | undefined,
  extra: RequestExtra,
  onprogress?: (p: Progress) => void,
): Promise<AnyObject> {
  const backend = backendFor(state, route.backend);
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

/** Runs an extra tool's handler; its steps go through `callRoute`, authorized and limited each. */
async function callExtra(
  state: RouterState,
  tool: ExtraTool,
  session: SessionPeer,
  params: AnyObject,
  extra: RequestExtra,
) {
  const token = (params._meta as AnyObject | undefined)?.progressToken as
    | string
    | number
    | undefined;
  const ctx: ExtraToolContext = {
    identity: session.identity,
    requestId: extra.requestId,
    session,
    signal: extra.signal,
    audit: state.audit,
    progress: (p) => {
      if (token === undefined) return;
      session.notify(
        { method: "notifications/progress", params: { ...p, progressToken: token } },
        extra.requestId,
      )
        .catch(() => {});
    },
    callTool: (ref, args, opts) => {
      const route = resolveToolRef(state.fullView, ref);
      // Each step is authorized again, as the tool it calls (hidden ones included).
      if (!route) return Promise.reject(invalid(`Unknown tool "${ref}"`, { tool: ref }));
      if (!mayCallTool(state, session.identity, route.tool, route.backend, args)) {
        return Promise.reject(new AuthzDeniedError(`Unknown tool "${ref}"`, { tool: ref }));
      }
      const stepExtra = { requestId: extra.requestId, signal: opts?.signal ?? extra.signal };
      // A step counts only against the per-tool limits of the tool it calls.
      const limits = state.rateLimits;
      if (!limits) return callRoute(state, session, route, args, undefined, stepExtra);
      const run = () => callRoute(state, session, route, args, undefined, stepExtra);
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

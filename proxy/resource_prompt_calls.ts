/**
 * `resources/read`, `resources/subscribe`/`unsubscribe`, `prompts/get` and
 * `completion/complete`: each goes to the backend that owns the URI or prompt name, with
 * `_meta` (minus reserved keys) and cancellation; answers and errors come back untouched. A
 * URI or prompt of a discovered backend that is not routable now is refused as unavailable,
 * never "unknown". With Cedar authorization a refused read or prompt answers as one that does
 * not exist (a completion as an empty one); with the audit trail on each read and get is
 * recorded. Functions of the `RouterState`, called by router.ts.
 * @module
 */
import { matchResource } from "../core/aggregation/mod.ts";
import type { Identity } from "../core/auth/identity.ts";
import { mayGetPrompt, mayReadResource } from "./authz/route_checks.ts";
import type { Backend } from "./backends/backend.ts";
import type { AnyObject, SessionPeer } from "./backends/connection.ts";
import { AuthzDeniedError } from "./authz/denied.ts";
import { MAX_URI_CHARS, MAX_URIS_PER_STREAM } from "./server/listen_filter.ts";
import type { RequestExtra, RouterState } from "./router_state.ts";
import { audited, backendFor, cleanResult, invalid, withMeta } from "./request_forwarding.ts";

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

/**
 * The backend that serves `uri` for `identity` (as `resources/read` routes and authorizes it);
 * throws as it would.
 */
export function resourceBackend(
  state: RouterState,
  identity: Identity,
  uri: unknown,
): Backend {
  assertMayRead(state, identity, uri);
  return resourceBackendOf(state, uri);
}

function resourceBackendOf(state: RouterState, uri: unknown): Backend {
  if (typeof uri !== "string") throw invalid("params.uri must be a string");
  const name = matchResource(state.view, uri);
  if (name === undefined) {
    const known = matchResource(state.fullView, uri);
    if (known !== undefined) return backendFor(state, known); // as for tools: never "unknown"
    throw invalid(`Unknown resource "${uri}"`, { uri });
  }
  return backendFor(state, name);
}

/** Throws "Unknown resource" (as for one that does not exist) when the caller may not read it. */
function assertMayRead(state: RouterState, identity: Identity, uri: unknown): void {
  if (!mayReadResource(state, identity, uri)) {
    throw new AuthzDeniedError(`Unknown resource "${uri}"`, { uri });
  }
}

export function readResource(
  state: RouterState,
  session: SessionPeer,
  params: AnyObject,
  extra: RequestExtra,
): Promise<AnyObject> {
  return audited("resources/read", readResourceNow, state, session, params, extra);
}

async function readResourceNow(
  state: RouterState,
  session: SessionPeer,
  params: AnyObject,
  extra: RequestExtra,
): Promise<AnyObject> {
  assertMayRead(state, session.identity, params.uri);
  const backend = resourceBackendOf(state, params.uri);
  const out = withMeta({ uri: params.uri }, params._meta);
  const opts = { session, relatedRequestId: extra.requestId, signal: extra.signal };
  return cleanResult(await backend.request("resources/read", out, opts));
}

export async function subscribe(
  state: RouterState,
  session: SessionPeer & { subscriptions: Set<string> },
  params: AnyObject,
  extra: RequestExtra,
) {
  assertMayRead(state, session.identity, params.uri);
  const backend = resourceBackendOf(state, params.uri);
  checkSubscriptionBounds(session.subscriptions, params.uri as string);
  await backend.subscribe(session, params.uri as string, extra.signal);
  session.subscriptions.add(params.uri as string);
  return {};
}

export async function unsubscribe(
  state: RouterState,
  session: SessionPeer & { subscriptions: Set<string> },
  params: AnyObject,
  extra: RequestExtra,
) {
  const uri = params.uri;
  if (typeof uri !== "string") throw invalid("params.uri must be a string");
  session.subscriptions.delete(uri);
  const name = matchResource(state.fullView, uri);
  const backend = name === undefined ? undefined : state.backend(name);
  await backend?.unsubscribe(session, uri, extra.signal).catch(() => {});
  return {};
}

export function getPrompt(
  state: RouterState,
  session: SessionPeer,
  params: AnyObject,
  extra: RequestExtra,
): Promise<AnyObject> {
  return audited("prompts/get", getPromptNow, state, session, params, extra);
}

async function getPromptNow(
  state: RouterState,
  session: SessionPeer,
  params: AnyObject,
  extra: RequestExtra,
): Promise<AnyObject> {
  const name = params.name;
  if (typeof name !== "string") throw invalid("prompts/get: params.name must be a string");
  const route = state.view.promptRoutes.get(name) ??
    state.fullView.promptRoutes.get(name); // as for tools: refused or routed, not unknown
  const args = params.arguments;
  if (!route) throw invalid(`Unknown prompt "${name}"`, { prompt: name });
  if (!mayGetPrompt(state, session.identity, name, route.backend, args)) {
    throw new AuthzDeniedError(`Unknown prompt "${name}"`, { prompt: name });
  }
  const backend = backendFor(state, route.backend);
  const out: AnyObject = { name: route.originalName };
  if (args !== undefined) out.arguments = args;
  withMeta(out, params._meta);
  const opts = { session, relatedRequestId: extra.requestId, signal: extra.signal };
  return cleanResult(await backend.request("prompts/get", out, opts));
}

export async function complete(
  state: RouterState,
  session: SessionPeer,
  params: AnyObject,
  extra: RequestExtra,
): Promise<AnyObject> {
  const ref = params.ref as AnyObject | undefined;
  const empty = { completion: { values: [], hasMore: false } };
  let backend: Backend | undefined;
  let outRef = ref;
  if (ref?.type === "ref/prompt" && typeof ref.name === "string") {
    const route = state.view.promptRoutes.get(ref.name);
    if (!route || !mayGetPrompt(state, session.identity, ref.name, route.backend)) {
      return empty;
    }
    backend = backendFor(state, route.backend);
    outRef = { ...ref, name: route.originalName };
  } else if (ref?.type === "ref/resource" && typeof ref.uri === "string") {
    const name = matchResource(state.view, ref.uri);
    if (name === undefined || !mayReadResource(state, session.identity, ref.uri)) {
      return empty;
    }
    backend = backendFor(state, name);
  }
  if (!backend || !(backend.caps?.capabilities as AnyObject | undefined)?.completions) {
    return empty;
  }
  const { _meta, ...rest } = params;
  const out = withMeta({ ...rest, ref: outRef }, _meta);
  const opts = { session, relatedRequestId: extra.requestId, signal: extra.signal };
  return cleanResult(await backend.request("completion/complete", out, opts));
}

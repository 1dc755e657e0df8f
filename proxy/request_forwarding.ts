/**
 * What every request the router forwards to a backend shares: `_meta` filtering (reserved keys
 * and the client's progressToken stay behind), result cleaning, the caller's views and the
 * backend that takes a route (or the error saying why it cannot), and the audit trail's wrap.
 * @module
 */
import { type ClientCapabilities, ErrorCode } from "../core/sdk.ts";
import type { ViewSet } from "./capability_views.ts";
import type { Backend } from "./backends/backend.ts";
import type { AnyObject, SessionPeer } from "./backends/connection.ts";
import { BackendUnavailableError, RpcError } from "./backends/errors.ts";
import type { AuditedMethod } from "./audit/auditor.ts";
import type { RequestExtra, RouterState } from "./router_state.ts";

const RESERVED_META = "io.modelcontextprotocol/";

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

/** Sets `params._meta` to the forwardable part of `meta` (if any); returns `params`. */
export function withMeta(params: AnyObject, meta: unknown): AnyObject {
  const m = forwardMeta(meta);
  if (m) params._meta = m;
  return params;
}

/** A -32602 Invalid params error. */
export function invalid(message: string, data?: unknown): RpcError {
  return new RpcError(ErrorCode.InvalidParams, message, data);
}

/** The backend for a route, or an error saying why it cannot take the request. */
export function backendFor(state: RouterState, name: string): Backend {
  const backend = state.backend(name);
  if (!backend) throw new BackendUnavailableError(name, "not configured any more");
  state.assertRoutable(name);
  return backend;
}

/**
 * The views of a caller declaring `caps` (capability_views.ts): the base ones when it gave
 * none or the state keeps no others.
 */
export function viewsOf(
  state: RouterState,
  caps: ClientCapabilities | undefined,
): ViewSet | Promise<ViewSet> {
  const viewsFor = state.viewsFor;
  return caps === undefined || viewsFor === undefined ? state : viewsFor.call(state, caps);
}

/** A request the audit trail records (`tools/call`, `resources/read`, `prompts/get`). */
export type AuditedRequest = (
  state: RouterState,
  session: SessionPeer,
  params: AnyObject,
  extra: RequestExtra,
) => Promise<AnyObject>;

/**
 * `run(state, session, params, extra)`, recorded first by the audit trail when it is on (off:
 * one null check, no closure).
 */
export function audited(
  method: AuditedMethod,
  run: AuditedRequest,
  state: RouterState,
  session: SessionPeer,
  params: AnyObject,
  extra: RequestExtra,
): Promise<AnyObject> {
  const audit = state.audit;
  if (audit === undefined) return run(state, session, params, extra);
  return audit.request(method, state, session, params, () => run(state, session, params, extra));
}

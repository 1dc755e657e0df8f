/**
 * The JSON-only fast path for one `tools/call` (docs/adr/0004-proxy-hot-path.md, step 3).
 *
 * A single `tools/call` request on an initialized session that is answered as plain JSON (the
 * client holds its standalone GET stream and sent no progressToken) skips the SDK transport
 * and `Protocol` dispatch: no zod parse of the JSON-RPC envelope (done two or three times per
 * request there), no header copies, no stream mapping. The request is checked with plain
 * tests that accept only what the SDK would accept the same way; anything else (batches,
 * notifications, progress tokens, tasks, odd headers, an id already in flight) returns
 * `undefined` and takes the SDK path unchanged.
 *
 * What stays identical to the SDK path:
 * - the handler is the one `installHandlers` registers (metrics, `lastSeen`, router);
 * - messages related to the request (backend log messages, sampling, elicitation) go to the
 *   client's standalone GET stream (`ProxyServerTransport.fastCalls`), as for a JSON answer;
 * - cancellation: the request's `AbortController` sits in the SDK `Server`'s own map of
 *   in-flight requests (`_requestHandlerAbortControllers`, consulted by its
 *   `notifications/cancelled` handler and aborted when the server closes). A cancelled request
 *   gets no JSON-RPC answer, as on the SDK path, and its HTTP exchange ends with `202` and no
 *   body (`ProxyServerTransport` does the same on the SDK path);
 * - the answer: `{"result":…,"jsonrpc":"2.0","id":…}` or the SDK's error mapping (numeric safe
 *   `code` else -32603, `message`, `data` when defined), status 200, `Content-Type:
 *   application/json` and `mcp-session-id`. `fast_call_test.ts` compares both paths byte for
 *   byte.
 *
 * Relies on @modelcontextprotocol/sdk 1.32.2 internals (`_requestHandlerAbortControllers`,
 * `_initialized`, `_closed`).
 * @module
 */
import { ErrorCode, type RequestId, SUPPORTED_PROTOCOL_VERSIONS } from "../../core/sdk.ts";
import type { AnyObject } from "../backends/connection.ts";
import type { ProxySession } from "./session.ts";

/** The session's `tools/call` handler, as installed by `installHandlers`. */
export type ToolsCallHandler = (
  params: AnyObject,
  extra: { requestId: RequestId; signal: AbortSignal },
) => Promise<AnyObject>;

interface ServerInternals {
  _requestHandlerAbortControllers: Map<RequestId, AbortController>;
}
interface TransportInternals {
  _initialized: boolean;
  _closed: boolean;
  sessionId?: string;
}

/** JSONRPCRequestSchema is strict: no other top-level key. */
const ENVELOPE_KEYS = new Set(["jsonrpc", "id", "method", "params"]);
const RELATED_TASK = "io.modelcontextprotocol/related-task";
const PROTOCOL_VERSIONS = new Set<string>(SUPPORTED_PROTOCOL_VERSIONS);
/** A cancelled call gets no JSON-RPC answer; its HTTP exchange still ends (202, no body). */
const cancelledAnswer = () => new Response(null, { status: 202 });

function isObject(v: unknown): v is AnyObject {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** `{ id, params }` of a plain single `tools/call` the SDK would accept as is; else undefined. */
export function plainToolsCall(body: unknown): { id: RequestId; params: AnyObject } | undefined {
  if (!isObject(body) || body.method !== "tools/call" || body.jsonrpc !== "2.0") return undefined;
  const id = body.id;
  if (typeof id !== "string" && !Number.isSafeInteger(id)) return undefined;
  for (const k in body) if (!ENVELOPE_KEYS.has(k)) return undefined;
  const params = body.params;
  if (!isObject(params) || "task" in params) return undefined;
  const meta = params._meta;
  if (meta !== undefined && (!isObject(meta) || "progressToken" in meta || RELATED_TASK in meta)) {
    return undefined;
  }
  return { id: id as RequestId, params };
}

/** Headers the SDK transport would pass without a word (anything unusual: SDK path). */
function plainHeaders(req: Request, sessionId: string | undefined): boolean {
  const h = req.headers;
  const accept = h.get("accept");
  if (!accept?.includes("application/json") || !accept.includes("text/event-stream")) return false;
  if (h.get("content-type") !== "application/json") return false;
  if (sessionId === undefined || h.get("mcp-session-id") !== sessionId) return false;
  const version = h.get("mcp-protocol-version");
  return version === null || PROTOCOL_VERSIONS.has(version);
}

function errorBody(id: RequestId, error: { code?: unknown; message?: string; data?: unknown }) {
  return JSON.stringify({
    jsonrpc: "2.0",
    id,
    error: {
      code: Number.isSafeInteger(error.code) ? error.code : ErrorCode.InternalError,
      message: error.message ?? "Internal error",
      ...(error.data !== undefined && { data: error.data }),
    },
  });
}

/**
 * Answers `body` on the fast path when it qualifies (see the module doc), else undefined.
 * `session.toolsCall` must be installed.
 */
export function tryFastToolsCall(
  session: ProxySession,
  req: Request,
  body: unknown,
): Promise<Response> | undefined {
  const handler = session.toolsCall;
  if (!handler) return undefined;
  const call = plainToolsCall(body);
  if (!call) return undefined;
  const transport = session.transport;
  const t = transport as unknown as TransportInternals;
  if (!t._initialized || t._closed || !transport.hasStandaloneStream) return undefined;
  const sessionId = t.sessionId;
  if (!plainHeaders(req, sessionId)) return undefined;
  const controllers =
    (session.server as unknown as ServerInternals)._requestHandlerAbortControllers;
  const { id, params } = call;
  if (controllers.has(id)) return undefined; // the same id in flight: as the SDK does it
  const ac = new AbortController();
  controllers.set(id, ac);
  transport.fastCalls.add(id);
  const answer = (text: string) =>
    new Response(text, {
      status: 200,
      headers: { "Content-Type": "application/json", "mcp-session-id": sessionId! },
    });
  const settled = () => {
    if (controllers.get(id) === ac) controllers.delete(id);
    transport.fastCalls.delete(id);
    return ac.signal.aborted;
  };
  return handler(params, { requestId: id, signal: ac.signal }).then(
    (result) =>
      settled() ? cancelledAnswer() : answer(JSON.stringify({ result, jsonrpc: "2.0", id })),
    (error) => settled() ? cancelledAnswer() : answer(errorBody(id, error)),
  );
}

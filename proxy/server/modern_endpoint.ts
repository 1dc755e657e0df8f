/**
 * The stateless request path of MCP 2026-07-28 clients (docs/adr/0010-mcp-2026-07-28-both-eras.md,
 * section 2). `McpEndpoint` classifies a request as modern (era.ts) and hands it here; no session
 * is looked up or created.
 *
 * - Methods go to the **same `Router` methods** as the legacy handlers (handlers.ts), so what
 *   later decides who may do what sits in one place for both eras. Each request gets a
 *   `RequestPeer` (request_peer.ts): its backend calls use the caller's per-identity backend
 *   sessions (identity_pool.ts).
 * - `server/discover` (discover.ts), lists, `resources/read`, `tools/call`, `prompts/get`,
 *   `completion/complete`; `subscriptions/listen` goes to the listen hub when one is given.
 *   Removed or unknown methods (`ping`, `logging/setLevel`, `resources/subscribe`, an
 *   `initialize` with the envelope, …) get HTTP 404 with -32601, as the v2 SDK answers them.
 *   A notification gets 202 and is ignored (aborting the POST is the cancellation); a
 *   `roots/list_changed` also ends the caller's pooled legacy backend sessions (mcp_endpoint.ts).
 * - Results carry `resultType: "complete"`; lists, `resources/read` and discover also
 *   `ttlMs` (0 unless a backend gave one) and `cacheScope: "private"` (what a caller sees will
 *   depend on who calls). Errors are in-band (HTTP 200) as the SDK answers handler errors, except
 *   -32021 (400).
 * - The answer is JSON unless the request carries a `progressToken` or a `logLevel`: then an SSE
 *   stream carries the call's progress and log notifications (level-filtered) before the result.
 *   A client that does not read it holds at most `MAX_QUEUED_BYTES` of notifications in vmcp:
 *   past that they are dropped (the result is always written).
 * - A client that goes away (the POST is aborted, or the SSE answer cancelled) aborts the backend
 *   call: a legacy backend gets `notifications/cancelled`. `request.signal` is watched from
 *   `WATCH_CLIENT_AFTER_MS` (reading it costs ~50 µs per request) only until the call settles:
 *   under `Deno.serve` it also aborts after every successful response, which is
 *   no cancellation.
 * - With `inputRequired` (MRTR, modern_input.ts), `tools/call`, `prompts/get` and
 *   `resources/read` whose backend asks the client something answer `input_required`; the
 *   backend call keeps its own signal (an answered request does not cancel it), and the retry
 *   with `requestState` resumes it.
 * @module
 */
import type { Identity } from "../../core/auth/identity.ts";
import { matchResource } from "../../core/aggregation/mod.ts";
import type { Logger } from "../../core/log.ts";
import type { AnyObject } from "../backends/connection.ts";
import { DeadlineQueue } from "../../core/deadlines.ts";
import { jsonTextOf } from "../preserialized.ts";
import type { RequestExtra, Router } from "../router.ts";
import type { Discover } from "./discover.ts";
import { META_CLIENT_CAPABILITIES, type ModernRequest } from "./era.ts";
import type { ClientCapabilities } from "../../core/sdk.ts";
import { capabilitySetOfText } from "../capability_set.ts";
import type { ProxyMetrics } from "./metrics.ts";
import { bindingOf, ModernInput, type ModernInputOptions } from "./modern_input.ts";
import { ModernTools } from "./param_check.ts";
import { visibleTools } from "../authz/route_checks.ts";
import { type InputBridge, RequestPeer } from "./request_peer.ts";
import { telemetry } from "../telemetry/instrument.ts";

/** The listen hub's entry (proxy/server/listen.ts `ListenHub`). */
export interface ListenOpener {
  open(
    req: { id: string | number; params: Record<string, unknown> },
    identityKey: string,
    signal: AbortSignal,
    context?: unknown,
  ): Response;
}

export interface ModernEndpointOptions {
  router: Router;
  discover: Discover;
  log: Logger;
  metrics?: ProxyMetrics | undefined;
  /** Serves `subscriptions/listen`; without one the method is not found (404, -32601). */
  listenHub?: ListenOpener | undefined;
  /** Relays a backend's elicitation/sampling/roots request to a modern client (MRTR). */
  inputBridge?: InputBridge | undefined;
  /**
   * Parks calls whose backend asks the client something and resumes them on the retry (MRTR,
   * modern_input.ts); its bridge is the `inputBridge` unless one is given. Without it such a
   * request fails at once (-32603).
   */
  inputRequired?: ModernInputOptions | undefined;
}

type Handler = (peer: RequestPeer, params: AnyObject, extra: RequestExtra) => Promise<AnyObject>;

/** Methods as map keys (a method name like `constructor` must not find an Object member). */
type List = (r: Router, p: AnyObject, i: Identity, c: ClientCapabilities) => Promise<AnyObject>;
/** `c`: the envelope's clientCapabilities (what is listed depends on them, ADR 0012). */
const LISTS = new Map<string, List>([
  ["tools/list", (r, p, i, c) => r.listTools(p, i, c)],
  ["prompts/list", (r, p, i, c) => r.listPrompts(p, i, c)],
  ["resources/list", (r, p, i, c) => r.listResources(p, i, c)],
  ["resources/templates/list", (r, p, i, c) => r.listResourceTemplates(p, i, c)],
]);

const CALLS: Record<string, (r: Router) => Handler> = {
  "tools/call": (r) => (peer, p, e) => r.callTool(peer, p, e),
  "prompts/get": (r) => (peer, p, e) => r.getPrompt(peer, p, e),
  "resources/read": (r) => (peer, p, e) => r.readResource(peer, p, e),
  "completion/complete": (r) => (peer, p, e) => r.complete(peer, p, e),
};

/** The backend `method` with `params` routes to now (undefined: none). */
function routedBackend(router: Router, method: string, params: AnyObject): string | undefined {
  const { view, fullView } = router.state;
  const name = params.name as string;
  if (method === "tools/call") {
    return (view.toolRoutes.get(name) ?? fullView.toolRoutes.get(name))?.backend;
  }
  if (method === "prompts/get") {
    return (view.promptRoutes.get(name) ?? fullView.promptRoutes.get(name))?.backend;
  }
  const uri = params.uri;
  if (typeof uri !== "string") return undefined;
  return matchResource(view, uri) ?? matchResource(fullView, uri);
}

/** Notifications queued for an SSE answer its client does not read, at most (bytes). */
export const MAX_QUEUED_BYTES = 1 << 20;

const CACHE_HINTS = '"resultType":"complete","ttlMs":0,"cacheScope":"private"';
const encoder = new TextEncoder();

function jsonAnswer(text: string, status = 200): Response {
  return new Response(text, { status, headers: { "content-type": "application/json" } });
}

/**
 * When a JSON-answered call starts watching its client (`request.signal`). The first read of
 * `request.signal` costs Deno a signal, a native cancel hook and, because Deno aborts it after
 * every successful response, a `DOMException`: about 50 µs of CPU per request on the bench
 * machine, more than the rest of the front door. Most calls are answered well before this, so
 * they never read it. Waiting loses no cancellation: once the body has been read, Deno aborts a
 * running request only when its connection is closed by the server (core/http_server.ts: a
 * connection the peer closed is looked for only once its request has run 1 s), and a later read
 * of `request.signal` after such an abort would not see it, so the watch must begin before that.
 */
export const WATCH_CLIENT_AFTER_MS = 200;
/** One timer for all watches (core/deadlines.ts), not one per request. */
const clientWatches = new DeadlineQueue();

/**
 * Aborts `gone` when the client of `req` leaves, watching from `WATCH_CLIENT_AFTER_MS` on; the
 * returned stop ends the watch. A cancelled deadline stays queued until the entries before it
 * settle, so what it holds is dropped at stop (it must not keep a request alive: those held
 * past a young-generation GC cost a full GC later).
 */
function watchClient(req: Request, gone: AbortController): () => void {
  let held: { req: Request; gone: AbortController; signal?: AbortSignal } | undefined = {
    req,
    gone,
  };
  const onAbort = () => held?.gone.abort(new Error("the client closed the request"));
  const deadline = clientWatches.add(WATCH_CLIENT_AFTER_MS, () => {
    if (!held) return;
    const signal = held.signal = held.req.signal;
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  return () => {
    deadline.cancel();
    held?.signal?.removeEventListener("abort", onAbort);
    held = undefined;
  };
}

/** `{…}` JSON text with `extra` members appended (`extra` is `"k":v,…`). */
function appendMembers(objectText: string, extra: string): string {
  return objectText === "{}" ? `{${extra}}` : `${objectText.slice(0, -1)},${extra}}`;
}

function resultText(id: string | number, resultJson: string): string {
  return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${resultJson}}`;
}

/** A result with `resultType` (kept when the backend gave one) and, if cacheable, the hints. */
function decorate(result: AnyObject, cacheable: boolean): AnyObject {
  const out: AnyObject = { ...result, resultType: result.resultType ?? "complete" };
  if (cacheable && out.resultType === "complete") {
    out.ttlMs = Number.isSafeInteger(result.ttlMs) && (result.ttlMs as number) >= 0
      ? result.ttlMs
      : 0;
    out.cacheScope = "private"; // a modern backend's ttlMs passes; what it sees is the caller's
  }
  return out;
}

/** The JSON text of `decorate(result, false)`, without copying a result that has no type. */
function completeText(result: AnyObject): string {
  if (result.resultType === undefined && !Object.hasOwn(result, "resultType")) {
    return appendMembers(JSON.stringify(result), '"resultType":"complete"');
  }
  return JSON.stringify(decorate(result, false));
}

function errorObject(id: string | number, err: unknown): { status: number; body: AnyObject } {
  const e = err as { code?: unknown; message?: unknown; data?: unknown };
  const code = Number.isSafeInteger(e?.code) ? e.code as number : -32603;
  const message = typeof e?.message === "string" && e.message ? e.message : "Internal error";
  return {
    status: code === -32021 ? 400 : 200,
    body: {
      jsonrpc: "2.0",
      id,
      error: { code, message, ...(e?.data !== undefined ? { data: e.data } : {}) },
    },
  };
}

export class ModernEndpoint {
  readonly #o: ModernEndpointOptions;
  readonly #calls: Map<string, Handler>;
  /** `Mcp-Param-*` checks and what modern clients are listed (param_check.ts). */
  readonly #tools: ModernTools;
  /** MRTR (parked calls and their retries); undefined: none. */
  readonly input: ModernInput | undefined;
  readonly #bridge: InputBridge | undefined;

  constructor(opts: ModernEndpointOptions) {
    this.#o = opts;
    this.#calls = new Map(Object.entries(CALLS).map(([m, f]) => [m, f(opts.router)]));
    this.#tools = new ModernTools(opts.log);
    this.input = opts.inputRequired ? new ModernInput(opts.inputRequired, opts.log) : undefined;
    this.#bridge = opts.inputBridge ?? this.input?.bridge;
  }

  /** Answers a modern notification: accepted and ignored. */
  notification(): Response {
    return new Response(null, { status: 202 });
  }

  /** Answers one classified modern request of `identity`. */
  async handle(
    req: Request,
    msg: ModernRequest,
    identity: Identity,
    identityKey: string,
  ): Promise<Response> {
    const { id, method, params } = msg;
    if (method === "tools/call") {
      const state = this.#o.router.state;
      const refused = this.#tools.check(state.lists.tools, req.headers, msg);
      // A caller who may not use the tool gets the unknown-tool answer from the router, never a
      // header complaint that would show the tool exists.
      if (refused && visibleTools(state, identity).some((t) => t.name === params.name)) {
        return refused;
      }
    }
    const call = this.#calls.get(method);
    if (call) return await this.#call(req, msg, call, identity, identityKey);
    const list = LISTS.get(method);
    try {
      if (list) {
        const caps = (msg.meta[META_CLIENT_CAPABILITIES] ?? {}) as ClientCapabilities;
        capabilitySetOfText(msg.capsText, caps); // its set, looked up by text (capability_set.ts)
        let page = await list(this.#o.router, params, identity, caps);
        if (method === "tools/list") {
          page = this.#tools.page(this.#o.router.state.lists.tools, page);
        }
        this.#o.metrics?.request(method, true);
        const text = jsonTextOf(page) ?? JSON.stringify(page);
        return jsonAnswer(resultText(id, appendMembers(text, CACHE_HINTS)));
      }
    } catch (err) {
      this.#o.metrics?.request(method, false);
      if (telemetry) telemetry.failed(err);
      const { status, body } = errorObject(id, err);
      return jsonAnswer(JSON.stringify(body), status);
    }
    if (method === "server/discover") {
      this.#o.metrics?.request(method, true);
      return jsonAnswer(resultText(id, JSON.stringify(this.#o.discover.result())));
    }
    if (method === "subscriptions/listen" && this.#o.listenHub) {
      // The hub ends the stream when the client cancels its body (not on `request.signal`,
      // which Deno aborts after every successful response).
      // The peer: resource subscriptions go to this identity's pooled backend sessions.
      const { meta, capsText } = msg;
      const peer = new RequestPeer({ identity, identityKey, meta, capsText });
      const never = new AbortController().signal;
      return this.#o.listenHub.open({ id, params }, identityKey, never, peer);
    }
    return jsonAnswer(
      JSON.stringify({
        jsonrpc: "2.0",
        id,
        error: { code: -32601, message: `Method not found: ${method}` },
      }),
      404,
    );
  }

  async #call(
    req: Request,
    msg: ModernRequest,
    handler: Handler,
    identity: Identity,
    identityKey: string,
  ): Promise<Response> {
    const { id, method, params, meta } = msg;
    const peer = new RequestPeer({
      identity,
      identityKey,
      meta,
      capsText: msg.capsText,
      inputBridge: this.#bridge,
    });
    const cacheable = method === "resources/read";
    // `ac` is the backend call's; `gone` is this HTTP request's (its client left). Without MRTR
    // they are one. With MRTR a parked call outlives the request that started it.
    const ac = new AbortController();
    const gone = new AbortController();
    const binding = this.input ? bindingOf(method, params, identityKey) : undefined;
    const start = () => handler(peer, params, { requestId: id, signal: ac.signal });
    let invoke = start;
    if (binding && this.input) {
      const input = this.input;
      invoke = () =>
        input.run({
          peer,
          binding,
          params,
          start,
          cancel: (reason) => ac.abort(reason),
          gone: gone.signal,
          // Composite tools and tool search's call_tool (not a backend's name) are parked here.
          direct: !(method === "tools/call" && (this.#o.router.state.optimizer !== undefined ||
            this.#o.router.state.extraTools.has(params.name as string))),
          backendOf: () => routedBackend(this.#o.router, method, params),
        });
    } else gone.signal.addEventListener("abort", () => ac.abort(gone.signal.reason));
    const run = async (): Promise<{ status: number; text: string }> => {
      try {
        const result = await invoke();
        this.#o.metrics?.request(method, true);
        if (telemetry && result.isError === true) telemetry.toolError();
        const json = cacheable ? JSON.stringify(decorate(result, true)) : completeText(result);
        return { status: 200, text: resultText(id, json) };
      } catch (err) {
        this.#o.metrics?.request(method, false);
        if (telemetry) telemetry.failed(err);
        const { status, body } = errorObject(id, err);
        return { status, text: JSON.stringify(body) };
      }
    };
    if (meta.progressToken === undefined && peer.logLevel === undefined) {
      // The client may leave before the answer: watched from WATCH_CLIENT_AFTER_MS (see there)
      // until the call settles.
      const stopWatching = watchClient(req, gone);
      try {
        const { status, text } = await run();
        return jsonAnswer(text, status);
      } finally {
        stopWatching();
      }
    }
    // SSE: the answer is out at once; a client that leaves cancels its body (see #stream).
    return this.#stream(peer, run, gone);
  }

  /** The SSE answer: related notifications first, then the result; cancel aborts the call. */
  #stream(
    peer: RequestPeer,
    run: () => Promise<{ status: number; text: string }>,
    gone: AbortController,
  ): Response {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let open = true;
    const frame = (json: string, notification: boolean) => {
      if (!open) return;
      // A client that does not read: its notifications are dropped past the bound.
      if (notification && (controller.desiredSize ?? 0) <= 0) return;
      try {
        controller.enqueue(encoder.encode(`event: message\ndata: ${json}\n\n`));
      } catch {
        open = false;
      }
    };
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
      },
      cancel() {
        open = false;
        peer.attach(undefined);
        gone.abort(new Error("the client closed the answer stream"));
      },
    }, new ByteLengthQueuingStrategy({ highWaterMark: MAX_QUEUED_BYTES }));
    peer.attach((m) => frame(JSON.stringify(m), true));
    void run().then(({ text }) => {
      peer.attach(undefined);
      frame(text, false);
      if (open) {
        open = false;
        try {
          controller.close();
        } catch { /* cancelled meanwhile */ }
      }
    });
    return new Response(stream, {
      status: 200,
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
  }
}

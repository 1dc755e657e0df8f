/**
 * One backend that speaks MCP 2026-07-28 (ADR 0010, section 3): no session, so one connection
 * per backend serves every caller.
 *
 * - A request with a caller (`ctx.session`), and any call, goes as its own POST over the
 *   backend's keep-alive pool (core/http1.ts: raw bytes after a head prefix built once for a
 *   plain `http:` URL, as pooled_transport.ts does; `createBackendFetch` otherwise): its `_meta`
 *   envelope carries the caller's capabilities and log level (vmcp's without a caller),
 *   vmcp's `clientInfo` and 2026-07-28; its headers `MCP-Protocol-Version`, `Mcp-Method`,
 *   `Mcp-Name` (the backend's own name of the tool, prompt or resource) and the caller's
 *   outgoing-auth headers, fetched per request. Progress and log notifications on the POST's
 *   SSE answer belong to that request alone and go to its caller.
 * - Discovery lists, the health check (`server/discover`) and the `subscriptions/listen`
 *   stream go through a v2 SDK `Client` connected with the probe's discover result (no second
 *   probe), response cache bypassed, with vmcp's own identity.
 * - A 2026-07-28 client's direct call (its `RequestPeer` has a pass slot, mrtr/pass.ts) gets
 *   the backend's `input_required` back as it is; its retry sends the client's answers and the
 *   backend's own state (the front door verified and unwrapped it).
 * - Any other `input_required` result of a call with a caller is driven through the caller
 *   (proxy/mrtr/drive.ts, ADR 0010 section 4): each embedded request goes to `peer.request` (a
 *   legacy client's session, or a 2026-07-28 client's `RequestPeer`, which parks the call and
 *   hands the client its own `input_required`), and the call is sent again with
 *   `inputResponses` and the backend's `requestState`. Each POST has its own deadline, so the
 *   time the client takes to answer does not count. Without a caller the call fails
 *   (`onInputRequired`).
 * @module
 */
import { z } from "zod";
import type { BackendConfig } from "../../crds/vmcp_config.ts";
import type { Identity } from "../../core/auth/identity.ts";
import { backendDeadlines } from "../../core/deadlines.ts";
import type { BackendFetch } from "../../core/http_client.ts";
import { toResponse } from "../../core/http1.ts";
import type { Logger } from "../../core/log.ts";
import {
  ClientV2,
  type McpSubscriptionV2,
  ProtocolErrorV2,
  StreamableHTTPClientTransportV2,
} from "../../core/sdk.ts";
import type { AnyObject, RequestOpts, SessionPeer } from "./connection.ts";
import { VMCP_CAPABILITIES } from "./era_probe.ts";
import {
  BackendCredentialsError,
  BackendTimeoutError,
  BackendUnavailableError,
  describeError,
  findCause,
  isProxyError,
  RpcError,
} from "./errors.ts";
import { ModernHttp, plainJson } from "./modern_http.ts";
import { modernHeaders, readAnswer, VMCP_CLIENT_INFO, withEnvelope } from "./modern_wire.ts";
import type { RpcAnswer } from "./pooled_transport.ts";
import { type ParamHeader, paramHeaders, scanParamHeaders } from "./param_headers.ts";
import { telemetry } from "../telemetry/instrument.ts";
import { driveInputRequired, type RoundParams } from "../mrtr/drive.ts";
import { passParams, passSlotOf } from "../mrtr/pass.ts";

/** Outgoing-auth headers for an identity (undefined: vmcp's own). */
export type IdentityHeaders = (
  identity: Identity | undefined,
  signal?: AbortSignal,
) => Promise<Record<string, string>>;

export interface StatelessEvents {
  onListChanged(kind: "tools" | "resources" | "prompts"): void;
  /** A transport failure: the backend may be down or have changed era. */
  onBroken(conn: StatelessBackendConnection): void;
}

const AnyResult = z.looseObject({});
/** Requests that go through the SDK client (vmcp's identity, no caller). */
const SDK_METHODS = new Set([
  "tools/list",
  "prompts/list",
  "resources/list",
  "resources/templates/list",
  "server/discover",
]);
const SERVER_INFO = "io.modelcontextprotocol/serverInfo";
const INTERNAL_ERROR = -32603;

/**
 * An `input_required` result with nobody to ask (vmcp's own request, no caller): the call fails
 * naming the backend. A caller's calls are driven through it instead (`request`).
 */
export function onInputRequired(backend: string, method: string, _result: AnyObject): never {
  throw new RpcError(
    INTERNAL_ERROR,
    `Backend "${backend}" asked for client input (input_required) on ${method}, but the request has no client to ask`,
    { backend },
  );
}

/** The signal of a drive without one (never aborts). */
const NEVER = new AbortController().signal;

/** The caller's log level (ProxySession and RequestPeer both carry `logLevel`). */
function logLevelOf(peer: SessionPeer): string | undefined {
  const level = (peer as { logLevel?: unknown }).logLevel;
  return typeof level === "string" ? level : undefined;
}

export class StatelessBackendConnection {
  readonly owner = undefined;
  readonly sessionId = undefined;
  /** The v2 SDK client (discovery lists, health, listen). */
  readonly sdk: ClientV2;
  readonly #http: ModernHttp;
  #discover: AnyObject;
  #nextId = 1;
  #inflight = 0;
  /** The controller of each exchange in flight (for `failInFlight`). */
  readonly #exchanges = new Set<AbortController>();
  #closed = false;
  #listen: McpSubscriptionV2 | undefined;
  /** `x-mcp-header` declarations of the listed tools that have any (by the backend's name). */
  readonly #paramHeaders = new Map<string, ParamHeader[]>();

  constructor(
    readonly backend: BackendConfig,
    discover: AnyObject,
    readonly events: StatelessEvents,
    readonly log: Logger,
    readonly headersFor?: IdentityHeaders,
  ) {
    this.#discover = discover;
    this.#http = new ModernHttp(backend.url!);
    const own = this.headersFor;
    const base = this.#http.fetch;
    const sdkFetch: BackendFetch = own
      ? async (url, init) => {
        const headers = new Headers(init?.headers);
        for (const [k, v] of Object.entries(await own(undefined, init?.signal ?? undefined))) {
          headers.set(k, v);
        }
        return await base(url, { ...init, headers });
      }
      : base;
    this.sdk = new ClientV2(VMCP_CLIENT_INFO, {
      capabilities: VMCP_CAPABILITIES,
      inputRequired: { autoFulfill: false },
    });
    this.sdk.onerror = (err) =>
      this.log.debug("modern backend client error", { error: describeError(err) });
    this.#transport = new StreamableHTTPClientTransportV2(new URL(backend.url!), {
      fetch: sdkFetch,
    });
  }

  readonly #transport: StreamableHTTPClientTransportV2;

  get name(): string {
    return this.backend.name;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get busy(): number {
    return this.#inflight;
  }

  /** The discover result this connection was built from (capabilities, serverInfo). */
  get discoverResult(): AnyObject {
    return this.#discover;
  }

  /** A later probe's result (same era): capabilities and serverInfo as they are now. */
  adopt(discover: AnyObject): void {
    this.#discover = discover;
  }

  /**
   * What `discoverCapabilities` reads as `conn.client` (the legacy connection's SDK client has
   * the same three methods); from the latest discover result.
   */
  get client(): this {
    return this;
  }

  getServerCapabilities(): AnyObject | undefined {
    return this.#discover.capabilities as AnyObject | undefined;
  }

  getServerVersion(): { name: string; version: string } | undefined {
    const info = (this.#discover._meta as AnyObject | undefined)?.[SERVER_INFO] as
      | { name?: unknown; version?: unknown }
      | undefined;
    return typeof info?.name === "string"
      ? { name: info.name, version: String(info.version ?? "") }
      : undefined;
  }

  getInstructions(): string | undefined {
    const i = this.#discover.instructions;
    return typeof i === "string" ? i : undefined;
  }

  /** Connects the SDK client from the probe's verdict: no request is sent. */
  async connect(): Promise<void> {
    await this.sdk.connect(this.#transport, {
      prior: { kind: "modern", discover: this.#discover as never },
    });
  }

  /** Sends one request (see the module doc for which path it takes and how input is driven). */
  async request(method: string, params: AnyObject | undefined, opts: RequestOpts) {
    if (this.#closed) throw new BackendUnavailableError(this.name, "connection closed");
    this.#inflight++;
    try {
      const ctx = opts.ctx;
      const session = ctx?.session;
      let result: AnyObject;
      if (!session) {
        result = await this.#once(
          method,
          opts,
          (signal) =>
            SDK_METHODS.has(method)
              ? this.#viaClient(method, params, signal)
              : this.#post(method, params, opts, signal),
        );
      } else if (passSlotOf(session)) {
        // A 2026-07-28 client's direct call: its input_required passes through (the front door
        // seals the state); a retry carries the client's answers and this backend's own state.
        const slot = passSlotOf(session)!;
        const sent = passParams(slot, this.name, params);
        result = await this.#once(method, opts, (signal) => this.#post(method, sent, opts, signal));
        if (result.resultType === "input_required") {
          slot.from = this.name;
          return result;
        }
      } else {
        const once = (round: RoundParams) =>
          this.#once(method, opts, (signal) =>
            this.#post(
              method,
              round.inputResponses || round.requestState !== undefined
                ? { ...params, ...round }
                : params,
              opts,
              signal,
            ));
        result = await driveInputRequired(once, session, {
          signal: opts.signal ?? NEVER,
          ...(ctx.relatedRequestId !== undefined ? { relatedRequestId: ctx.relatedRequestId } : {}),
        });
      }
      if (method === "tools/list") this.#noteParamHeaders(result.tools);
      if (result.resultType === "input_required") onInputRequired(this.name, method, result);
      if (result.resultType === "complete") delete result.resultType;
      return result;
    } finally {
      this.#inflight--;
    }
  }

  /** One exchange with the backend under its own deadline (`timeoutMs`) and the caller's signal. */
  async #once(
    method: string,
    opts: RequestOpts,
    send: (signal: AbortSignal) => Promise<AnyObject>,
  ): Promise<AnyObject> {
    const ac = new AbortController();
    const timer = backendDeadlines.add(
      opts.timeoutMs,
      () => ac.abort(new BackendTimeoutError(this.name, opts.timeoutMs, method)),
    );
    const outer = opts.signal;
    const onAbort = () => ac.abort(outer!.reason);
    if (outer?.aborted) onAbort();
    else outer?.addEventListener("abort", onAbort, { once: true });
    this.#exchanges.add(ac);
    try {
      return await send(ac.signal);
    } catch (err) {
      throw this.#mapError(err, ac.signal);
    } finally {
      this.#exchanges.delete(ac);
      timer.cancel();
      outer?.removeEventListener("abort", onAbort);
    }
  }

  /** Fails every exchange in flight now with `err` (the backend stopped being routable). */
  failInFlight(err: BackendUnavailableError): number {
    for (const ac of this.#exchanges) ac.abort(err);
    return this.#exchanges.size;
  }

  #noteParamHeaders(tools: unknown): void {
    if (!Array.isArray(tools)) return;
    for (const t of tools as { name?: unknown; inputSchema?: unknown }[]) {
      if (typeof t?.name !== "string") continue;
      const decls = scanParamHeaders(t.inputSchema);
      if (decls.length) this.#paramHeaders.set(t.name, decls);
      else this.#paramHeaders.delete(t.name);
    }
  }

  async #viaClient(method: string, params: AnyObject | undefined, signal: AbortSignal) {
    return await this.sdk.request(
      { method, ...(params ? { params } : {}) } as never,
      AnyResult,
      { signal, timeout: 2_147_483_647, allowInputRequired: true },
    ) as AnyObject;
  }

  /** One POST: the caller's envelope, headers and credentials; its stream's messages to it. */
  async #post(
    method: string,
    params: AnyObject | undefined,
    opts: RequestOpts,
    signal: AbortSignal,
  ): Promise<AnyObject> {
    const ctx = opts.ctx ?? {};
    const peer = ctx.session;
    const id = this.#nextId++;
    const level = peer ? logLevelOf(peer) : undefined;
    const p = withEnvelope(params, {
      capabilities: (peer?.clientCapabilities() as AnyObject | undefined) ?? VMCP_CAPABILITIES,
      ...(level ? { logLevel: level } : {}),
    });
    const meta = p._meta as AnyObject;
    // A progress callback needs a token to match; the caller's own is kept when it sent one.
    if (opts.onprogress && meta.progressToken === undefined) meta.progressToken = `vmcp-${id}`;
    const token = meta.progressToken;
    const auth = this.headersFor ? await this.headersFor(peer?.identity, signal) : {};
    let headers: Record<string, string> = {
      ...auth,
      ...modernHeaders(method, params),
      ...this.#callHeaders(method, params),
    };
    if (telemetry) headers = telemetry.inject(headers)!; // W3C traceparent of the backend span
    const got = await this.#http.post(
      headers,
      JSON.stringify({ jsonrpc: "2.0", id, method, params: p }),
      signal,
    );
    let answer: RpcAnswer | undefined;
    let res: Response | undefined;
    if (got instanceof Response) res = got;
    else {
      answer = plainJson(got, id);
      if (!answer) res = toResponse(got);
    }
    if (res && (res.status < 200 || res.status > 299)) throw await this.#httpError(res);
    // Everything on this POST's answer stream belongs to this request and its caller alone.
    answer ??= await readAnswer(res!, id, (n) => {
      if (n.method === "notifications/progress") {
        if (token === undefined || n.params?.progressToken !== token) return; // not this call's
        if (opts.onprogress) {
          const { progressToken: _, ...progress } = n.params;
          opts.onprogress(progress as { progress: number; total?: number });
        } else peer?.notify(n, ctx.relatedRequestId).catch(() => {});
        return;
      }
      if (n.method === "notifications/message" && peer) {
        peer.notify(n, ctx.relatedRequestId).catch(() => {});
        return;
      }
      this.log.debug("modern backend notification ignored", { method: n.method });
    });
    if ("error" in answer) {
      const { code, message, data } = answer.error;
      throw new RpcError(code, message, data);
    }
    return answer.result;
  }

  /** `Mcp-Param-*` of a `tools/call`, computed from its arguments. */
  #callHeaders(method: string, params: AnyObject | undefined): Record<string, string> {
    if (method !== "tools/call" || typeof params?.name !== "string") return {};
    const decls = this.#paramHeaders.get(params.name);
    return decls ? paramHeaders(decls, params.arguments) : {};
  }

  /** A non-2xx answer: the backend's JSON-RPC error when it sent one, else unavailable. */
  async #httpError(res: Response): Promise<Error> {
    const text = await res.text().catch(() => "");
    try {
      const e = JSON.parse(text)?.error;
      if (typeof e?.code === "number" && typeof e.message === "string") {
        return new RpcError(e.code, e.message, e.data);
      }
    } catch { /* not JSON */ }
    return new BackendUnavailableError(
      this.name,
      `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ""}`,
      res.status,
    );
  }

  #mapError(err: unknown, signal: AbortSignal): unknown {
    if (signal.aborted && isProxyError(signal.reason)) return signal.reason; // deadline, outage
    if (signal.aborted) return err; // cancelled by the caller: nobody reads the answer
    if (err instanceof RpcError) return err;
    if (err instanceof ProtocolErrorV2) {
      const prefix = `MCP error ${err.code}: `;
      const m = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
      return new RpcError(err.code, m, err.data);
    }
    const credentials = findCause(err, "OutgoingAuthError");
    if (credentials) return new BackendCredentialsError(this.name, credentials.message);
    this.events.onBroken(this);
    return new BackendUnavailableError(this.name, describeError(err));
  }

  /**
   * Keeps one `subscriptions/listen` stream open for list changes (vmcp's identity); each
   * change triggers the owner's rediscovery. Reopened after the stream drops, while open.
   */
  async listen(): Promise<void> {
    const caps = this.getServerCapabilities() ?? {};
    const filter: Record<string, boolean> = {};
    if ((caps.tools as AnyObject | undefined)?.listChanged) filter.toolsListChanged = true;
    if ((caps.prompts as AnyObject | undefined)?.listChanged) filter.promptsListChanged = true;
    if ((caps.resources as AnyObject | undefined)?.listChanged) {
      filter.resourcesListChanged = true;
    }
    if (!Object.keys(filter).length || this.#closed || this.#listen) return;
    this.sdk.setNotificationHandler(
      "notifications/tools/list_changed",
      () => this.events.onListChanged("tools"),
    );
    this.sdk.setNotificationHandler(
      "notifications/prompts/list_changed",
      () => this.events.onListChanged("prompts"),
    );
    this.sdk.setNotificationHandler(
      "notifications/resources/list_changed",
      () => this.events.onListChanged("resources"),
    );
    try {
      const sub = await this.sdk.listen(filter as never);
      this.#listen = sub;
      void sub.closed.then((how) => {
        this.#listen = undefined;
        if (how === "local" || this.#closed) return;
        this.log.debug("modern backend listen stream ended", { how });
        // The backend restarted or dropped us: what we missed is rediscovered, then listen again.
        this.events.onBroken(this);
      });
    } catch (err) {
      this.log.warn("modern backend: subscriptions/listen failed; list changes are not followed", {
        error: describeError(err),
      });
    }
  }

  /** Modern backends take no notifications from vmcp (roots/list_changed was removed). */
  notify(_method: string, _params?: AnyObject): Promise<void> {
    return Promise.resolve();
  }

  /** No session to end. */
  async terminate(_timeoutMs: number): Promise<void> {
    await this.close();
  }

  /** Closes the listen stream, the SDK client and the pool. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#listen?.close().catch(() => {});
    await this.sdk.close().catch(() => {});
    this.#http.close();
  }
}

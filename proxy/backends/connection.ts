/**
 * One SDK `Client` connected to one backend. Every request gets a real deadline; the proxy's
 * own errors name the backend and say why, while errors the backend sent pass through
 * untouched. Backend-initiated requests (sampling, elicitation, roots) and log messages go to
 * the owner of a per-session connection and to nobody else (ADR 0006): on a connection shared by
 * several client sessions nothing on the wire says which session such a message is for, so vmcp
 * never guesses. Requests are refused with a JSON-RPC error, log messages dropped, both logged.
 * On a per-owner Streamable HTTP connection, one that came on a call's POST answer belongs to
 * exactly that call (ADR 0010 §7, invariant 1), however many calls are in flight.
 * @module
 */
import { z } from "zod";
import type { BackendConfig } from "../../crds/vmcp_config.ts";
import { backendDeadlines, type Deadline } from "../../core/deadlines.ts";
import type { Logger } from "../../core/log.ts";
import type { Identity } from "../../core/auth/identity.ts";
import {
  Client,
  type ClientCapabilities,
  ErrorCode,
  McpError,
  type Notification,
  type Progress,
  type Request,
  type RequestId,
  StreamableHTTPClientTransport,
  type Transport,
} from "../../core/sdk.ts";
import {
  BackendCredentialsError,
  backendRequestRefused,
  BackendTimeoutError,
  BackendUnavailableError,
  describeError,
  findCause,
  isProxyError,
  passThrough,
} from "./errors.ts";
import { stdioPerSession } from "./stdio_isolation.ts";
import { createTransport, type HeadersProvider } from "./transport.ts";
import { PooledStreamableHTTPClientTransport } from "./pooled_transport.ts";
import { LISTEN_WAIT_MS, settledWithin, watchListenStream } from "./listen_ready.ts";

/** Any JSON object: results are relayed, not re-validated (lean hot path). */
export const AnyResult = z.looseObject({});
export type AnyObject = Record<string, unknown>;

/** The side of a client session a backend connection talks back to. */
export interface SessionPeer {
  readonly id: string;
  /** Who the session belongs to (selects the outgoing-auth headers). */
  readonly identity: Identity;
  /**
   * The key of this peer's per-owner backend connections when it is not its `id` (ADR 0010:
   * a modern request's `RequestPeer` and the identity pool's owner share one per identity,
   * backend and capability set).
   */
  readonly connectionKey?: string;
  /** Sends a request to the client (sampling, elicitation, roots). */
  request(
    req: { method: string; params?: AnyObject },
    opts: { signal: AbortSignal; relatedRequestId?: RequestId },
  ): Promise<AnyObject>;
  /** Sends a notification to the client. */
  notify(n: { method: string; params?: AnyObject }, relatedRequestId?: RequestId): Promise<void>;
  /** Capabilities the client declared at initialize. */
  clientCapabilities(): ClientCapabilities | undefined;
  /**
   * Scale-out: the backend session id this client session had with `backend` on another
   * replica (handed out once), to re-attach instead of opening a new backend session.
   */
  takeBackendSession?(backend: string): string | undefined;
  /** Scale-out: a per-session connection to `backend` is up with this backend session id. */
  backendSessionOpened?(backend: string, sessionId: string): void;
}

/** A call in flight on a connection, used to route backend-initiated messages. */
export interface CallContext {
  session?: SessionPeer;
  relatedRequestId?: RequestId;
}

/** What a connection reports to its owner. */
export interface ConnectionEvents {
  onListChanged(kind: "tools" | "resources" | "prompts"): void;
  onResourceUpdated(conn: BackendConnection, params: AnyObject): void;
  onClosed(conn: BackendConnection): void;
}

export interface RequestOpts {
  ctx?: CallContext;
  signal?: AbortSignal;
  timeoutMs: number;
  onprogress?: (p: Progress) => void;
}

const PROGRESS = "notifications/progress";

const SHARED_CAPABILITIES: ClientCapabilities = { sampling: {}, elicitation: {}, roots: {} };

/** The SDK's own request timer on its path: longest a timer can be (2^31 − 1 ms). */
const SDK_BACKSTOP_MS = 2_147_483_647;

/** A request's deadline; paused while the backend waits for the client (ADR 0010 §4). */
interface CallDeadline {
  /** Its controller: aborted at the deadline, by the caller, or by `failInFlight`. */
  ac: AbortController;
  signal: AbortSignal;
  done(): void;
  pause(): void;
  resume(): void;
}

export class BackendConnection {
  readonly client: Client;
  readonly #transport: Transport;
  readonly #inflight = new Set<CallContext>();
  /** The deadline of each call in flight: paused while the backend waits for the client. */
  readonly #deadlines = new Map<CallContext, CallDeadline>();
  /**
   * Each call in flight by the JSON-RPC id it was sent with, to attribute POST answers; only on
   * a per-owner Streamable HTTP connection (elsewhere `route` attributes nothing by answer).
   */
  readonly #byId: Map<number, CallContext> | undefined;
  /** Backend messages that came on a call's POST answer, and that call (see #hookMessages). */
  readonly #related = new WeakMap<object, CallContext>();
  /** The progress callback of each call in flight that has one, by the token we sent. */
  readonly #progress = new Map<number, (p: Progress) => void>();
  #nextToken = 1;
  #closed = false;
  /** Why a transport failure closed this connection (the other calls in flight say it too). */
  #closedBy: string | undefined;
  #droppedLogs = 0;

  constructor(
    readonly backend: BackendConfig,
    /** The session that owns this connection; undefined for a shared connection. */
    readonly owner: SessionPeer | undefined,
    readonly events: ConnectionEvents,
    readonly log: Logger,
    headers?: HeadersProvider,
    /** Re-attach this backend session (Streamable HTTP) instead of initializing a new one. */
    resumeSessionId?: string,
  ) {
    const capabilities = owner?.clientCapabilities() ?? SHARED_CAPABILITIES;
    this.client = new Client({ name: "vmcp", version: "1.0.0" }, { capabilities });
    this.#transport = createTransport(backend, headers, resumeSessionId);
    if (owner && this.#transport instanceof PooledStreamableHTTPClientTransport) {
      this.#byId = new Map();
    }
    this.client.onclose = () => {
      if (this.#closed) return;
      this.#closed = true;
      this.events.onClosed(this);
    };
    this.client.onerror = (err) =>
      this.log.debug("backend transport error", { error: describeError(err) });
    // The SDK hands these the message objects the transport delivered (see #hookMessages).
    this.client.fallbackRequestHandler = (req, extra) => this.#onBackendRequest(req, extra.signal);
    this.client.fallbackNotificationHandler = (n) => this.#onBackendNotification(n);
  }

  get name(): string {
    return this.backend.name;
  }

  /** The backend's `Mcp-Session-Id` (Streamable HTTP with a stateful backend). */
  get sessionId(): string | undefined {
    return this.#transport.sessionId;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Number of requests in flight. */
  get busy(): number {
    return this.#inflight.size;
  }

  /** Connects and initializes within `timeoutMs`; on failure everything is closed again. */
  async connect(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = this.#deadline(timeoutMs, signal, "initialize");
    // A session's own connection: its first request waits for the GET stream (listen_ready.ts).
    const listening = this.owner ? watchListenStream(this.#transport) : undefined;
    try {
      await this.client.connect(this.#transport, {
        signal: deadline.signal,
        timeout: timeoutMs + 60_000,
      });
      if (listening) {
        await settledWithin(listening(), Math.min(timeoutMs, LISTEN_WAIT_MS), deadline.signal);
      }
      this.#hookMessages();
    } catch (err) {
      await this.close();
      throw this.#mapError(err, deadline.signal);
    } finally {
      deadline.done();
    }
  }

  /** Sends one request with a deadline; maps local failures to errors naming the backend. */
  async request(
    method: string,
    params: AnyObject | undefined,
    opts: RequestOpts,
  ): Promise<AnyObject> {
    if (this.#closed) throw new BackendUnavailableError(this.name, "connection closed");
    const deadline = this.#deadline(opts.timeoutMs, opts.signal, method);
    const ctx = opts.ctx ?? {};
    this.#inflight.add(ctx);
    this.#deadlines.set(ctx, deadline);
    // Our own progress token and callback (see #hookMessages), not the SDK's `onprogress`.
    let token: number | undefined;
    if (opts.onprogress) {
      token = this.#nextToken++;
      this.#progress.set(token, opts.onprogress);
      const meta = { ...(params?._meta as AnyObject | undefined), progressToken: token };
      params = { ...params, _meta: meta };
    }
    // Both paths take the id from the SDK client's counter (its `request` takes the next one).
    const sdk = this.client as unknown as { _requestMessageId: number };
    const id = sdk._requestMessageId;
    this.#byId?.set(id, ctx);
    try {
      const t = this.#transport;
      if (!opts.onprogress && t instanceof PooledStreamableHTTPClientTransport && t.leanReady()) {
        sdk._requestMessageId++;
        return await this.#leanRequest(t, id, method, params, deadline.signal);
      }
      return await this.client.request(
        { method, params } as unknown as Parameters<Client["request"]>[0],
        AnyResult,
        {
          signal: deadline.signal,
          // Only a backstop: the deadline above is the real one (paused while the backend
          // waits for the client, so it may end later than timeoutMs).
          timeout: SDK_BACKSTOP_MS,
        },
      ) as AnyObject;
    } catch (err) {
      throw this.#mapError(err, deadline.signal);
    } finally {
      deadline.done();
      this.#inflight.delete(ctx);
      this.#deadlines.delete(ctx);
      if (this.#byId?.get(id) === ctx) this.#byId.delete(id);
      if (token !== undefined) this.#progress.delete(token);
    }
  }

  /**
   * Watches what the transport delivers, as it reads it:
   * - A backend request or notification that came on one of our calls' POST answers
   *   (pooled_transport.ts `answeredRequest`) is remembered with that call, for `route`.
   * - Progress notifications of our calls in flight are delivered in order and before a
   *   response read after them resolves its call. The SDK client would drop the last one when
   *   the response follows at once (v1.32.2: it deletes the call's progress handler when the
   *   response arrives, but runs notification handlers a microtask later).
   * Any other message, and progress with a token that is not one of ours, goes to the SDK as
   * before.
   */
  #hookMessages(): void {
    const t = this.#transport;
    const sdk = t.onmessage;
    if (!sdk) return;
    const byId = this.#byId;
    const pooled = byId && t instanceof PooledStreamableHTTPClientTransport ? t : undefined;
    t.onmessage = (m, extra) => {
      if (pooled && "method" in m && m.method !== PROGRESS && byId!.size) {
        const id = pooled.answeredRequest();
        const ctx = id === undefined ? undefined : byId!.get(Number(id));
        if (ctx) this.#related.set(m, ctx);
      }
      if (this.#progress.size && "method" in m && m.method === PROGRESS && !("id" in m)) {
        const { progressToken: token, ...progress } = (m.params ?? {}) as AnyObject;
        const onprogress = this.#progress.get(
          typeof token === "string" ? Number(token) : token as number,
        );
        if (onprogress) {
          try {
            onprogress(progress as Progress);
          } catch (err) {
            this.log.debug("progress relay failed", { error: describeError(err) });
          }
          return;
        }
      }
      sdk(m, extra);
    };
  }

  /**
   * The lean path of `request` (pooled_transport.ts): the id comes from the SDK client's own
   * counter; an abort sends `notifications/cancelled` as the SDK's `request` does.
   */
  async #leanRequest(
    t: PooledStreamableHTTPClientTransport,
    id: number,
    method: string,
    params: AnyObject | undefined,
    signal: AbortSignal,
  ): Promise<AnyObject> {
    let answer;
    try {
      answer = await t.call({ jsonrpc: "2.0", id, method, ...(params ? { params } : {}) }, signal);
    } catch (err) {
      if (signal.aborted) {
        void this.client.notification({
          method: "notifications/cancelled",
          params: { requestId: id, reason: String(signal.reason) },
        }).catch(() => {});
      }
      throw err;
    }
    if ("error" in answer) {
      const { code, message, data } = answer.error;
      throw McpError.fromError(code, message, data);
    }
    return answer.result;
  }

  /**
   * Fails every request in flight now with `err` (the backend stopped being routable); a lean
   * request's backend is sent `notifications/cancelled`. Returns how many.
   */
  failInFlight(err: BackendUnavailableError): number {
    for (const d of this.#deadlines.values()) d.ac.abort(err);
    return this.#deadlines.size;
  }

  /** Sends a notification (e.g. `notifications/roots/list_changed`); errors are logged. */
  async notify(method: string, params?: AnyObject): Promise<void> {
    if (this.#closed) return;
    await this.client.notification(
      { method, params } as unknown as Parameters<Client["notification"]>[0],
    )
      .catch((err) =>
        this.log.debug("backend notification failed", { method, error: describeError(err) })
      );
  }

  /**
   * Ends the backend session (Streamable HTTP: DELETE with its `Mcp-Session-Id`; a 405 means
   * the backend does not support it), waiting at most `timeoutMs`, then closes. Failures are
   * logged at debug: the session ends on our side either way.
   */
  async terminate(timeoutMs: number): Promise<void> {
    const t = this.#transport;
    if (!this.#closed && t instanceof StreamableHTTPClientTransport && t.sessionId) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        t.terminateSession().catch((err) =>
          this.log.debug("backend session not terminated", { error: describeError(err) })
        ),
        new Promise<void>((r) => timer = setTimeout(r, timeoutMs)),
      ]);
      clearTimeout(timer);
    }
    await this.close(); // aborts a DELETE still out
  }

  /** Closes the client and its transport (a stdio child is terminated). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.client.close().catch(() => {});
  }

  /**
   * One controller per request, aborted with a `BackendTimeoutError` at the deadline (a shared
   * deadline queue, core/deadlines.ts: no timer of its own per request) or with the caller's
   * reason. `pause()` stops the clock while the backend waits for the client (nested pauses
   * count); the last `resume()` arms a whole new `timeoutMs`.
   */
  #deadline(timeoutMs: number, outer: AbortSignal | undefined, what: string): CallDeadline {
    const ac = new AbortController();
    const arm = () =>
      backendDeadlines.add(
        timeoutMs,
        () => ac.abort(new BackendTimeoutError(this.name, timeoutMs, what)),
      );
    let timer: Deadline | undefined = arm();
    let paused = 0;
    const onAbort = () => ac.abort(outer!.reason);
    if (outer?.aborted) onAbort();
    else outer?.addEventListener("abort", onAbort, { once: true });
    return {
      ac,
      signal: ac.signal,
      done: () => {
        timer?.cancel();
        timer = undefined;
        paused = -1;
        outer?.removeEventListener("abort", onAbort);
      },
      pause: () => {
        if (paused < 0 || paused++ > 0) return;
        timer?.cancel();
        timer = undefined;
      },
      resume: () => {
        if (paused <= 0 || --paused > 0 || ac.signal.aborted) return;
        timer = arm();
      },
    };
  }

  #mapError(err: unknown, signal: AbortSignal): unknown {
    if (signal.aborted && isProxyError(signal.reason)) return signal.reason; // deadline, outage
    if (signal.aborted) return err; // cancelled by the client: nobody reads the answer
    if (err instanceof McpError) {
      if (
        err.code === ErrorCode.ConnectionClosed &&
        (this.#closed || /Connection closed/.test(err.message))
      ) {
        // "Connection closed: <why>" (pooled_transport.ts: an answer stream that broke) says why.
        const why = /Connection closed: (.+)$/s.exec(err.message)?.[1];
        return new BackendUnavailableError(this.name, why ?? this.#closedBy ?? "connection closed");
      }
      return passThrough(err); // sent by the backend: code, message and data untouched
    }
    // This caller's outgoing credentials failed: a per-request error, not a backend failure.
    const credentials = findCause(err, "OutgoingAuthError");
    if (credentials) return new BackendCredentialsError(this.name, credentials.message);
    // Transport-level failure (refused, HTTP error, broken pipe): this connection is done.
    const why = describeError(err);
    if (!this.#closed) {
      this.#closedBy = why;
      void this.close().then(() => this.events.onClosed(this));
    }
    const status = (err as { code?: unknown }).code;
    return new BackendUnavailableError(
      this.name,
      why,
      typeof status === "number" && status >= 100 && status < 600 ? status : undefined,
    );
  }

  /**
   * The session (and its request) a backend-initiated message belongs to; undefined when it
   * cannot be known. Only a per-session connection knows: everything on it concerns its owner.
   * A message that came on a call's POST answer (Streamable HTTP) belongs to that call; any
   * other (the GET stream, stdio) to the owner's one call in flight, when there is exactly one,
   * else to the owner alone (a pool owner refuses it). On a shared connection (a
   * shared stdio process, `shareHttp`, the proxy's own discovery connection) a server request
   * or log message carries nothing that names the call that caused it (progress is matched by
   * its token inside the SDK client), and "the one session in flight" is no answer either: the
   * server may be finishing work an earlier call of another session started (a timer, an async
   * tool, a subscription) while a different session happens to be waiting. So: nobody.
   */
  route(message?: object): CallContext | undefined {
    if (!this.owner) return undefined;
    const related = message && this.#related.get(message);
    if (related && this.#owns(related)) return related;
    let only: CallContext | undefined;
    let n = 0;
    for (const c of this.#inflight) {
      if (this.#owns(c)) (only = c), n++;
    }
    return n === 1 ? only : { session: this.owner };
  }

  /**
   * Whether `c` is a call of this connection's owner. A pooled connection (ADR 0010) is owned by
   * its identity's pool entry; its calls come from that identity's requests (same connectionKey).
   */
  #owns(c: CallContext): boolean {
    const key = this.owner?.connectionKey;
    return c.session !== undefined &&
      (c.session === this.owner || (key !== undefined && c.session.connectionKey === key));
  }

  /** Client sessions with a call in flight here (for the log line of a refused message). */
  #sessionsInFlight(): number {
    const ids = new Set<string>();
    for (const c of this.#inflight) if (c.session) ids.add(c.session.id);
    return ids.size;
  }

  async #onBackendRequest(req: Request, signal: AbortSignal): Promise<AnyObject> {
    const target = this.route(req);
    if (!target?.session) {
      // Method and counts only: the params may hold a user's prompt or data.
      this.log.warn("backend request refused: no single client session it belongs to", {
        method: req.method,
        sessionsInFlight: this.#sessionsInFlight(),
        transport: this.backend.transport,
      });
      const hint = this.backend.transport === "stdio" && !stdioPerSession(this.backend)
        ? ': its stdio process is shared by all sessions (set "stdio.mode: perSession" to ' +
          "give each client session its own process)"
        : ": this connection is not one client session's own";
      throw backendRequestRefused(
        this.name,
        req.method,
        `cannot be attributed to one client session${hint}`,
      );
    }
    if (req.method === "roots/list" && !target.session.clientCapabilities()?.roots) {
      return { roots: [] };
    }
    // The call waits for the client, not for the backend: its deadline stops meanwhile.
    const deadline = this.#deadlines.get(target);
    deadline?.pause();
    try {
      return await target.session.request(
        { method: req.method, params: req.params as AnyObject | undefined },
        {
          signal,
          ...(target.relatedRequestId !== undefined
            ? { relatedRequestId: target.relatedRequestId }
            : {}),
        },
      );
    } finally {
      deadline?.resume();
    }
  }

  async #onBackendNotification(n: Notification): Promise<void> {
    switch (n.method) {
      case "notifications/tools/list_changed":
        return this.events.onListChanged("tools");
      case "notifications/resources/list_changed":
        return this.events.onListChanged("resources");
      case "notifications/prompts/list_changed":
        return this.events.onListChanged("prompts");
      case "notifications/resources/updated":
        return this.events.onResourceUpdated(this, (n.params ?? {}) as AnyObject);
      case "notifications/message": {
        const target = this.route(n);
        if (target?.session) {
          await target.session.notify(
            { method: n.method, params: n.params as AnyObject },
            target.relatedRequestId,
          )
            .catch(() => {});
          return;
        }
        // Shared connection: dropped (warn once per connection, then debug; no log data).
        const level = (n.params as { level?: unknown } | undefined)?.level;
        const fields = { level, sessionsInFlight: this.#sessionsInFlight() };
        if (this.#droppedLogs++ === 0) {
          this.log.warn(
            "backend log messages dropped: shared connection, no session to send to",
            fields,
          );
        } else this.log.debug("backend log message dropped", fields);
        return;
      }
      default:
        this.log.debug("backend notification ignored", { method: n.method });
    }
  }
}

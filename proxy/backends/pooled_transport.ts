/**
 * The SDK's Streamable HTTP client transport with a keep-alive HTTP/1.1 pool of its own
 * (core/http1.ts, closed with the transport) and a lean request path for the proxy's hot path
 * (docs/adr/0004-proxy-hot-path.md, decision 4).
 *
 * `call` sends one JSON-RPC request as a POST straight over the pool and answers its JSON-RPC
 * response, skipping what the SDK path builds per request (`Headers`, `Request`, `Response`,
 * its timer) and the zod parse of a plain JSON answer. Everything else stays the SDK's:
 * - the backend session (initialize, `Mcp-Session-Id`, protocol version, the GET stream,
 *   DELETE) is the SDK client's and its transport's;
 * - an answer that is not our plain response (an SSE stream, a batch, other messages, a 202
 *   whose response comes on the GET stream) is handed to the SDK's own handling
 *   (`_handleSseStream`, `onmessage` after `JSONRPCMessageSchema.parse`), so backend log
 *   messages, sampling and elicitation requests reach the SDK `Client` as before; our
 *   response is picked out of `onmessage` by id;
 * - errors are the SDK's: `StreamableHTTPError` for an HTTP error status or an unexpected
 *   content type, `McpError(ConnectionClosed)` once the transport is closed, transport
 *   failures as thrown;
 * - a 307/308 redirect is re-sent through the SDK path (`send`), which follows it within the
 *   origin (such a POST was not processed); any other redirect is the SDK's error, not resent.
 *
 * On both paths a message the backend sends on a request's POST answer (its SSE stream, a
 * resumption of it, or a JSON batch) is delivered in that request's async context:
 * `answeredRequest()`, called inside `onmessage`, names the request (Streamable HTTP: the backend
 * sent it for that request), and is undefined on the standalone GET stream (ADR 0010 §7).
 *
 * It applies to plain `http:` URLs that no proxy variable covers (the same rule as the pooled
 * `fetch`), and only once the SDK client has connected. Ids come from the SDK client's own
 * counter (see `BackendConnection.request`), so they never collide with its requests.
 *
 * Relies on @modelcontextprotocol/sdk 1.32.2 internals (`_sessionId`, `_protocolVersion`,
 * `_requestInit`, `_handleSseStream`, `_unfollowedRedirect`); `pooled_transport_test.ts` pins
 * them.
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { type Http1Pool, rawHeader, type RawResponse, toResponse } from "../../core/http1.ts";
import { encodeJsonPost, jsonPostPrefix } from "../../core/http1_wire.ts";
import { type BackendFetch, proxiedHosts } from "../../core/http_client.ts";
import {
  ErrorCode,
  type JSONRPCMessage,
  JSONRPCMessageSchema,
  type JSONRPCRequest,
  McpError,
  type RequestId,
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from "../../core/sdk.ts";
import { OUTCOME_UNKNOWN, ResponseStreamEnded } from "./errors.ts";
import type { HeadersProvider } from "./transport.ts";
import { telemetry } from "../telemetry/instrument.ts";

type AnyObject = Record<string, unknown>;

/** The JSON-RPC response to one request. */
export type RpcAnswer =
  | { jsonrpc: "2.0"; id: RequestId; result: AnyObject }
  | { jsonrpc: "2.0"; id: RequestId; error: { code: number; message: string; data?: unknown } };

interface SdkInternals {
  _sessionId?: string;
  _protocolVersion?: string;
  _requestInit?: RequestInit;
  _authProvider?: unknown;
  _unfollowedRedirect(response: Response, url: URL): string | undefined;
  _handleSseStream(
    stream: ReadableStream<Uint8Array>,
    options: Record<string, unknown>,
    isReconnectable: boolean,
  ): void;
  _scheduleReconnection(options: Record<string, unknown>, attemptCount?: number): void;
}

/**
 * A request's POST answer stream being watched (`#watchEnd`). `fail` ends the request at once
 * when it has no answer yet; `broken` is set when the stream's connection broke (the backend
 * died or dropped it), which fails the request even when the stream was resumable.
 */
interface Watched {
  fail(cause?: unknown): void;
  broken: boolean;
}

interface Waiter {
  resolve(m: RpcAnswer): void;
  reject(err: unknown): void;
}

const USER_AGENT = `Deno/${Deno.version.deno}`;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const ANSWER_KEYS = new Set(["jsonrpc", "id", "result", "error"]);
const decoder = new TextDecoder();
/** After a response stream ends: time for the SDK's SSE parser to deliver its last events. */
const STREAM_END_GRACE_MS = 50;
/**
 * The request whose POST answer is being read (`sdk`: sent through the SDK's `send`). Every
 * message the SDK's stream handling delivers runs in the async context it was started in, so a
 * message delivered under this context came on that request's answer (its SSE stream, a
 * resumption of it, or its JSON body). The standalone GET stream runs outside any.
 */
interface Answering {
  transport: PooledStreamableHTTPClientTransport;
  id: RequestId;
  sdk: boolean;
}
const answering = new AsyncLocalStorage<Answering | undefined>();

function isObject(v: unknown): v is AnyObject {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * True when `m` is exactly a response to `id` as `JSONRPCMessageSchema` would accept it: a
 * result object (with an object `_meta` if any) or an error with an integer code and a string
 * message, and no other top-level key. Anything else takes the SDK's parse.
 */
export function isPlainAnswer(m: unknown, id: RequestId): m is RpcAnswer {
  if (!isObject(m) || m.jsonrpc !== "2.0" || m.id !== id) return false;
  for (const k in m) if (!ANSWER_KEYS.has(k)) return false;
  if ("result" in m) {
    const r = m.result;
    return !("error" in m) && isObject(r) && (r._meta === undefined || isObject(r._meta));
  }
  const e = m.error;
  return isObject(e) && Number.isInteger(e.code) && typeof e.message === "string";
}

/** What the SDK's `Protocol` rejects pending requests with once its transport closes. */
function connectionClosed(): McpError {
  return new McpError(ErrorCode.ConnectionClosed, "Connection closed");
}

function mediaType(value: string | undefined): string {
  return (value ?? "").split(";")[0]!.trim().toLowerCase();
}

async function bodyText(body: RawResponse["body"]): Promise<string> {
  if (body === null) return "";
  if (body instanceof Uint8Array) return decoder.decode(body);
  return await new Response(body).text();
}

async function discard(body: RawResponse["body"]): Promise<void> {
  if (body instanceof ReadableStream) await body.cancel().catch(() => {});
}

function asStream(body: RawResponse["body"]): ReadableStream<Uint8Array> {
  if (body instanceof ReadableStream) return body;
  return new ReadableStream({
    start(controller) {
      if (body) controller.enqueue(body);
      controller.close();
    },
  });
}

function safeEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

export class PooledStreamableHTTPClientTransport extends StreamableHTTPClientTransport {
  readonly #pool: Http1Pool;
  readonly #url: URL;
  readonly #headers: HeadersProvider | undefined;
  readonly #leanUrl: boolean;
  readonly #waiters = new Map<number, Waiter>();
  /** SDK-path requests whose response stream is watched, until their answer arrives. */
  readonly #sdkPending = new Set<string>();
  /**
   * Watched answer streams by the `onresumptiontoken` function passed with them: the SDK hands
   * that function back to `_scheduleReconnection` when it resumes the stream.
   */
  readonly #watched = new WeakMap<object, Watched>();
  #hooked = false;
  #closed = false;
  #prefix = "";
  #prefixFor: [string | undefined, string | undefined] | undefined;

  constructor(
    url: URL,
    opts: {
      pool: Http1Pool;
      fetch: BackendFetch;
      headers?: HeadersProvider;
      sessionId?: string;
      getEnv?: (name: string) => string | undefined;
    },
  ) {
    super(url, { fetch: opts.fetch, ...(opts.sessionId ? { sessionId: opts.sessionId } : {}) });
    // SDK path: a POST's SSE stream that ends without the answer fails that request at once.
    const sdk = this.#sdk;
    const handle = sdk._handleSseStream.bind(this);
    sdk._handleSseStream = (stream, options, isReconnectable) => {
      const a = answering.getStore();
      if (!stream || isReconnectable || a?.transport !== this || !a.sdk) {
        return handle(stream, options, isReconnectable);
      }
      const id = a.id;
      const key = String(id);
      this.#sdkPending.add(key);
      const [watched, opts] = this.#watch(options, (cause) => this.#sdkUnanswered(id, key, cause));
      handle(this.#watchEnd(stream, watched), opts, false);
    };
    // Both paths: the SDK resumes a resumable answer stream that ended (Last-Event-ID); a
    // resumption that fails (the backend is gone) fails its request now, and a stream whose
    // connection broke is not resumed (its request already failed, see `#watchEnd`).
    const schedule = sdk._scheduleReconnection.bind(this);
    sdk._scheduleReconnection = (options, attemptCount = 0) => {
      const tag = options?.onresumptiontoken;
      const w = typeof tag === "function" ? this.#watched.get(tag) : undefined;
      if (w?.broken) return;
      if (w && attemptCount > 0) {
        return w.fail(new Error("resuming it failed"));
      }
      schedule(options, attemptCount);
    };
    this.#pool = opts.pool;
    this.#url = url;
    this.#headers = opts.headers;
    this.#leanUrl = url.protocol === "http:" &&
      !proxiedHosts(opts.getEnv ?? safeEnv)(url.hostname);
  }

  get #sdk(): SdkInternals {
    return this as unknown as SdkInternals;
  }

  /**
   * The SDK's `send`, remembering which request a POST's response stream answers. Anything
   * else (a notification, whose `notifications/initialized` opens the GET stream; an answer to
   * the backend) is sent outside any request's context.
   */
  override send(
    message: JSONRPCMessage,
    options?: Parameters<StreamableHTTPClientTransport["send"]>[1],
  ): Promise<void> {
    const store = "method" in message && "id" in message
      ? { transport: this, id: message.id, sdk: true }
      : undefined;
    return answering.run(store, () => super.send(message, options));
  }

  /**
   * The id of the request whose POST answer (its SSE stream or JSON body) the message being
   * delivered now came on: the backend sent it for that request (Streamable HTTP). Undefined
   * for the standalone GET stream. Valid only synchronously inside `onmessage`.
   */
  answeredRequest(): RequestId | undefined {
    const a = answering.getStore();
    return a?.transport === this ? a.id : undefined;
  }

  /** The SDK's `start`, then notes answers to watched SDK-path requests. */
  override async start(): Promise<void> {
    await super.start();
    const inner = this.onmessage;
    if (!inner) return;
    this.onmessage = (m: JSONRPCMessage) => {
      if (this.#sdkPending.size && !("method" in m) && "id" in m) {
        this.#sdkPending.delete(String(m.id));
      }
      inner(m);
    };
  }

  /**
   * A watched SDK-path request got no answer on its stream: answer it "Connection closed" (the
   * connection maps that to `BackendUnavailableError`), as when the transport closes.
   */
  #sdkUnanswered(id: RequestId, key: string, cause?: unknown): void {
    if (!this.#sdkPending.delete(key) || this.#closed) return;
    const why = cause instanceof Error ? ` (${cause.message})` : "";
    this.onmessage?.({
      jsonrpc: "2.0",
      id,
      error: {
        code: ErrorCode.ConnectionClosed,
        message: `Connection closed: ${OUTCOME_UNKNOWN}: the response stream ended without an ` +
          `answer${why}`,
      },
    } as JSONRPCMessage);
  }

  /**
   * A watch of one answer stream, and the options to hand the SDK's stream handling with it
   * (their `onresumptiontoken` names the watch when the SDK resumes the stream).
   */
  #watch(
    options: Record<string, unknown>,
    fail: (cause?: unknown) => void,
  ): [Watched, Record<string, unknown>] {
    const inner = options.onresumptiontoken as ((token: string) => void) | undefined;
    const tag = (token: string) => inner?.(token);
    const watched: Watched = { fail, broken: false };
    this.#watched.set(tag, watched);
    return [watched, { ...options, onresumptiontoken: tag }];
  }

  /**
   * Whether `call` may be used: a plain `http:` URL no proxy covers, the SDK client connected
   * (its `onmessage` is wrapped here, once, to pick out our responses), transport open.
   */
  leanReady(): boolean {
    if (!this.#leanUrl || this.#closed) return false;
    if (this.#sdk._requestInit || this.#sdk._authProvider) return false;
    if (!this.#hooked) {
      const inner = this.onmessage;
      if (!inner) return false;
      this.onmessage = (m: JSONRPCMessage) => {
        if (this.#waiters.size && !("method" in m) && "id" in m) {
          const key = Number(m.id);
          const w = this.#waiters.get(key);
          if (w) {
            this.#waiters.delete(key);
            if ("result" in m || "error" in m) return w.resolve(m as RpcAnswer);
          }
        }
        inner(m);
      };
      this.#hooked = true;
    }
    return true;
  }

  /**
   * Sends `request` (its id taken from the SDK client's counter) and answers its response.
   * `signal` aborts it (the socket is closed; the caller sends `notifications/cancelled`).
   */
  call(request: JSONRPCRequest, signal: AbortSignal): Promise<RpcAnswer> {
    // As the SDK's `send` does: failures also go to `onerror` (logged at debug).
    return this.#call(request, signal).catch((err) => {
      if (!signal.aborted) this.onerror?.(err as Error);
      throw err;
    });
  }

  async #call(request: JSONRPCRequest, signal: AbortSignal): Promise<RpcAnswer> {
    if (this.#closed) throw connectionClosed();
    let extra = this.#headers ? await this.#headers(signal) : undefined;
    if (this.#closed) throw connectionClosed(); // closed while the headers were fetched
    if (telemetry) extra = telemetry.inject(extra); // W3C traceparent of the backend span
    const bytes = encodeJsonPost(this.#headPrefix(), extra, JSON.stringify(request), USER_AGENT);
    let raw: RawResponse;
    try {
      raw = await this.#pool.send(this.#url, "POST", bytes, signal);
    } catch (err) {
      if (this.#closed && !signal.aborted) throw connectionClosed();
      throw err;
    }
    const sessionId = rawHeader(raw, "mcp-session-id");
    if (sessionId) this.#sdk._sessionId = sessionId;
    const id = request.id;
    if (raw.status < 200 || raw.status > 299) {
      // Only 307/308 keep a POST a POST: the SDK follows those (within the origin) and
      // refuses the others (a 303 may mean the backend ran the call), so never resend those.
      if ((raw.status === 307 || raw.status === 308) && rawHeader(raw, "location")) {
        await discard(raw.body);
        return await this.#await(id, signal, () => this.send(request));
      }
      const text = await bodyText(raw.body).catch(() => null);
      const redirect = REDIRECTS.has(raw.status)
        ? this.#sdk._unfollowedRedirect(toResponse({ ...raw, body: null }), this.#url)
        : undefined;
      throw new StreamableHTTPError(raw.status, `Error POSTing to endpoint: ${redirect ?? text}`);
    }
    if (raw.status === 202) {
      await discard(raw.body);
      return await this.#await(id, signal, async () => {}); // answered on the GET stream
    }
    const type = mediaType(rawHeader(raw, "content-type"));
    if (type === "application/json") {
      // A body still streaming fails with the socket when `close()` runs: report it as closed.
      const text = raw.body instanceof Uint8Array
        ? decoder.decode(raw.body) // the usual case: all there already
        : await bodyText(raw.body).catch((err) => {
          throw this.#closed && !signal.aborted ? connectionClosed() : err;
        });
      const data = JSON.parse(text);
      if (isPlainAnswer(data, id)) return data;
      return await this.#await(
        id,
        signal,
        () =>
          answering.run({ transport: this, id, sdk: false }, () => {
            const messages = Array.isArray(data) ? data : [data];
            for (const m of messages.map((m) => JSONRPCMessageSchema.parse(m))) {
              this.onmessage?.(m as JSONRPCMessage);
            }
          }),
      );
    }
    if (type === "text/event-stream") {
      return await this.#await(id, signal, () => {
        const key = Number(id);
        const [watched, opts] = this.#watch({}, (cause) => {
          this.#waiters.get(key)?.reject(new ResponseStreamEnded(cause));
        });
        const stream = this.#watchEnd(asStream(raw.body), watched);
        answering.run(
          { transport: this, id, sdk: false },
          () => this.#sdk._handleSseStream(stream, opts, false),
        );
      });
    }
    await discard(raw.body);
    throw new StreamableHTTPError(
      -1,
      `Unexpected content type: ${rawHeader(raw, "content-type") ?? null}`,
    );
  }

  override async close(): Promise<void> {
    this.#closed = true;
    const closed = connectionClosed();
    for (const w of this.#waiters.values()) w.reject(closed);
    this.#waiters.clear();
    try {
      await super.close();
    } finally {
      // Like the SDK's abort of its POSTs in flight: lean requests in flight fail now.
      this.#pool.close();
      this.#pool.abortAll();
    }
  }

  /** Request line and fixed headers; rebuilt when the session id or protocol version change. */
  #headPrefix(): string {
    const { _sessionId: sid, _protocolVersion: version } = this.#sdk;
    const built = this.#prefixFor;
    if (!built || built[0] !== sid || built[1] !== version) {
      const fixed: Record<string, string> = {};
      if (sid) fixed["mcp-session-id"] = sid;
      if (version) fixed["mcp-protocol-version"] = version;
      this.#prefix = jsonPostPrefix(this.#url, fixed);
      this.#prefixFor = [sid, version];
    }
    return this.#prefix;
  }

  /**
   * `stream` as it is, noticing its end: when a response stream ends or breaks, `watched.fail`
   * runs, which fails the request at once if its answer has not come (the request was sent and
   * its outcome is unknown) instead of at the deadline. A stream with an event id that ends
   * cleanly is resumable: the SDK reconnects with Last-Event-ID (a failed resumption fails the
   * request, see the constructor). One whose connection broke (the backend died) fails at once,
   * resumable or not. The check runs a short grace after the end, once the SDK's parser has
   * delivered the last events.
   */
  #watchEnd(stream: ReadableStream<Uint8Array>, watched: Watched): ReadableStream<Uint8Array> {
    const reader = stream.getReader();
    let resumable = false;
    let last = "\n";
    const ended = (cause?: unknown) => {
      if (!resumable || watched.broken) {
        setTimeout(() => watched.fail(cause), STREAM_END_GRACE_MS);
      }
    };
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (err) {
          watched.broken = true;
          ended(err);
          controller.error(err);
          return;
        }
        if (r.done) {
          ended();
          controller.close();
          return;
        }
        if (!resumable) {
          const text = last + decoder.decode(r.value);
          resumable = /[\r\n]id:/.test(text);
          last = text.slice(-1);
        }
        controller.enqueue(r.value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
  }

  /** Registers a waiter for response `id`, runs `deliver`, and waits (abortable). */
  async #await(
    id: RequestId,
    signal: AbortSignal,
    deliver: () => void | Promise<void>,
  ): Promise<RpcAnswer> {
    const key = Number(id);
    let onAbort: (() => void) | undefined;
    const answer = new Promise<RpcAnswer>((resolve, reject) => {
      if (this.#closed) return reject(connectionClosed());
      this.#waiters.set(key, { resolve, reject });
      onAbort = () => reject(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      // Race: an abort or close must end the wait even while `deliver` (a redirect re-sent
      // through `send`) is still out, and must not leave `answer` rejected unobserved.
      await Promise.race([deliver(), answer]);
      return await answer;
    } finally {
      answer.catch(() => {});
      this.#waiters.delete(key);
      signal.removeEventListener("abort", onAbort!);
    }
  }
}

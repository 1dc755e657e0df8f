/**
 * The proxy's OpenTelemetry instrumentation: a server span per client request on `/mcp`, a
 * client span per backend request (its W3C `traceparent` goes to HTTP backends), and the
 * `mcp.server.operation.duration` / `mcp.client.operation.duration` histograms.
 *
 * `telemetry` is a live binding that stays `undefined` while telemetry is off (the default):
 * every hook in the hot path is `if (telemetry) …`, one check and nothing allocated. When on,
 * the request's context (its span and what is known about it) travels with the async work of
 * the request (`AsyncLocalStorageContextManager`), so the SDK path, the JSON fast path, the
 * modern endpoint and composite steps need no extra parameters to find their parent.
 *
 * What spans carry follows the MCP semantic conventions: `mcp.method.name`, `gen_ai.tool.name`,
 * `gen_ai.prompt.name`, `mcp.resource.uri`, `mcp.session.id`, `mcp.protocol.version`,
 * `jsonrpc.request.id`, `rpc.response.status_code` and `error.type` on failures. Never
 * arguments, results or credentials.
 * @module
 */
import {
  type Attributes,
  type Context,
  context,
  type Histogram,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
  W3CTraceContextPropagator,
} from "../../core/telemetry.ts";

/** What the hooks know about one client request. */
interface RequestInfo {
  span: Span | undefined;
  method: string;
  errorType: string | undefined;
}

const INFO = Symbol.for("vmcp.telemetry.request");
/** The current client request's info (set by `serve` in the request's context). */
const current = () => context.active().getValue(INFO) as RequestInfo | undefined;
const propagator = new W3CTraceContextPropagator();
const headerGetter = {
  get: (h: Headers, key: string) => h.get(key) ?? undefined,
  keys: (h: Headers) => [...h.keys()],
};
const recordSetter = {
  set: (h: Record<string, string>, key: string, value: string) => {
    h[key] = value;
  },
};

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** `{name, attributes}` of the span of a JSON-RPC request `method` with `params`. */
export function describeCall(
  method: string,
  params: unknown,
): { name: string; attributes: Attributes } {
  const attributes: Attributes = { "mcp.method.name": method };
  const p = isObject(params) ? params : {};
  let target: string | undefined;
  if ((method === "tools/call") && typeof p.name === "string") {
    attributes["gen_ai.tool.name"] = target = p.name;
  } else if (method === "prompts/get" && typeof p.name === "string") {
    attributes["gen_ai.prompt.name"] = target = p.name;
  } else if (
    (method === "resources/read" || method === "resources/subscribe" ||
      method === "resources/unsubscribe") && typeof p.uri === "string"
  ) {
    attributes["mcp.resource.uri"] = target = p.uri;
  }
  return { name: target === undefined ? method : `${method} ${target}`, attributes };
}

/** The JSON-RPC error code of `err` (a string, as `rpc.response.status_code` wants). */
function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return Number.isSafeInteger(code) ? String(code) : undefined;
}

/** Ends `span` when `body` has been read to its end, failed or was cancelled. */
function endWithBody(
  body: ReadableStream<Uint8Array>,
  end: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let ended = false;
  const once = () => {
    if (!ended) (ended = true, end());
  };
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          once();
          c.close();
        } else c.enqueue(value);
      } catch (err) {
        once();
        c.error(err);
      }
    },
    async cancel(reason) {
      once();
      await reader.cancel(reason);
    },
  });
}

export interface InstrumentationOptions {
  /** Spans (tracingEnabled); undefined: none. */
  tracer?: Tracer | undefined;
  /** `mcp.server.operation.duration` (s), by method and error type; undefined: not recorded. */
  serverDuration?: Histogram | undefined;
  /** `mcp.client.operation.duration` (s), by backend, method and error type. */
  clientDuration?: Histogram | undefined;
}

export class Instrumentation {
  readonly tracer: Tracer | undefined;
  readonly #serverDuration: Histogram | undefined;
  readonly #clientDuration: Histogram | undefined;

  constructor(opts: InstrumentationOptions) {
    this.tracer = opts.tracer;
    this.#serverDuration = opts.serverDuration;
    this.#clientDuration = opts.clientDuration;
  }

  /**
   * Runs `run` (the `/mcp` handler of `req`) inside the request's server span, whose parent is
   * the client's `traceparent`. The span ends with the answer, or for a streamed answer when the
   * stream ends. GET (the standalone notification stream) is run untraced.
   */
  async serve(req: Request, run: () => Promise<Response>): Promise<Response> {
    // A GET is a long-lived notification stream, not a request: no span, no duration.
    if (req.method === "GET") return await run();
    const started = performance.now();
    const info: RequestInfo = { span: undefined, method: req.method, errorType: undefined };
    let ctx: Context = ROOT_CONTEXT;
    if (this.tracer) {
      const parent = propagator.extract(ROOT_CONTEXT, req.headers, headerGetter);
      const attributes: Attributes = { "network.protocol.name": "http" };
      const sessionId = req.headers.get("mcp-session-id");
      if (sessionId) attributes["mcp.session.id"] = sessionId;
      info.span = this.tracer.startSpan(
        `mcp ${req.method}`,
        { kind: SpanKind.SERVER, attributes },
        parent,
      );
      ctx = trace.setSpan(parent, info.span);
    }
    ctx = ctx.setValue(INFO, info);
    const finish = (status: number | undefined) => {
      const span = info.span;
      if (span) {
        if (status !== undefined) span.setAttribute("http.response.status_code", status);
        if (info.errorType !== undefined) {
          span.setAttribute("error.type", info.errorType);
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
      }
      this.#serverDuration?.record((performance.now() - started) / 1000, {
        "mcp.method.name": info.method,
        ...(info.errorType !== undefined ? { "error.type": info.errorType } : {}),
      });
    };
    let res: Response;
    try {
      res = await context.with(ctx, run);
    } catch (err) {
      info.errorType ??= (err as Error)?.name ?? "Error";
      finish(undefined);
      throw err;
    }
    if (res.status >= 500) info.errorType ??= String(res.status);
    const sessionId = res.headers.get("mcp-session-id");
    if (sessionId && info.span) info.span.setAttribute("mcp.session.id", sessionId);
    const streamed = res.body !== null &&
      res.headers.get("content-type")?.startsWith("text/event-stream") === true;
    if (!streamed) {
      finish(res.status);
      return res;
    }
    const status = res.status;
    return new Response(endWithBody(res.body!, () => finish(status)), {
      status,
      statusText: res.statusText,
      headers: res.headers,
    });
  }

  /**
   * Names the request's span after its JSON-RPC message (called inside `serve`'s `run`, once the
   * body of `req` is parsed).
   */
  describe(req: Request, body: unknown): void {
    const info = current();
    if (!info || !isObject(body) || typeof body.method !== "string") return;
    info.method = body.method;
    const span = info.span;
    if (!span?.isRecording()) return; // not sampled: nothing to name
    const { name, attributes } = describeCall(body.method, body.params);
    span.updateName(name);
    const id = body.id;
    if (typeof id === "string" || typeof id === "number") {
      attributes["jsonrpc.request.id"] = String(id);
    }
    const version = req.headers.get("mcp-protocol-version");
    if (version) attributes["mcp.protocol.version"] = version;
    span.setAttributes(attributes);
  }

  /** Marks the current client request failed with `err`'s JSON-RPC code (its handler threw). */
  failed(err: unknown): void {
    const info = current();
    if (!info) return;
    const code = errorCode(err);
    info.errorType = code ?? (err as Error)?.name ?? "Error";
    if (code !== undefined) info.span?.setAttribute("rpc.response.status_code", code);
  }

  /** Marks the current client request's tool call as one that ran and failed (`isError`). */
  toolError(): void {
    const info = current();
    if (info) info.errorType ??= "tool_error";
  }

  /**
   * Runs one backend request inside a client span (a child of the current request's span, or of
   * a composite step's). Backend requests outside a client request (discovery, health) and in an
   * unsampled trace get none.
   */
  async backendCall<T>(
    backend: string,
    method: string,
    params: unknown,
    send: () => Promise<T>,
  ): Promise<T> {
    const started = performance.now();
    const parent = context.active();
    const tracer = this.tracer;
    // Not sampled: no child span; the backend gets the request's unsampled traceparent.
    const span = tracer && trace.getSpan(parent)?.isRecording()
      ? (() => {
        const { name, attributes } = describeCall(method, params);
        attributes["vmcp.backend.name"] = backend;
        return tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
      })()
      : undefined;
    let errorType: string | undefined;
    try {
      const result = span ? await context.with(trace.setSpan(parent, span), send) : await send();
      if (method === "tools/call" && (result as { isError?: unknown })?.isError === true) {
        errorType = "tool_error";
      }
      return result;
    } catch (err) {
      const code = errorCode(err);
      errorType = code ?? (err as Error)?.name ?? "Error";
      if (code !== undefined) span?.setAttribute("rpc.response.status_code", code);
      throw err;
    } finally {
      if (span) {
        if (errorType !== undefined) {
          span.setAttribute("error.type", errorType);
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
      }
      this.#clientDuration?.record((performance.now() - started) / 1000, {
        "mcp.method.name": method,
        "vmcp.backend.name": backend,
        ...(errorType !== undefined ? { "error.type": errorType } : {}),
      });
    }
  }

  /**
   * `headers` plus the current span's `traceparent` (and `tracestate`) for an HTTP request to a
   * backend; `headers` itself when tracing is off or no span is current.
   */
  inject(headers: Record<string, string> | undefined): Record<string, string> | undefined {
    if (!this.tracer) return headers;
    const active = context.active();
    if (!trace.getSpan(active)) return headers;
    const out: Record<string, string> = { ...headers };
    propagator.inject(active, out, recordSetter);
    return out;
  }
}

/**
 * The running instrumentation; `undefined` while telemetry is off. A live binding: hooks read
 * it on every request (`if (telemetry) …`).
 */
export let telemetry: Instrumentation | undefined;

/** Installs (or, with undefined, removes) the process's instrumentation. */
export function setTelemetry(next: Instrumentation | undefined): void {
  telemetry = next;
}

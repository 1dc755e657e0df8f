/**
 * The client-facing Streamable HTTP transport: the SDK's web-standard transport, answering
 * each POST either as plain JSON (faster) or as an SSE stream, decided per request.
 *
 * The SDK fixes `enableJsonResponse` per transport. This subclass sets it per POST (the body is
 * parsed by the caller and handed over as `parsedBody`, so the SDK reads the flag synchronously)
 * and, when sending, from the kind of stream the message belongs to. A notification or request
 * related to a JSON-answered request (e.g. a backend's log message or sampling request during
 * a call) goes to the session's standalone GET stream instead.
 *
 * Without an event store the SDK drops a notification sent while the client has no standalone
 * GET stream (e.g. while it reconnects after the replica holding its stream died, or before it
 * reopens it on a replica that restored the session). List changes and resource updates are
 * hints a client must not miss, so they are kept (deduplicated, bounded) and delivered as soon
 * as a GET stream opens on this transport; `remindListsChanged()` queues all three list
 * changes for a restored session, which cannot know what the client missed elsewhere.
 *
 * The SDK never removes the stream entry of a JSON-answered POST; `send` drops it once all of
 * that POST's requests are answered (otherwise every call leaks an entry).
 *
 * A response whose result carries pre-serialized JSON text (`proxy/preserialized.ts`: the
 * aggregated lists) is answered with that text when it goes out as plain JSON.
 *
 * This relies on SDK internals (`_enableJsonResponse`, `_requestToStreamMapping`,
 * `_streamMapping`) of @modelcontextprotocol/sdk 1.32.2, and on `send` not awaiting anything
 * without an event store; `transport_test.ts` pins the behaviour.
 * @module
 */
import {
  type JSONRPCMessage,
  type RequestId,
  WebStandardStreamableHTTPServerTransport,
} from "../../core/sdk.ts";
import { jsonTextOf } from "../preserialized.ts";

interface Internals {
  _enableJsonResponse: boolean;
  _requestToStreamMapping: Map<unknown, string>;
  _streamMapping: Map<
    string,
    { resolveJson?: (res: Response) => void; controller?: unknown; cleanup?: () => void }
  >;
}

const GET_STREAM = "_GET_stream";

/** Request ids named by the `notifications/cancelled` messages of a POST body. */
function cancelledIds(body: unknown): RequestId[] {
  const ids: RequestId[] = [];
  for (const m of Array.isArray(body) ? body : [body]) {
    const msg = m as { method?: unknown; id?: unknown; params?: { requestId?: unknown } };
    if (msg?.method !== "notifications/cancelled" || msg.id !== undefined) continue;
    const id = msg.params?.requestId;
    if (typeof id === "string" || typeof id === "number") ids.push(id);
  }
  return ids;
}

/** Notifications kept while the client has no GET stream (the latest per method). */
const LIST_CHANGED = [
  "notifications/tools/list_changed",
  "notifications/resources/list_changed",
  "notifications/prompts/list_changed",
];
const UPDATED = "notifications/resources/updated";
/** At most this many distinct resource URIs are kept; the oldest go first. */
const MAX_KEPT_UPDATES = 100;

export class ProxyServerTransport extends WebStandardStreamableHTTPServerTransport {
  get #internals(): Internals {
    return this as unknown as Internals;
  }

  /** Notifications waiting for a GET stream, keyed by method (and URI for updates). */
  readonly #kept = new Map<string, JSONRPCMessage>();

  /**
   * Requests in flight on the JSON-only fast path (`fast_call.ts`): the SDK has no stream for
   * them, so messages related to them go to the standalone GET stream, as for any request
   * answered as JSON.
   */
  readonly fastCalls = new Set<RequestId>();

  /** True while the client holds its standalone GET stream open. */
  get hasStandaloneStream(): boolean {
    return this.#internals._streamMapping.has(GET_STREAM);
  }

  /** True while a GET stream is open or a request is being answered (not safe to close). */
  get active(): boolean {
    return this.#internals._streamMapping.size > 0;
  }

  /** Notifications waiting for the client's next GET stream (for tests and /status). */
  get keptNotifications(): number {
    return this.#kept.size;
  }

  /** Handles a POST whose body the caller parsed, answering as JSON or as an SSE stream. */
  async handlePost(req: Request, parsedBody: unknown, json: boolean): Promise<Response> {
    this.#internals._enableJsonResponse = json;
    const res = await this.handleRequest(req, { parsedBody });
    for (const id of cancelledIds(parsedBody)) this.#endCancelled(id);
    return res;
  }

  /**
   * Ends the HTTP exchange of a request the client cancelled. The SDK sends no answer for a
   * cancelled request (as the spec wants) and so never settles its POST: a JSON-answered one
   * would hang for ever and hold its connection busy (no idle timeout, a connection slot lost
   * per cancelled call). A JSON exchange whose requests are all cancelled now ends with `202`
   * and no body; an SSE stream with no request left on it closes.
   */
  #endCancelled(id: RequestId): void {
    const internals = this.#internals;
    const streamId = internals._requestToStreamMapping.get(id);
    if (streamId === undefined || streamId === GET_STREAM) return;
    internals._requestToStreamMapping.delete(id);
    for (const sid of internals._requestToStreamMapping.values()) if (sid === streamId) return;
    const stream = internals._streamMapping.get(streamId);
    if (!stream) return;
    if (stream.resolveJson) {
      internals._streamMapping.delete(streamId);
      stream.resolveJson(new Response(null, { status: 202 }));
    } else stream.cleanup?.();
  }

  /**
   * Closes the session's streams. The SDK drops a JSON-answered POST still waiting for its
   * answer without settling it; each such request is answered with an error here instead, so
   * no HTTP exchange outlives its session.
   */
  override async close(): Promise<void> {
    const internals = this.#internals;
    const pending = new Map<string, RequestId[]>();
    for (const [rid, sid] of internals._requestToStreamMapping) {
      if (internals._streamMapping.get(sid)?.resolveJson) {
        pending.set(sid, [...(pending.get(sid) ?? []), rid as RequestId]);
      }
    }
    for (const [sid, ids] of pending) {
      const resolve = internals._streamMapping.get(sid)!.resolveJson!;
      const answers = ids.map((id) => ({
        jsonrpc: "2.0",
        id,
        error: { code: -32000, message: "The session was closed before this request was answered" },
      }));
      resolve(
        new Response(JSON.stringify(answers.length === 1 ? answers[0] : answers), {
          status: 200,
          headers: { "Content-Type": "application/json" },
        }),
      );
    }
    await super.close();
  }

  /** Delivers kept notifications once a GET stream opened. */
  override async handleRequest(
    req: Request,
    options?: Parameters<WebStandardStreamableHTTPServerTransport["handleRequest"]>[1],
  ): Promise<Response> {
    const res = await super.handleRequest(req, options);
    if (req.method === "GET" && res.status === 200 && this.#kept.size && this.hasStandaloneStream) {
      const kept = [...this.#kept.values()];
      this.#kept.clear();
      for (const m of kept) await super.send(m).catch(() => {});
    }
    return res;
  }

  /**
   * Queues tools/resources/prompts list_changed for the client's next GET stream: a restored
   * session cannot know which changes the client missed while it had no stream here.
   */
  remindListsChanged(): void {
    for (const method of LIST_CHANGED) this.#keep({ jsonrpc: "2.0", method });
  }

  #keep(message: JSONRPCMessage): void {
    const m = message as { method?: string; params?: { uri?: unknown } };
    let key: string;
    if (m.method === UPDATED && typeof m.params?.uri === "string") {
      key = `${UPDATED} ${m.params.uri}`;
      this.#kept.delete(key);
      const updates = [...this.#kept.keys()].filter((k) => k.startsWith(UPDATED));
      if (updates.length >= MAX_KEPT_UPDATES) this.#kept.delete(updates[0]!);
    } else if (m.method && LIST_CHANGED.includes(m.method)) key = m.method;
    else return; // anything else is dropped, as the SDK does
    this.#kept.set(key, message);
  }

  /** A message for the standalone stream: kept when the client has none open. */
  #standalone(message: JSONRPCMessage): Promise<void> {
    if (!this.hasStandaloneStream && "method" in message && !("id" in message)) {
      this.#keep(message);
      return Promise.resolve();
    }
    return super.send(message);
  }

  /**
   * A pre-serialized result (aggregated lists, `proxy/preserialized.ts`): the SDK answers with
   * a small stand-in whose body is replaced by the kept text (no re-serialization).
   */
  #keptText(
    message: JSONRPCMessage,
    rid: unknown,
    stream: { resolveJson?: (res: Response) => void },
  ): JSONRPCMessage {
    const text = jsonTextOf((message as { result?: unknown }).result);
    const resolve = stream.resolveJson;
    if (text === undefined || !resolve) return message;
    const body = `{"result":${text},"jsonrpc":"2.0","id":${JSON.stringify(rid)}}`;
    stream.resolveJson = (res) =>
      resolve(new Response(body, { status: res.status, headers: res.headers }));
    return { ...message, result: {} } as JSONRPCMessage;
  }

  override send(
    message: JSONRPCMessage,
    options?: { relatedRequestId?: RequestId },
  ): Promise<void> {
    const isResponse = "id" in message && !("method" in message);
    const rid = isResponse ? (message as { id: unknown }).id : options?.relatedRequestId;
    if (rid !== undefined) {
      const internals = this.#internals;
      const streamId = internals._requestToStreamMapping.get(rid);
      if (streamId === undefined && !isResponse && this.fastCalls.has(rid as RequestId)) {
        return this.#standalone(message);
      }
      const stream = streamId === undefined ? undefined : internals._streamMapping.get(streamId);
      const json = stream?.resolveJson !== undefined;
      if (json && !isResponse) {
        // A JSON answer cannot carry it: use the standalone GET stream.
        return this.#standalone(message);
      }
      internals._enableJsonResponse = json;
      if (!json || !isResponse) return super.send(message, options);
      // The SDK (1.32.2) resolves a JSON answer but never drops its stream entry: one leaked
      // entry per JSON-answered POST, and the session would look busy forever. Drop it once
      // every request of that POST is answered.
      return super.send(this.#keptText(message, rid, stream!), options).then(() => {
        for (const sid of internals._requestToStreamMapping.values()) if (sid === streamId) return;
        internals._streamMapping.delete(streamId!);
      });
    }
    return this.#standalone(message);
  }
}

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

interface Internals {
  _enableJsonResponse: boolean;
  _requestToStreamMapping: Map<unknown, string>;
  _streamMapping: Map<string, { resolveJson?: unknown; controller?: unknown }>;
}

const GET_STREAM = "_GET_stream";

export class ProxyServerTransport extends WebStandardStreamableHTTPServerTransport {
  get #internals(): Internals {
    return this as unknown as Internals;
  }

  /** True while the client holds its standalone GET stream open. */
  get hasStandaloneStream(): boolean {
    return this.#internals._streamMapping.has(GET_STREAM);
  }

  /** Handles a POST whose body the caller parsed, answering as JSON or as an SSE stream. */
  handlePost(req: Request, parsedBody: unknown, json: boolean): Promise<Response> {
    this.#internals._enableJsonResponse = json;
    return this.handleRequest(req, { parsedBody });
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
      const stream = streamId === undefined ? undefined : internals._streamMapping.get(streamId);
      const json = stream?.resolveJson !== undefined;
      if (json && !isResponse) {
        // A JSON answer cannot carry it: use the standalone GET stream.
        return super.send(message);
      }
      internals._enableJsonResponse = json;
    }
    return super.send(message, options);
  }
}

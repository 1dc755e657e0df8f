/**
 * Serving an existing session on a replica that did not create it.
 *
 * The SDK's `WebStandardStreamableHTTPServerTransport` answers 400 "Server not initialized" or
 * 404 "Session not found" to any request until it has itself handled an `initialize`, and its
 * `Server` learns the client's capabilities and info only from that `initialize`. So a replica
 * restoring a session builds a fresh transport whose `sessionIdGenerator` returns the known id,
 * connects the `Server`, and replays the client's original `initialize` (from the stored record)
 * plus `notifications/initialized` through the transport's public `handleRequest`. Afterwards
 * the transport accepts the client's requests with that `Mcp-Session-Id` exactly as if it had
 * created the session, and `server.getClientCapabilities()`/`getClientVersion()` answer what
 * the client sent. No SDK internals are touched (checked against SDK 1.32.2 by
 * `restore_transport_test.ts` with a real SDK client).
 *
 * The replay does call the transport's `onsessioninitialized(id)` and the server's
 * `oninitialized`: a caller that creates the store record there must skip that while restoring.
 * @module
 */
import {
  LATEST_PROTOCOL_VERSION,
  type Server,
  SUPPORTED_PROTOCOL_VERSIONS,
  WebStandardStreamableHTTPServerTransport,
} from "../../core/sdk.ts";
import type { SessionRecord } from "./store.ts";

/** What a replay needs from the stored record. */
export type RestorableSession = Pick<
  SessionRecord,
  "id" | "protocolVersion" | "clientInfo" | "clientCapabilities"
>;

export type TransportOptions = NonNullable<
  ConstructorParameters<typeof WebStandardStreamableHTTPServerTransport>[0]
>;

/** The protocol version the SDK `Server` answers to an `initialize` asking for `requested`. */
export function negotiatedProtocolVersion(requested: unknown): string {
  return typeof requested === "string" && SUPPORTED_PROTOCOL_VERSIONS.includes(requested)
    ? requested
    : LATEST_PROTOCOL_VERSION;
}

/**
 * The record fields taken from a client's `initialize` request (the parsed POST body), for
 * `store.create` once the session id is known. Undefined when `body` is not an initialize.
 */
export function sessionStateFromInitialize(
  body: unknown,
): Omit<RestorableSession, "id"> | undefined {
  const msg = body as { method?: unknown; params?: Record<string, unknown> } | null;
  if (!msg || Array.isArray(body) || msg.method !== "initialize" || !msg.params) return undefined;
  const info = msg.params.clientInfo as SessionRecord["clientInfo"] | undefined;
  return {
    protocolVersion: negotiatedProtocolVersion(msg.params.protocolVersion),
    clientInfo: info && typeof info.name === "string" ? info : { name: "unknown", version: "0" },
    clientCapabilities: (msg.params.capabilities as Record<string, unknown> | undefined) ?? {},
  };
}

export class SessionRestoreError extends Error {
  override readonly name = "SessionRestoreError";
}

export interface ReplayOptions {
  /** URL of the synthetic requests. @default "http://127.0.0.1/mcp" */
  url?: string;
  /**
   * Headers to copy onto the synthetic requests, e.g. `host`/`origin` of the live request when
   * the transport enforces `allowedHosts`/`allowedOrigins`.
   */
  headers?: HeadersInit;
}

/** The JSON-RPC messages of a JSON or SSE answer. */
async function readMessages(res: Response): Promise<unknown[]> {
  const text = await res.text();
  if (!(res.headers.get("content-type") ?? "").includes("text/event-stream")) {
    return text ? [JSON.parse(text)] : [];
  }
  const out: unknown[] = [];
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) =>
      l.slice(5).trimStart()
    ).join("\n");
    if (data) out.push(JSON.parse(data));
  }
  return out;
}

/**
 * Replays the session's `initialize` and `notifications/initialized` on `transport`, which
 * must be connected to its `Server` and built with `sessionIdGenerator: () => session.id`.
 * Resolves with the negotiated protocol version; throws `SessionRestoreError` when the
 * transport does not end up serving `session.id`.
 */
export async function replayInitialize(
  transport: WebStandardStreamableHTTPServerTransport,
  session: RestorableSession,
  opts: ReplayOptions = {},
): Promise<string> {
  const url = opts.url ?? "http://127.0.0.1/mcp";
  const headers = (extra: Record<string, string>) => {
    const h = new Headers(opts.headers);
    h.set("content-type", "application/json");
    h.set("accept", "application/json, text/event-stream");
    for (const [k, v] of Object.entries(extra)) h.set(k, v);
    return h;
  };
  const requestId = `vmcp-restore-${crypto.randomUUID()}`;
  const init = await transport.handleRequest(
    new Request(url, {
      method: "POST",
      headers: headers({}),
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: requestId,
        method: "initialize",
        params: {
          protocolVersion: session.protocolVersion,
          capabilities: session.clientCapabilities,
          clientInfo: session.clientInfo,
        },
      }),
    }),
  );
  const messages = await readMessages(init);
  const answer = messages.find((m) => (m as { id?: unknown }).id === requestId) as
    | { result?: { protocolVersion?: string }; error?: { message?: string } }
    | undefined;
  if (init.status !== 200 || !answer?.result) {
    throw new SessionRestoreError(
      `restoring session ${session.id}: the replayed initialize was refused (HTTP ${init.status}` +
        `${answer?.error?.message ? `: ${answer.error.message}` : ""})`,
    );
  }
  if (transport.sessionId !== session.id) {
    throw new SessionRestoreError(
      `restoring session ${session.id}: the transport took session id ` +
        `${
          JSON.stringify(transport.sessionId)
        }; build it with sessionIdGenerator: () => "${session.id}"`,
    );
  }
  const version = answer.result.protocolVersion ?? session.protocolVersion;
  const done = await transport.handleRequest(
    new Request(url, {
      method: "POST",
      headers: headers({ "mcp-session-id": session.id, "mcp-protocol-version": version }),
      body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
    }),
  );
  await done.body?.cancel();
  if (done.status !== 202) {
    throw new SessionRestoreError(
      `restoring session ${session.id}: notifications/initialized answered HTTP ${done.status}`,
    );
  }
  return version;
}

export interface RestoreOptions<T extends WebStandardStreamableHTTPServerTransport> {
  session: RestorableSession;
  /** A fresh server with its handlers installed (not yet connected). */
  server: Server;
  /** Transport options other than the session id generator (callbacks, allowedHosts, …). */
  transportOptions?: Omit<TransportOptions, "sessionIdGenerator">;
  /** Builds the transport (e.g. a subclass); it must pass the options through. */
  makeTransport?: (options: TransportOptions) => T;
  replay?: ReplayOptions;
}

/**
 * A transport + server pair serving an existing session id, ready for the client's next
 * request. On failure both are closed and the error is rethrown.
 */
export async function restoreTransport<
  T extends WebStandardStreamableHTTPServerTransport = WebStandardStreamableHTTPServerTransport,
>(opts: RestoreOptions<T>): Promise<{ server: Server; transport: T; protocolVersion: string }> {
  const options: TransportOptions = {
    ...opts.transportOptions,
    sessionIdGenerator: () => opts.session.id,
  };
  const transport = opts.makeTransport
    ? opts.makeTransport(options)
    : new WebStandardStreamableHTTPServerTransport(options) as T;
  try {
    await opts.server.connect(transport);
    const protocolVersion = await replayInitialize(transport, opts.session, opts.replay);
    return { server: opts.server, transport, protocolVersion };
  } catch (err) {
    await opts.server.close().catch(() => {});
    throw err;
  }
}

/**
 * One client session: the SDK `Server` + the session's transport, the caller's identity, its
 * log level and resource subscriptions. It is also the `SessionPeer` backend connections talk
 * back to (sampling, elicitation, roots, log messages).
 * @module
 */
import type { Identity } from "../../core/auth/identity.ts";
import {
  type ClientCapabilities,
  type LoggingLevel,
  type RequestId,
  Server,
  type ServerCapabilities,
} from "../../core/sdk.ts";
import { type AnyObject, AnyResult, type SessionPeer } from "../backends/connection.ts";
import type { ToolsCallHandler } from "./fast_call.ts";
import { ProxyServerTransport } from "./transport.ts";

/** Capabilities the proxy advertises to every client. */
export const PROXY_CAPABILITIES: ServerCapabilities = {
  tools: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  prompts: { listChanged: true },
  logging: {},
  completions: {},
};

/** MCP logging levels, least severe first. */
export const LOGGING_LEVELS: readonly LoggingLevel[] = [
  "debug",
  "info",
  "notice",
  "warning",
  "error",
  "critical",
  "alert",
  "emergency",
];

/** Requests relayed to the client may wait for a human (elicitation): a generous cap. */
const CLIENT_REQUEST_TIMEOUT_MS = 30 * 60_000;

export interface SessionOptions {
  identity: Identity;
  /** The key the session is bound to (`identityKey(identity)`). */
  identityKey: string;
  serverInfo: { name: string; version: string };
  instructions?: string;
  sessionIdGenerator: () => string;
  onInitialized(session: ProxySession): void;
  onClosed(session: ProxySession): void;
  /** Scale-out: backend name → backend session id to re-attach (a restored session). */
  backendSessions?: Record<string, string>;
  /** Scale-out: a new backend session was opened for this session (store it). */
  onBackendSession?(session: ProxySession, backend: string, sessionId: string): void;
}

export class ProxySession implements SessionPeer {
  readonly server: Server;
  readonly transport: ProxyServerTransport;
  readonly identity: Identity;
  readonly identityKey: string;
  /** Resource URIs this session subscribed to. */
  readonly subscriptions = new Set<string>();
  logLevel: LoggingLevel | undefined;
  lastSeen = Date.now();
  /** Requests of this session between lookup and answer (the local cache never evicts it then). */
  inUse = 0;
  /** The `tools/call` handler for the JSON-only fast path (set by `installHandlers`). */
  toolsCall: ToolsCallHandler | undefined;
  #id = "";
  #closed = false;
  readonly #resume: Map<string, string>;
  readonly #onBackendSession: SessionOptions["onBackendSession"];

  constructor(opts: SessionOptions) {
    this.identity = opts.identity;
    this.identityKey = opts.identityKey;
    this.#resume = new Map(Object.entries(opts.backendSessions ?? {}));
    this.#onBackendSession = opts.onBackendSession;
    this.server = new Server(opts.serverInfo, {
      capabilities: PROXY_CAPABILITIES,
      ...(opts.instructions ? { instructions: opts.instructions } : {}),
    });
    this.transport = new ProxyServerTransport({
      sessionIdGenerator: opts.sessionIdGenerator,
      onsessioninitialized: (id) => {
        this.#id = id;
        opts.onInitialized(this);
      },
      onsessionclosed: () => {
        void this.close();
      },
    });
    this.server.onclose = () => {
      if (this.#closed) return;
      this.#closed = true;
      opts.onClosed(this);
    };
  }

  get id(): string {
    return this.#id;
  }

  get closed(): boolean {
    return this.#closed;
  }

  clientCapabilities(): ClientCapabilities | undefined {
    return this.server.getClientCapabilities();
  }

  /** The stored backend session id to re-attach to `backend`, handed out once. */
  takeBackendSession(backend: string): string | undefined {
    const sid = this.#resume.get(backend);
    this.#resume.delete(backend);
    return sid;
  }

  backendSessionOpened(backend: string, sessionId: string): void {
    this.#onBackendSession?.(this, backend, sessionId);
  }

  async request(
    req: { method: string; params?: AnyObject },
    opts: { signal: AbortSignal; relatedRequestId?: RequestId },
  ): Promise<AnyObject> {
    return await this.server.request(req as Parameters<Server["request"]>[0], AnyResult, {
      signal: opts.signal,
      timeout: CLIENT_REQUEST_TIMEOUT_MS,
      ...(opts.relatedRequestId !== undefined ? { relatedRequestId: opts.relatedRequestId } : {}),
    }) as AnyObject;
  }

  async notify(
    n: { method: string; params?: AnyObject },
    relatedRequestId?: RequestId,
  ): Promise<void> {
    if (this.#closed) return;
    if (n.method === "notifications/message" && this.#ignored(n.params?.level)) return;
    await this.server.notification(
      n as Parameters<Server["notification"]>[0],
      relatedRequestId !== undefined ? { relatedRequestId } : undefined,
    );
  }

  #ignored(level: unknown): boolean {
    if (!this.logLevel) return false;
    const at = LOGGING_LEVELS.indexOf(level as LoggingLevel);
    return at >= 0 && at < LOGGING_LEVELS.indexOf(this.logLevel);
  }

  /**
   * True once the session ends for good (client DELETE, idle expiry, expired or terminated in
   * the store, proxy shutdown with an in-process store): its backend sessions are then
   * terminated too (DELETE), not only disconnected. A session released only locally (evicted
   * from this replica's cache while other replicas may restore it) keeps them
   * (docs/adr/0005-backend-session-lifecycle.md).
   */
  ending = false;

  /** Closes the SDK server and transport (idempotent); backend sessions stay (see `end`). */
  async close(): Promise<void> {
    await this.server.close().catch(() => {});
  }

  /** Ends the session for good: closes it and terminates its backend sessions. */
  async end(): Promise<void> {
    this.ending = true;
    await this.close();
  }
}

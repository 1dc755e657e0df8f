/**
 * The `/mcp` endpoint (Streamable HTTP): authenticates, enforces the body limit, parses JSON
 * once, finds or creates the session, and hands the request to the session's transport,
 * choosing a JSON or an SSE answer per request.
 *
 * Each request is classified by protocol era before any session lookup (era.ts, ADR 0010): MCP
 * 2026-07-28 requests are served statelessly by `ModernEndpoint` (an `Mcp-Session-Id` on them is
 * ignored); `GET`/`DELETE` without `Mcp-Session-Id` get 405 with `Allow: POST`; everything else
 * is legacy (2025-11-25, sessions) and takes the path below unchanged. Authentication, the body
 * limit and the body checks apply to both eras alike.
 *
 * Bad input never throws: malformed JSON → 400 with JSON-RPC -32700; body over the limit → 413;
 * nested deeper than `MAX_JSON_DEPTH` (64) or an empty batch → 400 / -32600; `params.arguments`
 * of tools/call or prompts/get not an object → -32602 (`request_checks.ts`);
 * missing session id on a non-initialize request → 400; unknown or expired session → 404;
 * a session presented by another identity → 403 and a warning naming both identity keys
 * (hashed); the session stays open for its owner (docs/adr/0003-session-hijack-response.md).
 * @module
 */
import { ANONYMOUS_IDENTITY, type Identity, identityKey } from "../../core/auth/identity.ts";
import { sha256Hex } from "../../core/auth/hash.ts";
import type { Logger } from "../../core/log.ts";
import type { Router } from "../router.ts";
import type { ProxyRuntime } from "../runtime.ts";
import { MemorySessionStore } from "../sessions/memory_store.ts";
import type { SessionStore } from "../sessions/store.ts";
import { tryFastToolsCall } from "./fast_call.ts";
import { exceedsJsonDepth, invalidMessage, MAX_JSON_DEPTH, tooDeep } from "./request_checks.ts";
import type { ProxyMetrics } from "./metrics.ts";
import type { ProxySession } from "./session.ts";
import { SessionDirectory } from "./session_directory.ts";
import { attachSessionStoreStatus } from "./status.ts";
import { classifyEra } from "./era.ts";
import { Discover } from "./discover.ts";
import { type ListenOpener, ModernEndpoint } from "./modern_endpoint.ts";
import type { InputBridge } from "./request_peer.ts";
import type { ModernInputOptions } from "./modern_input.ts";
import { telemetry } from "../telemetry/instrument.ts";
import { remoteAddress, trackBody } from "../../core/http_server.ts";

/** Authenticates a request: the caller's identity, or the response to send instead. */
export type Authenticate = (req: Request) => Promise<Identity | Response>;

export interface EndpointOptions {
  runtime: ProxyRuntime;
  router: Router;
  log: Logger;
  metrics?: ProxyMetrics;
  maxBodyBytes: number;
  serverInfo: { name: string; version: string };
  /** Incoming auth hook; default: every caller is anonymous. */
  authenticate?: Authenticate;
  /** Key a session is bound to. @default identityKey from core/auth/identity.ts */
  identityKey?: (identity: Identity) => string;
  /**
   * Shared session state (`sessionStorage`): Redis lets any replica serve any session.
   * @default an in-process MemorySessionStore (30 min TTL)
   */
  store?: SessionStore;
  /** Live sessions held here. @default config `sessionStorage.maxLocalSessions`, else 1000 */
  maxLocalSessions?: number;
  /** Serves `subscriptions/listen` of 2026-07-28 clients; without one: 404, -32601. */
  listenHub?: ListenOpener;
  /** Relays backend input requests to 2026-07-28 clients (MRTR); without one they fail. */
  inputBridge?: InputBridge;
  /** Parks 2026-07-28 calls that need client input and resumes them (modern_input.ts). */
  inputRequired?: ModernInputOptions;
}

export function rpcError(status: number, code: number, message: string): Response {
  return Response.json({ jsonrpc: "2.0", error: { code, message }, id: null }, { status });
}

class BodyTooLarge extends Error {}
const utf8 = new TextDecoder();
/** A 2026-07-28 caller's roots changed (runtime.identityRootsChanged). */
const ROOTS_CHANGED = "notifications/roots/list_changed";

/**
 * Reads the body, failing fast past `limit` bytes (Content-Length or streamed count). A body
 * with a declared length is taken whole (no stream is set up; hyper enforces the length).
 */
async function readBody(req: Request, limit: number): Promise<string> {
  const length = req.headers.get("content-length");
  const declared = length === null ? NaN : Number(length);
  if (declared > limit) throw new BodyTooLarge();
  if (declared >= 0) {
    const bytes = await req.bytes();
    if (bytes.byteLength > limit) throw new BodyTooLarge();
    return utf8.decode(bytes);
  }
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLarge();
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return utf8.decode(chunks[0]);
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) (all.set(c, at), at += c.byteLength);
  return utf8.decode(all);
}

/** True when the body holds a JSON-RPC request or response (anything but notifications). */
function carriesRequest(body: unknown): boolean {
  if (Array.isArray(body)) return body.some(carriesRequest);
  return body !== null && typeof body === "object" && "id" in body;
}

function isInitialize(body: unknown): boolean {
  return !Array.isArray(body) && (body as { method?: unknown } | null)?.method === "initialize";
}

/** Should this POST be answered as plain JSON (true) or as an SSE stream (false)? */
function answerAsJson(body: unknown, session: ProxySession): boolean {
  if (Array.isArray(body)) return false;
  const msg = body as { method?: unknown; params?: { _meta?: { progressToken?: unknown } } };
  if (
    msg.method !== "tools/call" && msg.method !== "prompts/get" && msg.method !== "resources/read"
  ) {
    return true;
  }
  // Calls may trigger progress (only on a stream), and log/sampling/elicitation (which can use
  // the standalone GET stream when the client holds one open).
  return msg.params?._meta?.progressToken === undefined && session.transport.hasStandaloneStream;
}

export class McpEndpoint {
  readonly #o: EndpointOptions;
  readonly #key: (identity: Identity) => string;
  /** Local sessions backed by the session store (restores, binding, termination). */
  readonly directory: SessionDirectory;
  /** The stateless path of MCP 2026-07-28 clients. */
  readonly modern: ModernEndpoint;
  /** A plain single `tools/call` skips the SDK dispatch (fast_call.ts); tests turn it off. */
  fastToolsCall = true;

  constructor(opts: EndpointOptions) {
    this.#o = opts;
    this.#key = opts.identityKey ?? identityKey;
    this.directory = new SessionDirectory({
      runtime: opts.runtime,
      router: opts.router,
      store: opts.store ?? new MemorySessionStore(),
      log: opts.log,
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
      serverInfo: opts.serverInfo,
      ...(opts.maxLocalSessions ? { maxLocalSessions: opts.maxLocalSessions } : {}),
      onForeign: (f, req) =>
        this.#logForeign(f.sessionId, f.ownerKey, f.presentedKey, f.reason, req.method),
    });
    attachSessionStoreStatus(opts.runtime, () => this.directory.status());
    const runtime = opts.runtime;
    const discover = new Discover({
      get lists() {
        return runtime.lists;
      },
      *backends() {
        for (const b of runtime.backends.values()) {
          const routable = !runtime.health.get(b.name)?.blockReason();
          yield { capabilities: b.caps?.capabilities, routable };
        }
      },
      hasExtraTools: () => runtime.lists.tools.some((t) => runtime.extraTools.has(t.name)),
      instructions: () => undefined,
    }, opts.serverInfo);
    this.modern = new ModernEndpoint({
      router: opts.router,
      discover,
      log: opts.log,
      metrics: opts.metrics,
      listenHub: opts.listenHub,
      inputBridge: opts.inputBridge,
      inputRequired: opts.inputRequired,
    });
  }

  handle(req: Request): Promise<Response> {
    // OpenTelemetry (off: `telemetry` is undefined): the request's server span.
    return telemetry ? telemetry.serve(req, () => this.#pinned(req)) : this.#pinned(req);
  }

  async #pinned(req: Request): Promise<Response> {
    const pinned: ProxySession[] = [];
    try {
      return await this.#handle(req, pinned);
    } finally {
      for (const s of pinned) s.inUse--;
    }
  }

  async #handle(req: Request, pinned: ProxySession[]): Promise<Response> {
    let identity: Identity = ANONYMOUS_IDENTITY;
    if (this.#o.authenticate) {
      const got = await this.#o.authenticate(req);
      if (got instanceof Response) {
        this.#o.runtime.audit?.authFailed(req, got, remoteAddress(req));
        return got;
      }
      identity = got;
    }
    // The body first (cheap checks, no session work for a body that is refused anyway).
    let body: unknown;
    if (req.method === "POST") {
      const parsed = await this.#readJson(req);
      if (parsed instanceof Response) return parsed;
      body = parsed.body;
      if (telemetry) telemetry.describe(req, body);
    }
    const era = classifyEra(req, body);
    if (era.era !== "legacy") {
      if (era.era === "refused") return era.response;
      if (era.kind === "notification") {
        // Removed in 2026-07-28 (202 and dropped, as the v2 SDK): vmcp still takes it as a hint.
        if (era.method === ROOTS_CHANGED) this.#o.runtime.identityRootsChanged(this.#key(identity));
        return this.modern.notification();
      }
      return await this.modern.handle(req, era, identity, this.#key(identity));
    }
    const sessionId = req.headers.get("mcp-session-id");
    let session: ProxySession | undefined;
    if (sessionId) {
      // Store lookup (slides the TTL unless only notifications came: a session that never makes
      // a request keeps its short initTtl), 404 unknown/terminated, 403 another identity,
      // restore when another replica created it, 503 when the store is down and it is not
      // held here.
      const active = req.method !== "POST" || carriesRequest(body);
      const got = await this.directory.resolve(
        sessionId,
        identity,
        this.#key(identity),
        req,
        active,
      );
      if (got instanceof Response) {
        // 403: another identity's session (audited; the owner keeps it).
        if (got.status === 403) {
          this.#o.runtime.audit?.sessionRefused(identity, sessionId, remoteAddress(req));
        }
        return got;
      }
      session = got;
      // Not evicted by the local cache before the transport has taken the request.
      session.inUse++;
      pinned.push(session);
      // Same caller, possibly with a refreshed token: later backend token exchanges use it.
      if (identity.token && identity.token !== session.identity.token) {
        Object.assign(session.identity, {
          token: identity.token,
          expiresAt: identity.expiresAt,
          claims: identity.claims,
        });
      }
    }
    if (req.method === "GET" || req.method === "DELETE") {
      if (!session) return rpcError(400, -32000, "Bad Request: Mcp-Session-Id header is required");
      session.lastSeen = Date.now();
      if (req.method === "DELETE") {
        // Terminated for every replica first; with the store down the session stays (503).
        const refused = await this.directory.terminate(session.id);
        if (refused) return refused;
        session.ending = true; // its backend sessions end with it
      }
      return await session.transport.handleRequest(req);
    }
    if (req.method !== "POST") {
      return new Response(null, { status: 405, headers: { allow: "GET, POST, DELETE" } });
    }
    if (session) {
      session.lastSeen = Date.now();
      const fast = this.fastToolsCall ? tryFastToolsCall(session, req, body) : undefined;
      if (fast) return await fast;
      return await session.transport.handlePost(req, body, answerAsJson(body, session));
    }
    if (!isInitialize(body)) {
      return rpcError(
        400,
        -32000,
        "Bad Request: Mcp-Session-Id header is required (only initialize may omit it)",
      );
    }
    return await this.#initialize(req, body, identity);
  }

  /** The parsed body, or the answer for one that is too large, too deep, not JSON or invalid. */
  async #readJson(req: Request): Promise<{ body: unknown } | Response> {
    let body: unknown;
    try {
      // Under server.limits.bodyTimeout: a stalled body closes its connection.
      const text = await trackBody(req, readBody(req, this.#o.maxBodyBytes));
      // Before anything recursive (JSON.parse, zod, the SDK) walks it.
      if (exceedsJsonDepth(text, MAX_JSON_DEPTH)) return tooDeep(MAX_JSON_DEPTH);
      body = JSON.parse(text);
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        return rpcError(
          413,
          -32600,
          `Request body exceeds ${this.#o.maxBodyBytes} bytes (server.maxBodyBytes)`,
        );
      }
      return rpcError(400, -32700, "Parse error: the request body is not valid JSON");
    }
    return invalidMessage(body) ?? { body };
  }

  /** Logs a refused session hijack: hashed session id and identity keys, never tokens. */
  async #logForeign(
    sessionId: string,
    ownerKey: string,
    key: string,
    reason: string,
    method: string,
  ): Promise<void> {
    const short = async (text: string) => (await sha256Hex(text)).slice(0, 16);
    this.#o.log.warn("refused a session presented by another identity", {
      reason,
      session: await short(sessionId),
      ownerKey: await short(ownerKey),
      presentedKey: await short(key),
      method,
    });
  }

  async #initialize(req: Request, body: unknown, identity: Identity): Promise<Response> {
    const { session, state } = await this.directory.open(identity, this.#key(identity), body);
    const response = await session.transport.handlePost(req, body, true);
    // Stores the record before the id is handed out (503 when the store is unavailable).
    return await this.directory.commit(session, state, response);
  }

  /**
   * Closes sessions idle longer than `ttlMs`, and those that made no request within the store's
   * `initTtl` of initialize; returns how many were closed.
   */
  async sweep(ttlMs: number): Promise<number> {
    const unused = await this.directory.endUnused();
    const cutoff = Date.now() - ttlMs;
    const idle = [...this.directory.cache.values()].filter((s) =>
      s.lastSeen < cutoff && !s.transport.hasStandaloneStream
    );
    await Promise.all(idle.map((s) => s.end()));
    await this.directory.touchStreams();
    let pooled = 0; // modern callers' backend sessions idle past sessionStorage.ttl
    for (const b of this.#o.runtime.backends.values()) pooled += b.sweepIdentitySessions();
    return unused + idle.length + pooled;
  }
}

/**
 * The audit trail's events: what each security-relevant action records, built on the caller's
 * path as a small plain object (no I/O, no JSON) and serialized by the background writer
 * (writer.ts) into one JSON line marked `"audit":true`.
 *
 * Request events (`mcp_tool_call`, `mcp_tool_search`, `mcp_prompt_get`, `mcp_resource_read`)
 * come from the router, for both protocol eras: `era` is `legacy` (2025-11-25 sessions; `session` is a hash
 * of the session id, never the id itself) or `modern` (2026-07-28: no session, so none is
 * named, and there are no session events). An authorization denial is the request's event with
 * outcome `denied` (the client got the same answer as for an unknown name). A tool result with
 * `isError` is outcome `error` with `toolError: true`; a JSON-RPC error is outcome `error` with
 * its `errorCode`. Arguments are kept only with `includeRequestData`, redacted and cut to
 * `maxDataSize` (redact.ts). Tokens never reach an event.
 * @module
 */
import { createHash } from "node:crypto";
import type { Identity } from "../../core/auth/identity.ts";
import { matchResource } from "../../core/aggregation/mod.ts";
import type { AuditConfig, AuditEventType } from "../../crds/audit.ts";
import type { AnyObject, SessionPeer } from "../backends/connection.ts";
import type { RouterState } from "../router_state.ts";
import { AuthzDeniedError } from "../authz/denied.ts";
import { META_CLIENT_INFO } from "../server/era.ts";
import { boundedRedactedJson, redactText } from "./redact.ts";
import type { AuditWriter } from "./writer.ts";
import { AuthFailureBudget } from "./auth_failures.ts";

export type AuditOutcome = "success" | "error" | "denied";
export type AuditedMethod = "tools/call" | "prompts/get" | "resources/read";

/** The key of an event's time (written as `loggedAt`). */
export const AT: unique symbol = Symbol("at");

/** A session in an event: written as the first 16 hex digits of SHA-256 of its id. */
export class SessionRef {
  constructor(readonly session: { id: string }) {}
  toJSON(): string {
    return sessionHash(this.session);
  }
}

/** An event's fields before its outcome is known. */
export interface AuditBase {
  type: AuditEventType;
  /** Milliseconds since the epoch (a symbol key: JSON.stringify skips it). */
  [AT]: number;
  [field: string]: unknown;
}

/** One event before serialization (`loggedAt` and `auditId` are added when it is written). */
export interface AuditRecord extends AuditBase {
  outcome: AuditOutcome;
}

const TYPE_OF: Record<AuditedMethod, AuditEventType> = {
  "tools/call": "mcp_tool_call",
  "prompts/get": "mcp_prompt_get",
  "resources/read": "mcp_resource_read",
};
/** Client-chosen strings kept in events (names, URIs, client info, messages). */
const MAX_TEXT = 512;

/** A client- or backend-chosen string as kept: credential shapes redacted (redact.ts), cut. */
export function cap(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  const text = redactText(v);
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}

const sessionHashes = new WeakMap<object, string>();
function sessionHash(session: { id: string }): string {
  let h = sessionHashes.get(session);
  if (h === undefined) {
    h = createHash("sha256").update(session.id).digest("hex").slice(0, 16);
    sessionHashes.set(session, h);
  }
  return h;
}

/** An error's message (its name when the message is empty, e.g. an abort). */
function messageOf(err: unknown): string {
  const m = (err as { message?: unknown })?.message;
  if (typeof m === "string" && m !== "") return m;
  return (err as { name?: unknown })?.name === undefined
    ? String(err)
    : String((err as Error).name);
}

let lastAt = NaN;
let lastIso = "";
/** `new Date(at).toISOString()`, reused for events of the same millisecond. */
function isoTime(at: number): string {
  if (at !== lastAt) {
    lastAt = at;
    lastIso = new Date(at).toISOString();
  }
  return lastIso;
}

/**
 * Characters JSON leaves as they are that some line readers take for line breaks (Python's
 * `splitlines`, JavaScript source): escaped, so a client-chosen string cannot start a line.
 */
const LINE_BREAKS = /[\u0085\u2028\u2029]/g;
const escapeBreak = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/** The line written for `record`: marker, id and time first, then its own fields. */
export function serializeRecord(record: AuditRecord): string {
  const fields = JSON.stringify(record).slice(1).replace(LINE_BREAKS, escapeBreak);
  return `{"audit":true,"auditId":"${crypto.randomUUID()}","loggedAt":"${
    isoTime(record[AT])
  }",${fields}`;
}

/** Who: subject and issuer (never the token or other claims). */
export function who(identity: Identity): { subject: string; issuer?: string } {
  return identity.issuer ? { subject: identity.subject, issuer: identity.issuer } : {
    subject: identity.subject,
  };
}

interface LegacyPeer {
  server?: { getClientVersion(): { name?: unknown; version?: unknown } | undefined };
}

/** The client's name and version: the session's initialize, or a modern request's envelope. */
function clientOf(session: SessionPeer, meta: AnyObject | undefined) {
  const info = (session as LegacyPeer).server?.getClientVersion() ??
    meta?.[META_CLIENT_INFO] as { name?: unknown; version?: unknown } | undefined;
  if (!info || typeof info !== "object") return undefined;
  return { name: cap(info.name), version: cap(info.version) };
}

export class Auditor {
  readonly config: AuditConfig;
  readonly #authFailures = new AuthFailureBudget();
  readonly #writer: AuditWriter<AuditRecord>;
  readonly #wanted: Set<AuditEventType> | undefined;
  readonly #excluded: Set<AuditEventType>;

  constructor(config: AuditConfig, writer: AuditWriter<AuditRecord>) {
    this.config = config;
    this.#writer = writer;
    this.#wanted = config.eventTypes?.length ? new Set(config.eventTypes) : undefined;
    this.#excluded = new Set(config.excludeEventTypes ?? []);
  }

  /** True when events of `type` are written. */
  wants(type: AuditEventType): boolean {
    return !this.#excluded.has(type) && (this.#wanted?.has(type) ?? true);
  }

  /** Buffers `record` (when its type is wanted). */
  emit(record: AuditRecord): void {
    if (this.wants(record.type)) this.#writer.push(record);
  }

  /** `data` for an event: `{request}` redacted and cut to `maxDataSize`, when enabled. */
  requestData(value: unknown): { data?: unknown; truncated?: true } {
    if (!this.config.includeRequestData || value === undefined) return {};
    const { text, truncated } = boundedRedactedJson(value, this.config.maxDataSize);
    return truncated ? { data: { request: text }, truncated: true } : {
      data: { request: JSON.parse(text) },
    };
  }

  /** Runs one client request (`run`) and records its event. */
  request(
    method: AuditedMethod,
    state: RouterState,
    session: SessionPeer,
    params: AnyObject,
    run: () => Promise<AnyObject>,
  ): Promise<AnyObject> {
    const type = TYPE_OF[method];
    if (!this.wants(type)) return run();
    return this.timed(
      () => this.#requestRecord(type, method, session, params, targetOf(method, state, params)),
      method === "tools/call",
      run,
    );
  }

  /**
   * Runs `run` and records the event `base()` describes, with its outcome, `durationMs` and
   * `errorCode`. `toolResult`: a result with `isError` is outcome `error` (`toolError: true`).
   */
  async timed(
    base: () => AuditBase,
    toolResult: boolean,
    run: () => Promise<AnyObject>,
  ): Promise<AnyObject> {
    const start = performance.now();
    const done = (outcome: Record<string, unknown> & { outcome: AuditOutcome }) => {
      const record = base();
      record.durationMs = Math.round((performance.now() - start) * 1000) / 1000;
      this.#writer.push(Object.assign(record, outcome) as AuditRecord);
    };
    try {
      const result = await run();
      const toolError = toolResult && result.isError === true;
      done(toolError ? { outcome: "error", toolError: true } : { outcome: "success" });
      return result;
    } catch (err) {
      const denied = err instanceof AuthzDeniedError;
      const e = err as { code?: unknown; message?: unknown };
      done({
        outcome: denied ? "denied" : "error",
        errorCode: Number.isSafeInteger(e?.code) ? e.code : -32603,
        ...(denied ? {} : { error: cap(messageOf(err)) }),
      });
      throw err;
    }
  }

  /** The fields of a request event (without outcome and duration). */
  #requestRecord(
    type: AuditEventType,
    method: AuditedMethod,
    session: SessionPeer,
    params: AnyObject,
    target: Record<string, unknown>,
  ): AuditBase {
    const meta = params._meta as AnyObject | undefined;
    // A legacy client session is a ProxySession (it has its SDK server); a 2026-07-28 request's
    // peer has none.
    const modern = (session as LegacyPeer).server === undefined;
    return {
      type,
      outcome: "success", // set when the request ends (kept here: the key's place in the line)
      [AT]: Date.now(),
      ...who(session.identity),
      client: clientOf(session, meta),
      era: modern ? "modern" : "legacy",
      session: modern ? undefined : new SessionRef(session),
      method,
      target,
      ...this.requestData(method === "resources/read" ? undefined : params.arguments),
    };
  }

  /**
   * A `find_tool` search (tool search, proxy/optimizer/): an `mcp_tool_search` event with the
   * query as request data (`includeRequestData` only, redacted and cut like arguments) and
   * `resultCount`, the number of tools answered. `run` reports that count through `found`.
   */
  toolSearch(
    session: SessionPeer,
    params: AnyObject,
    run: (found: (count: number) => void) => Promise<AnyObject>,
  ): Promise<AnyObject> {
    if (!this.wants("mcp_tool_search")) return run(() => {});
    let resultCount: number | undefined;
    return this.timed(
      () => ({
        ...this.#requestRecord("mcp_tool_search", "tools/call", session, params, {
          type: "tool",
          name: cap(params.name),
        }),
        resultCount,
      }),
      true,
      () => run((n) => resultCount = n),
    );
  }

  /**
   * A composite workflow step's tool call (`run`), recorded as an `mcp_tool_call` event with
   * `workflowId` and `stepId`; a step Cedar refuses is outcome `denied`.
   */
  stepCall(
    session: SessionPeer,
    call: {
      workflowId: string;
      stepId: string;
      name: string;
      backend?: string;
      originalName?: string;
    },
    args: AnyObject,
    run: () => Promise<AnyObject>,
  ): Promise<AnyObject> {
    if (!this.wants("mcp_tool_call")) return run();
    const { workflowId, stepId, name, backend, originalName } = call;
    return this.timed(
      () => ({
        ...this.#requestRecord("mcp_tool_call", "tools/call", session, { arguments: args }, {
          type: "tool",
          name: cap(name),
          backend,
          originalName,
        }),
        workflowId,
        stepId,
      }),
      true,
      run,
    );
  }

  /** A legacy session was opened (its initialize answered and its record stored). */
  sessionOpened(session: SessionPeer & { id: string }): void {
    if (!this.wants("session_opened")) return;
    this.#writer.push({
      type: "session_opened",
      outcome: "success",
      [AT]: Date.now(),
      ...who(session.identity),
      client: clientOf(session, undefined),
      era: "legacy",
      session: new SessionRef(session),
    });
  }

  /**
   * A legacy session was closed here: `ended` when for good (DELETE, expiry, shutdown with an
   * in-process store), else released only on this replica (another one may restore it).
   */
  sessionClosed(session: SessionPeer & { id: string }, ended: boolean): void {
    if (!this.wants("session_closed") || !session.id) return;
    this.#writer.push({
      type: "session_closed",
      outcome: "success",
      [AT]: Date.now(),
      ...who(session.identity),
      client: clientOf(session, undefined),
      era: "legacy",
      session: new SessionRef(session),
      ended,
    });
  }

  /**
   * A legacy session was presented by another identity than its owner (refused with 403; the
   * session stays open for its owner). `subject` is the presenting caller.
   */
  sessionRefused(identity: Identity, sessionId: string, remoteAddress: string | undefined): void {
    if (!this.wants("session_refused")) return;
    this.#writer.push({
      type: "session_refused",
      outcome: "denied",
      [AT]: Date.now(),
      ...who(identity),
      era: "legacy",
      session: new SessionRef({ id: sessionId.slice(0, MAX_TEXT) }),
      reason: "another identity owns the session",
      remoteAddress,
    });
  }

  /**
   * The front door refused a request's credentials (`answer` is the 401 or 503 sent); past a
   * burst per client host, failures are counted into its next event (`suppressed`).
   */
  authFailed(req: Request, answer: Response, remoteAddress: string | undefined): void {
    if (!this.wants("auth_failed")) return;
    const suppressed = this.#authFailures.take(remoteAddress?.replace(/:\d+$/, "") ?? "");
    if (suppressed < 0) return;
    const challenge = answer.headers.get("www-authenticate") ?? "";
    const description = /error_description="([^"]*)"/.exec(challenge)?.[1];
    const reason = answer.status === 503
      ? "unavailable"
      : /error="invalid_token"/.test(challenge)
      ? "invalid_token"
      : "missing_token";
    this.#writer.push({
      type: "auth_failed",
      outcome: "denied",
      [AT]: Date.now(),
      reason,
      detail: cap(description),
      status: answer.status,
      remoteAddress,
      method: req.method,
      path: cap(new URL(req.url).pathname),
      userAgent: cap(req.headers.get("user-agent") ?? undefined),
      suppressed: suppressed > 0 ? suppressed : undefined,
    });
  }

  /** Writes what is buffered. */
  flush(): Promise<void> {
    return this.#writer.flush();
  }

  /**
   * Writes what is buffered and closes the output; events of requests still running go to
   * `successor` (the auditor of a reloaded config), else they are dropped.
   */
  close(successor?: Auditor): Promise<void> {
    return this.#writer.close(successor && successor.#writer);
  }
}

/** What a request was for: advertised name, backend and the backend's own name. */
function targetOf(method: AuditedMethod, state: RouterState, params: AnyObject) {
  if (method === "resources/read") {
    const uri = params.uri;
    if (typeof uri !== "string") return { type: "resource" };
    const backend = matchResource(state.view, uri) ?? matchResource(state.fullView, uri);
    return { type: "resource", uri: cap(uri), backend };
  }
  const name = params.name;
  const type = method === "tools/call" ? "tool" : "prompt";
  if (typeof name !== "string") return { type };
  if (method === "tools/call" && state.extraTools.has(name)) {
    return { type, name: cap(name), composite: true };
  }
  const routes = method === "tools/call" ? "toolRoutes" : "promptRoutes";
  const route = state.view[routes].get(name) ?? state.fullView[routes].get(name);
  return route
    ? { type, name: cap(name), backend: route.backend, originalName: route.originalName }
    : { type, name: cap(name) };
}

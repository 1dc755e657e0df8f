/**
 * Which protocol era a request on `/mcp` belongs to (docs/adr/0010-mcp-2026-07-28-both-eras.md,
 * section 1), decided before any session lookup:
 *
 * - a `POST` whose body carries `params._meta["io.modelcontextprotocol/protocolVersion"]`, or
 *   whose `MCP-Protocol-Version` header names a 2026-07-28+ revision → **modern** (stateless; an
 *   inbound `Mcp-Session-Id` is ignored);
 * - `GET`/`DELETE` without `Mcp-Session-Id` → 405 with `Allow: POST`;
 * - anything else → **legacy**, exactly as before (sessions).
 *
 * A modern request is accepted by a lean pass over the happy path: supported revision,
 * `MCP-Protocol-Version` / `Mcp-Method` / `Mcp-Name` equal to the body's version, method and
 * name (`=?base64?…?=` decoded), a well-formed envelope (capabilities checked once per distinct
 * JSON text). Anything else takes the slow path: the v2 SDK's `classifyInboundRequest` plus the
 * SDK entry's remaining rungs (unsupported version, standard-header presence and `Mcp-Name`),
 * ported here because the SDK keeps them internal. `era_test.ts` runs the ladder cells through
 * both paths and through the SDK's own `createMcpHandler` (the oracle) and requires the same
 * answer.
 * @module
 */
import { classifyInboundRequestV2 } from "../../core/sdk.ts";

/** The modern revisions vmcp serves (legacy ones stay reachable through `initialize`). */
export const MODERN_VERSIONS: readonly string[] = ["2026-07-28"];
const FIRST_MODERN = "2026-07-28";
export const META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion";
export const META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities";
export const META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo";
export const META_LOG_LEVEL = "io.modelcontextprotocol/logLevel";
/** JSON-RPC code of a header that disagrees with the body (SEP-2243). */
export const HEADER_MISMATCH = -32020;
export const UNSUPPORTED_PROTOCOL_VERSION = -32022;

type AnyObject = Record<string, unknown>;

/** A modern JSON-RPC request that passed the ladder. */
export interface ModernRequest {
  era: "modern";
  kind: "request";
  id: string | number;
  method: string;
  params: AnyObject;
  /** `params._meta` (the envelope). */
  meta: AnyObject;
  /** `JSON.stringify` of the envelope's client capabilities (the capset memo key). */
  capsText: string;
}

export type EraOutcome =
  | { era: "legacy" }
  | ModernRequest
  | { era: "modern"; kind: "notification"; method: string }
  | { era: "refused"; response: Response };

const LEGACY: EraOutcome = { era: "legacy" };
const LOG_LEVELS = new Set([
  "debug",
  "info",
  "notice",
  "warning",
  "error",
  "critical",
  "alert",
  "emergency",
]);
/** The body field `Mcp-Name` mirrors, per method (SEP-2243; the SDK's table). */
const NAME_FIELD: Readonly<Record<string, string>> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
  "tasks/get": "taskId",
  "tasks/update": "taskId",
  "tasks/cancel": "taskId",
};

function isObject(v: unknown): v is AnyObject {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** A JSON-RPC error answer with the ladder's HTTP status (405 carries `Allow: POST`). */
export function rpcRefusal(
  status: number,
  code: number,
  message: string,
  data?: unknown,
  id: unknown = null,
): Response {
  return Response.json(
    { jsonrpc: "2.0", error: { code, message, ...(data !== undefined && { data }) }, id },
    { status, ...(status === 405 ? { headers: { allow: "POST" } } : {}) },
  );
}

const refused = (response: Response): EraOutcome => ({ era: "refused", response });

/** Capabilities + clientInfo texts the SDK accepted in an envelope (bounded). */
const validEnvelopes = new Set<string>();
const MAX_VALID_ENVELOPES = 256;
/**
 * Upper bound on a request's `clientCapabilities` + `clientInfo` as JSON text. vmcp keeps these
 * (memo of accepted envelopes, pooled backend sessions), so a client must not make them huge.
 */
export const MAX_ENVELOPE_CHARS = 64 * 1024;

function envelopeKey(capsText: string, info: unknown): string {
  return info === undefined ? capsText : `${capsText}\n${JSON.stringify(info)}`;
}

function metaOf(params: unknown): AnyObject | undefined {
  if (!isObject(params)) return undefined;
  const meta = params._meta;
  return isObject(meta) ? meta : undefined;
}

function hasClaim(msg: unknown): boolean {
  return isObject(msg) && metaOf(msg.params)?.[META_PROTOCOL_VERSION] !== undefined;
}

/** Classifies one request on `/mcp`; `body` is the parsed JSON of a POST (else undefined). */
export function classifyEra(req: Request, body: unknown): EraOutcome {
  if (req.method !== "POST") {
    if ((req.method === "GET" || req.method === "DELETE") && !req.headers.has("mcp-session-id")) {
      return refused(rpcRefusal(405, -32000, "Method not allowed."));
    }
    return LEGACY;
  }
  if (Array.isArray(body)) return body.some(hasClaim) ? slowPath(req, body) : LEGACY;
  const meta = isObject(body) ? metaOf(body.params) : undefined;
  if (meta === undefined || meta[META_PROTOCOL_VERSION] === undefined) {
    const header = req.headers.get("mcp-protocol-version");
    if (header === null || header < FIRST_MODERN) return LEGACY;
    return slowPath(req, body);
  }
  return fastModern(req, body as AnyObject, meta) ?? slowPath(req, body);
}

/** The happy path of a modern request, or undefined to let the slow path decide. */
function fastModern(req: Request, body: AnyObject, meta: AnyObject): EraOutcome | undefined {
  const id = body.id;
  const method = body.method;
  if (body.jsonrpc !== "2.0" || typeof method !== "string") return undefined;
  if (typeof id !== "string" && !Number.isSafeInteger(id)) return undefined;
  const version = meta[META_PROTOCOL_VERSION];
  if (typeof version !== "string" || !MODERN_VERSIONS.includes(version)) return undefined;
  const h = req.headers;
  if (h.get("mcp-protocol-version") !== version || h.get("mcp-method") !== method) return undefined;
  if (!isJson(h.get("content-type"))) return undefined;
  const params = body.params as AnyObject;
  const field = Object.hasOwn(NAME_FIELD, method) ? NAME_FIELD[method] : undefined;
  if (field !== undefined) {
    const value = params[field];
    const header = h.get("mcp-name");
    if (typeof value === "string") {
      if (header === null || decodeMcpName(header) !== value) return undefined;
    } else if (header !== null) return undefined;
  }
  const caps = meta[META_CLIENT_CAPABILITIES];
  if (!isObject(caps)) return undefined;
  const level = meta[META_LOG_LEVEL];
  if (level !== undefined && !LOG_LEVELS.has(level as string)) return undefined;
  const token = meta.progressToken;
  if (token !== undefined && typeof token !== "string" && !Number.isSafeInteger(token)) {
    return undefined;
  }
  const capsText = JSON.stringify(caps);
  const info = meta[META_CLIENT_INFO];
  if (capsText.length > MAX_ENVELOPE_CHARS) return undefined; // the slow path refuses it
  // First sight of these capabilities + clientInfo: the SDK validates them (slow path).
  if (!validEnvelopes.has(envelopeKey(capsText, info))) return undefined;
  return {
    era: "modern",
    kind: "request",
    id: id as string | number,
    method,
    params,
    meta,
    capsText,
  };
}

function isJson(contentType: string | null): boolean {
  if (contentType === null) return false;
  const semi = contentType.indexOf(";");
  const essence = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return essence === "application/json";
}

const BASE64_CANONICAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** An `Mcp-Name`/`Mcp-Param-*` value with the `=?base64?…?=` sentinel decoded; undefined: bad. */
export function decodeMcpName(value: string): string | undefined {
  if (!(value.startsWith("=?base64?") && value.endsWith("?="))) return value;
  const b64 = value.slice(9, value.length - 2);
  if (!BASE64_CANONICAL.test(b64)) return undefined;
  try {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function echoableId(body: unknown): string | number | null {
  if (!isObject(body) || typeof body.method !== "string") return null;
  return typeof body.id === "string" || typeof body.id === "number" ? body.id : null;
}

function mismatch(header: string, body: string, id: unknown): Response {
  return rpcRefusal(
    400,
    HEADER_MISMATCH,
    `Bad Request: the request headers and body disagree: ${body}`,
    { mismatch: { header, body } },
    id,
  );
}

/** The exact ladder answer for anything the fast path did not accept (the SDK's rungs). */
export function slowPath(req: Request, body: unknown): EraOutcome {
  const h = req.headers;
  const input: StandardHeaders & { httpMethod: string; body: unknown } = {
    httpMethod: "POST",
    ...header(h, "mcp-protocol-version", "protocolVersionHeader"),
    ...header(h, "mcp-method", "mcpMethodHeader"),
    ...header(h, "mcp-name", "mcpNameHeader"),
    body,
  };
  const out = classifyInboundRequestV2(input);
  if (out.kind === "legacy") return LEGACY;
  if (!isJson(h.get("content-type"))) {
    return refused(
      rpcRefusal(415, -32000, "Unsupported Media Type: Content-Type must be application/json"),
    );
  }
  if (out.kind === "reject") {
    return refused(rpcRefusal(out.httpStatus, out.code, out.message, out.data, echoableId(body)));
  }
  const message = out.message as AnyObject;
  const id = out.messageKind === "request" ? message.id as string | number : null;
  const revision = out.classification.revision;
  if (revision === undefined || !MODERN_VERSIONS.includes(revision)) {
    const requested = revision ?? "unknown";
    return refused(rpcRefusal(
      400,
      UNSUPPORTED_PROTOCOL_VERSION,
      `Unsupported protocol version: ${requested}`,
      { supported: [...MODERN_VERSIONS], requested },
      id,
    ));
  }
  if (out.messageKind === "notification") {
    return { era: "modern", kind: "notification", method: message.method as string };
  }
  const refusal = standardHeaders(input, message);
  if (refusal) return refused(refusal);
  const params = (message.params ?? {}) as AnyObject;
  const meta = metaOf(params) ?? {};
  const capsText = JSON.stringify(meta[META_CLIENT_CAPABILITIES] ?? {});
  const key = envelopeKey(capsText, meta[META_CLIENT_INFO]);
  if (key.length > MAX_ENVELOPE_CHARS) {
    return refused(rpcRefusal(
      400,
      -32602,
      `Invalid params: _meta["${META_CLIENT_CAPABILITIES}"] and _meta["${META_CLIENT_INFO}"] ` +
        `are ${key.length} characters of JSON; at most ${MAX_ENVELOPE_CHARS} are allowed`,
      { limit: "clientCapabilities+clientInfo", max: MAX_ENVELOPE_CHARS, actual: key.length },
      id,
    ));
  }
  if (validEnvelopes.size >= MAX_VALID_ENVELOPES) validEnvelopes.clear();
  validEnvelopes.add(key);
  return {
    era: "modern",
    kind: "request",
    id: id as string | number,
    method: message.method as string,
    params,
    meta,
    capsText,
  };
}

interface StandardHeaders {
  protocolVersionHeader?: string;
  mcpMethodHeader?: string;
  mcpNameHeader?: string;
}

function header(h: Headers, name: string, key: keyof StandardHeaders): StandardHeaders {
  const v = h.get(name);
  return v === null ? {} : { [key]: v };
}

/**
 * The SDK entry's standard-header rung (`validateStandardRequestHeaders`, internal in 2.4.0):
 * `MCP-Protocol-Version` and `Mcp-Method` present, `Mcp-Name` present, well-encoded and equal
 * to the body's name/uri. The response, or undefined when the headers pass.
 */
function standardHeaders(
  input: StandardHeaders,
  message: AnyObject,
): Response | undefined {
  const method = message.method as string;
  const params = message.params;
  const id = message.id;
  if (input.protocolVersionHeader === undefined) {
    const claimed = metaOf(params)?.[META_PROTOCOL_VERSION];
    return mismatch(
      "(missing)",
      typeof claimed === "string"
        ? `the body envelope names protocol version ${claimed} but the required MCP-Protocol-Version header is absent`
        : "the body carries a modern per-request envelope but the required MCP-Protocol-Version header is absent",
      id,
    );
  }
  if (input.mcpMethodHeader === undefined) {
    return mismatch(
      "(missing)",
      `the body names method ${method} but the required Mcp-Method header is absent`,
      id,
    );
  }
  const field = Object.hasOwn(NAME_FIELD, method) ? NAME_FIELD[method] : undefined;
  if (field === undefined) return undefined;
  const raw = isObject(params) ? params[field] : undefined;
  const value = typeof raw === "string" ? raw : undefined;
  if (input.mcpNameHeader === undefined) {
    if (value === undefined) return undefined;
    return mismatch(
      "(missing)",
      `the body carries params.${field}="${value}" but the required Mcp-Name header is absent`,
      id,
    );
  }
  const name = input.mcpNameHeader.trim();
  const decoded = decodeMcpName(name);
  if (decoded === undefined) {
    return mismatch(name, "the Mcp-Name header carries an invalid Base64 sentinel value", id);
  }
  if (value !== undefined && decoded !== value) {
    return mismatch(
      name,
      `the body carries params.${field}="${value}" but the Mcp-Name header names "${decoded}"`,
      id,
    );
  }
  return undefined;
}

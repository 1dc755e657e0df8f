/**
 * The wire of one MCP 2026-07-28 request to a modern backend: the `_meta` envelope, the
 * standard headers (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`) and reading the answer of
 * the POST, plain JSON or an SSE stream whose other messages (progress, log) belong to this
 * request alone.
 * @module
 */
import type { RpcAnswer } from "./pooled_transport.ts";

type AnyObject = Record<string, unknown>;

/** The one modern revision vmcp speaks. */
export const MODERN_VERSION = "2026-07-28";
export const META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion";
export const META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities";
export const META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo";
export const META_LOG_LEVEL = "io.modelcontextprotocol/logLevel";

/** vmcp's own `clientInfo` towards backends. */
export const VMCP_CLIENT_INFO = { name: "vmcp", version: "1.0.0" };

/** What the envelope of one request says about the caller. */
export interface Envelope {
  /** The caller's capabilities (vmcp's own for vmcp's requests). */
  capabilities: AnyObject;
  /** The caller's log level, when it set one. */
  logLevel?: string;
}

/** `params` with the envelope merged into its `_meta` (the caller's own `_meta` keys kept). */
export function withEnvelope(params: AnyObject | undefined, env: Envelope): AnyObject {
  const meta: AnyObject = { ...(params?._meta as AnyObject | undefined) };
  meta[META_PROTOCOL_VERSION] = MODERN_VERSION;
  meta[META_CLIENT_CAPABILITIES] = env.capabilities;
  meta[META_CLIENT_INFO] = VMCP_CLIENT_INFO;
  if (env.logLevel !== undefined) meta[META_LOG_LEVEL] = env.logLevel;
  return { ...params, _meta: meta };
}

const SENTINEL_PREFIX = "=?base64?";
const SENTINEL_SUFFIX = "?=";

/** A header value as the spec encodes it: plain ASCII as is, anything else `=?base64?…?=`. */
export function headerValue(s: string): string {
  let plain = s.length > 0 && s === s.trim() &&
    !(s.startsWith(SENTINEL_PREFIX) && s.endsWith(SENTINEL_SUFFIX));
  for (let i = 0; plain && i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!(c === 9 || (c >= 32 && c <= 126))) plain = false;
  }
  if (plain) return s;
  let bin = "";
  for (const b of new TextEncoder().encode(s)) bin += String.fromCharCode(b);
  return `${SENTINEL_PREFIX}${btoa(bin)}${SENTINEL_SUFFIX}`;
}

/** The name `Mcp-Name` carries for `method`: a tool's or prompt's name, a resource's uri. */
export function nameOf(method: string, params: AnyObject | undefined): string | undefined {
  const v = method === "resources/read" ? params?.uri : method === "tools/call" ||
      method === "prompts/get"
    ? params?.name
    : undefined;
  return typeof v === "string" ? v : undefined;
}

/** The standard headers of a modern request (besides content type and accept). */
export function modernHeaders(method: string, params: AnyObject | undefined) {
  const h: Record<string, string> = {
    "mcp-protocol-version": MODERN_VERSION,
    "mcp-method": method,
  };
  const name = nameOf(method, params);
  if (name !== undefined) h["mcp-name"] = headerValue(name);
  return h;
}

/**
 * One message of an SSE stream (only `data` matters to MCP). Each chunk is scanned once and a
 * line split over chunks is kept as its pieces until its end arrives: searching a growing
 * buffer again per chunk was quadratic (a 16 MB answer in 16 KB chunks cost 20 s of CPU). A
 * `\r` that ends a chunk ends its line; a `\n` starting the next chunk is the rest of it.
 */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const eol = /\r\n|\r|\n/g;
  /** Pieces of the line not ended yet. */
  let partial: string[] = [];
  let afterCr = false;
  let data: string[] = [];
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
      let start: number = afterCr && text.startsWith("\n") ? 1 : 0;
      if (text.length) afterCr = false;
      const lines: string[] = [];
      eol.lastIndex = start;
      for (let m = eol.exec(text); m !== null; m = eol.exec(text)) {
        partial.push(text.slice(start, m.index));
        lines.push(partial.length === 1 ? partial[0]! : partial.join(""));
        partial = [];
        start = eol.lastIndex;
        afterCr = m[0] === "\r" && start === text.length;
      }
      if (start < text.length) partial.push(text.slice(start));
      for (const line of lines) {
        if (line === "") {
          if (data.length) yield data.join("\n");
          data = [];
        } else if (line.startsWith("data:")) {
          data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
        }
      }
      if (done) break;
    }
    if (data.length) yield data.join("\n");
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => {});
  }
}

/** True when `m` is the JSON-RPC response (result or error) to request `id`. */
export function isAnswer(m: unknown, id: string | number): m is RpcAnswer {
  return m !== null && typeof m === "object" && (m as AnyObject).id === id &&
    ("result" in (m as AnyObject) || "error" in (m as AnyObject));
}

/** The answer of a POST's response stream ended without the response. */
export class NoAnswerError extends Error {
  constructor(detail: string) {
    super(`the response ended without an answer (${detail})`);
    this.name = "NoAnswerError";
  }
}

/**
 * Reads the answer to request `id` from a 2xx response: a JSON body, or an SSE stream whose
 * notifications go to `onMessage` (they belong to this request: it opened the stream).
 */
export async function readAnswer(
  res: Response,
  id: string | number,
  onMessage?: (m: { method: string; params?: AnyObject }) => void,
): Promise<RpcAnswer> {
  const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type === "application/json") {
    const data = JSON.parse(await res.text());
    if (isAnswer(data, id)) return data;
    throw new NoAnswerError("the JSON body is not the response to this request");
  }
  if (type === "text/event-stream" && res.body) {
    for await (const text of sseData(res.body)) {
      let m: unknown;
      try {
        m = JSON.parse(text);
      } catch {
        continue;
      }
      if (isAnswer(m, id)) return m;
      const n = m as { method?: unknown; params?: AnyObject; id?: unknown };
      if (typeof n?.method === "string" && n.id === undefined) {
        onMessage?.({ method: n.method, ...(n.params ? { params: n.params } : {}) });
      }
    }
    throw new NoAnswerError("the event stream closed first");
  }
  await res.body?.cancel().catch(() => {});
  throw new NoAnswerError(`unexpected content type "${type}"`);
}

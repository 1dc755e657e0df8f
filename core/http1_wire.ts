/**
 * HTTP/1.1 wire format for `core/http1.ts`: encoding a request head and body, finding and
 * parsing a response head, and decoding a chunked body. Pure functions over bytes, no I/O.
 * @module
 */

const CR = 13;
const LF = 10;

/** Most bytes a response head may take (status line + headers). */
export const MAX_HEAD_BYTES = 64 * 1024;

/** A response the peer sent that this client cannot read (the connection is then closed). */
export class Http1ProtocolError extends TypeError {
  constructor(message: string) {
    super(`HTTP/1.1 protocol error: ${message}`);
    this.name = "Http1ProtocolError";
  }
}

/** Headers this client writes itself (or that make no sense on a pooled connection). */
const OWN_HEADERS = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
  "expect",
]);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\r\n\0]/;
// deno-lint-ignore no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;
const encoder = new TextEncoder();

/** Request bytes: head and body in one buffer (one write for small requests). */
export function encodeRequest(
  url: URL,
  method: string,
  headers: HeadersInit | undefined,
  body: Uint8Array | undefined,
  defaults: { userAgent: string; contentType?: string },
): Uint8Array {
  let head = `${method} ${url.pathname || "/"}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`;
  let accept = false;
  let agent = false;
  let type = false;
  const add = (name: string, value: string, checked: boolean) => {
    const lower = name.toLowerCase();
    if (!checked) {
      if (!TOKEN.test(name)) {
        throw new TypeError(`Invalid header name ${JSON.stringify(name)}: expected an HTTP token`);
      }
      value = value.trim();
      if (BAD_VALUE.test(value)) {
        throw new TypeError(`Invalid value of header ${name}: CR, LF and NUL are not allowed`);
      }
    }
    if (OWN_HEADERS.has(lower)) return;
    if (lower === "accept") accept = true;
    else if (lower === "user-agent") agent = true;
    else if (lower === "content-type") type = true;
    head += `${name}: ${value}\r\n`;
  };
  if (headers instanceof Headers) { for (const [k, v] of headers) add(k, v, true); }
  else if (Array.isArray(headers)) {
    for (const [k, v] of headers) {
      add(String(k), String(v), false);
    }
  } else if (headers) {
    for (const [k, v] of Object.entries(headers)) add(k, String(v), false);
  }
  if (!accept) head += "accept: */*\r\n";
  if (!agent) head += `user-agent: ${defaults.userAgent}\r\n`;
  if (!type && defaults.contentType && body) head += `content-type: ${defaults.contentType}\r\n`;
  if (body) head += `content-length: ${body.byteLength}\r\n`;
  else if (method === "POST" || method === "PUT" || method === "PATCH") {
    head += "content-length: 0\r\n";
  }
  head += "\r\n";
  return headAndBody(head, body);
}

/** One buffer: the head as Latin-1 bytes (characters above U+00FF refused), then the body. */
function headAndBody(head: string, body: Uint8Array | undefined): Uint8Array {
  const out = new Uint8Array(head.length + (body?.byteLength ?? 0));
  if (NON_ASCII.test(head)) {
    for (let i = 0; i < head.length; i++) {
      const c = head.charCodeAt(i);
      if (c > 0xff) {
        throw new TypeError("Invalid header value: characters above U+00FF are not allowed");
      }
      out[i] = c;
    }
  } else encoder.encodeInto(head, out);
  if (body) out.set(body, head.length);
  return out;
}

/**
 * The fixed part of a JSON POST head to one URL (request line, host, content type, accept and
 * `fixed` headers), validated once; `encodeJsonPost` adds per-request headers, the user agent,
 * the length and the body.
 */
export function jsonPostPrefix(url: URL, fixed: Record<string, string> = {}): string {
  let head = `POST ${url.pathname || "/"}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n` +
    `content-type: application/json\r\naccept: application/json, text/event-stream\r\n`;
  for (const [k, v] of Object.entries(fixed)) head += headerLine(k, v);
  return head;
}

/** `name: value\r\n`, checked as `encodeRequest` checks caller headers ("" for our own). */
function headerLine(name: string, value: string): string {
  if (!TOKEN.test(name)) {
    throw new TypeError(`Invalid header name ${JSON.stringify(name)}: expected an HTTP token`);
  }
  value = value.trim();
  if (BAD_VALUE.test(value)) {
    throw new TypeError(`Invalid value of header ${name}: CR, LF and NUL are not allowed`);
  }
  const lower = name.toLowerCase();
  if (OWN_HEADERS.has(lower) || lower === "content-type" || lower === "accept") return "";
  return `${name}: ${value}\r\n`;
}

/**
 * Request bytes of a JSON POST: `prefix` (see `jsonPostPrefix`), `extra` headers, `userAgent`
 * unless `extra` names one, the body.
 */
export function encodeJsonPost(
  prefix: string,
  extra: Record<string, string> | undefined,
  body: string,
  userAgent: string,
): Uint8Array {
  let head = prefix;
  let agent = false;
  if (extra) {
    for (const k in extra) {
      head += headerLine(k, extra[k]!);
      if (!agent && k.length === 10 && k.toLowerCase() === "user-agent") agent = true;
    }
  }
  if (!agent) head += `user-agent: ${userAgent}\r\n`;
  const bytes = encoder.encode(body);
  head += `content-length: ${bytes.byteLength}\r\n\r\n`;
  return headAndBody(head, bytes);
}

/** Index just past the blank line ending the head in `buf[0..len)`, scanning from `from`; or -1. */
export function findHeadEnd(buf: Uint8Array, from: number): number {
  let i = buf.indexOf(LF, Math.max(from, 3));
  while (i !== -1) {
    if (buf[i - 1] === CR && buf[i - 2] === LF && buf[i - 3] === CR) return i + 1;
    i = buf.indexOf(LF, i + 1);
  }
  return -1;
}

/** A parsed response head. */
export interface ResponseHead {
  status: number;
  statusText: string;
  /** HTTP/1.x minor version (0 or 1). */
  minor: number;
  headers: [string, string][];
  /** Body framing: a byte count, chunked, or until the peer closes. */
  length: number | "chunked" | "close";
  /** True when the connection can carry another request after this response. */
  keepAlive: boolean;
}

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]);
  }
  return s;
}

/** Parses the head bytes (including the final blank line) of a response to `method`. */
export function parseHead(bytes: Uint8Array, method: string): ResponseHead {
  const lines = latin1(bytes).split("\r\n");
  const m = STATUS_LINE.exec(lines[0]!);
  if (!m) throw new Http1ProtocolError(`bad status line ${JSON.stringify(lines[0]!.slice(0, 80))}`);
  const minor = Number(m[1]);
  const status = Number(m[2]);
  const headers: [string, string][] = [];
  let length: number | undefined;
  let chunked = false;
  let transferEncoding = false;
  let close = minor === 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0 || line.charCodeAt(0) === 32 || line.charCodeAt(0) === 9) {
      throw new Http1ProtocolError(`bad header line ${JSON.stringify(line.slice(0, 80))}`);
    }
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (!TOKEN.test(name)) throw new Http1ProtocolError(`bad header name ${JSON.stringify(name)}`);
    headers.push([name, value]);
    const lower = name.length === 14 || name.length === 17 || name.length === 10
      ? name.toLowerCase()
      : "";
    if (lower === "content-length") {
      if (!/^\d{1,15}$/.test(value) || (length !== undefined && length !== Number(value))) {
        throw new Http1ProtocolError(`bad content-length ${JSON.stringify(value)}`);
      }
      length = Number(value);
    } else if (lower === "transfer-encoding") {
      transferEncoding = true;
      const codings = value.toLowerCase().split(",");
      chunked = codings[codings.length - 1]!.trim() === "chunked";
    } else if (lower === "connection") {
      const tokens = value.toLowerCase().split(",").map((t) => t.trim());
      if (tokens.includes("close")) close = true;
      else if (tokens.includes("keep-alive")) close = false;
    }
  }
  let framing: ResponseHead["length"];
  if (method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200)) {
    framing = 0;
  } else if (transferEncoding) framing = chunked ? "chunked" : "close";
  else framing = length ?? "close";
  return {
    status,
    statusText: m[3] ?? "",
    minor,
    headers,
    length: framing,
    keepAlive: !close && framing !== "close",
  };
}

const enum State {
  Size,
  Data,
  DataCr,
  DataLf,
  Trailer,
  Done,
}

/** Decodes a chunked body fed in pieces; yields the data as subarrays of the input. */
export class ChunkedDecoder {
  #state = State.Size;
  #line = "";
  #left = 0;

  get done(): boolean {
    return this.#state === State.Done;
  }

  /**
   * Feeds `chunk`: pushes body data to `out` and answers how many bytes were consumed (less
   * than `chunk.length` only when the body ended inside `chunk`).
   */
  push(chunk: Uint8Array, out: Uint8Array[]): number {
    let i = 0;
    const n = chunk.length;
    while (i < n && this.#state !== State.Done) {
      switch (this.#state) {
        case State.Data: {
          const take = Math.min(this.#left, n - i);
          out.push(chunk.subarray(i, i + take));
          i += take;
          this.#left -= take;
          if (this.#left === 0) this.#state = State.DataCr;
          break;
        }
        case State.DataCr:
          if (chunk[i++] !== CR) throw new Http1ProtocolError("chunk data not followed by CRLF");
          this.#state = State.DataLf;
          break;
        case State.DataLf:
          if (chunk[i++] !== LF) throw new Http1ProtocolError("chunk data not followed by CRLF");
          this.#state = State.Size;
          break;
        default: {
          // Size line or trailer line: up to LF.
          const lf = chunk.indexOf(LF, i);
          const end = lf === -1 ? n : lf;
          this.#line += latin1(chunk.subarray(i, end));
          if (this.#line.length > 8192) throw new Http1ProtocolError("chunk line too long");
          i = end;
          if (lf === -1) break;
          i++;
          const line = this.#line.endsWith("\r") ? this.#line.slice(0, -1) : this.#line;
          this.#line = "";
          if (this.#state === State.Trailer) {
            if (line === "") this.#state = State.Done;
            break;
          }
          const semi = line.indexOf(";");
          const hex = (semi === -1 ? line : line.slice(0, semi)).trim();
          if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) {
            throw new Http1ProtocolError(`bad chunk size ${JSON.stringify(hex.slice(0, 20))}`);
          }
          this.#left = parseInt(hex, 16);
          this.#state = this.#left === 0 ? State.Trailer : State.Data;
        }
      }
    }
    return i;
  }
}

/** Joins byte arrays into one. */
export function concat(parts: Uint8Array[], size?: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(size ?? parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.byteLength);
  return out;
}

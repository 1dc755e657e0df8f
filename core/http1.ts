/**
 * A keep-alive HTTP/1.1 client for plain `http:` requests, pooled per origin. It costs less
 * CPU per request than Deno's `fetch` (no `Request` object, no header webidl conversion, one
 * write per small request), which matters on the proxy's backend hop (docs/adr/0004).
 *
 * - Answers a Web `Response`. A body already fully received is handed over as bytes; anything
 *   else (SSE, large or chunked bodies) is a `ReadableStream` fed as bytes arrive.
 * - Bodies: Content-Length, chunked, or until the peer closes (then the socket is not reused).
 *   No compression is asked for (no `accept-encoding`).
 * - Idle sockets wait in a per-origin pool with a read pending: a peer closing an idle socket
 *   is noticed at once and the socket dropped. Idle sockets do not keep the process alive.
 * - Abort (`init.signal`) closes the socket, before or while the body streams.
 * - A pooled socket that turns out stale is retried once on a fresh connection: when writing
 *   the request fails, or, for idempotent methods only, when the peer closes or resets it
 *   before one byte of the response. A written POST is never resent (it may have run). A fresh
 *   connection failing is never retried.
 * - `redirect: "error"` throws on a redirect; anything else returns it unfollowed (callers such
 *   as `createBackendFetch` decide what to follow).
 * @module
 */
import {
  ChunkedDecoder,
  concat,
  encodeRequest,
  findHeadEnd,
  Http1ProtocolError,
  MAX_HEAD_BYTES,
  parseHead,
  type ResponseHead,
} from "./http1_wire.ts";

export interface Http1PoolOptions {
  /** Idle sockets kept per origin. @default 64 */
  maxIdlePerOrigin?: number;
  /** Idle sockets older than this are closed instead of reused. @default 60 s */
  idleTimeoutMs?: number;
}

const READ_SIZE = 64 * 1024;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const encoder = new TextEncoder();
const USER_AGENT = `Deno/${Deno.version.deno}`;

const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);

/** No byte of the response arrived on a reused socket: the request may be sent again. */
class StaleSocket extends Error {
  constructor(override readonly cause: unknown) {
    super("socket closed before the response started");
  }
}

/** One TCP connection; reads go through a reusable buffer and come out as copies. */
class Conn {
  reused = false;
  parked = false;
  dead = false;
  idleSince = 0;
  readonly #buf = new Uint8Array(READ_SIZE);
  #pending: Promise<Uint8Array | null> | undefined;

  constructor(readonly tcp: Deno.TcpConn, readonly key: string) {}

  read(): Promise<Uint8Array | null> {
    const p = this.#pending ?? this.#read();
    this.#pending = undefined;
    return p;
  }

  async #read(): Promise<Uint8Array | null> {
    const n = await this.tcp.read(this.#buf);
    return n === null ? null : this.#buf.slice(0, n);
  }

  async write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.byteLength) at += await this.tcp.write(bytes.subarray(at));
  }

  /** Idle in the pool: a read stays pending so that a close by the peer is seen at once. */
  park(onLost: (c: Conn) => void): void {
    this.parked = true;
    this.reused = true;
    this.idleSince = Date.now();
    const p = this.#read();
    this.#pending = p;
    this.tcp.unref();
    const lost = () => {
      if (this.parked) onLost(this);
    };
    p.then(lost, lost);
  }

  unpark(): void {
    this.parked = false;
    this.tcp.ref();
  }

  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    this.parked = false;
    try {
      this.tcp.close();
    } catch { /* already closed */ }
  }
}

/** The request body as bytes, or undefined; null when it cannot be sent by this client. */
export function bodyBytes(body: BodyInit | null | undefined): Uint8Array | undefined | null {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") return encoder.encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  return null;
}

export class Http1Pool {
  readonly #idle = new Map<string, Conn[]>();
  readonly #maxIdle: number;
  readonly #idleTimeoutMs: number;
  readonly #open = new Set<Conn>();
  #closed = false;
  /** Bumped by `abortAll`: a request sent before it never opens a socket after it. */
  #epoch = 0;

  constructor(opts: Http1PoolOptions = {}) {
    this.#maxIdle = opts.maxIdlePerOrigin ?? 64;
    this.#idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
  }

  /** Sockets open (idle or in use). */
  get openSockets(): number {
    return this.#open.size;
  }

  /** Idle sockets waiting in the pool. */
  get idleSockets(): number {
    let n = 0;
    for (const list of this.#idle.values()) n += list.length;
    return n;
  }

  /** Closes idle sockets now and every other socket once its response is done (or aborted). */
  close(): void {
    this.#closed = true;
    for (const list of this.#idle.values()) for (const c of list) this.#drop(c);
    this.#idle.clear();
  }

  /**
   * Sends one request. `url` must be `http:`; the body must be a string or bytes (see
   * `bodyBytes`).
   */
  async fetch(url: URL, init: RequestInit = {}): Promise<Response> {
    const signal = init.signal ?? undefined;
    signal?.throwIfAborted();
    if (url.protocol !== "http:") {
      throw new TypeError(`Http1Pool: ${url.protocol} is not supported (only http:)`);
    }
    const method = (init.method ?? "GET").toUpperCase();
    const body = bodyBytes(init.body);
    if (body === null) throw new TypeError("Http1Pool: the request body must be a string or bytes");
    const bytes = encodeRequest(url, method, init.headers, body, {
      userAgent: USER_AGENT,
      ...(typeof init.body === "string" ? { contentType: "text/plain;charset=UTF-8" } : {}),
    });
    const raw = await this.send(url, method, bytes, signal);
    if (init.redirect === "error" && REDIRECTS.has(raw.status)) {
      if (raw.body instanceof ReadableStream) await raw.body.cancel();
      throw new TypeError(`${method} ${url.origin}${url.pathname}: redirected (redirect: error)`);
    }
    return toResponse(raw);
  }

  /**
   * Sends request bytes already encoded (see `encodeRequest`, `encodeJsonPost`) to `url`'s
   * origin and answers the raw response: no `Response`/`Headers` objects (the proxy's lean
   * backend path, docs/adr/0004). Same pooling, abort and stale-socket rules as `fetch`.
   */
  async send(
    url: URL,
    method: string,
    bytes: Uint8Array,
    signal: AbortSignal | undefined,
  ): Promise<RawResponse> {
    signal?.throwIfAborted();
    const key = url.host;
    const epoch = this.#epoch;
    let conn = this.#take(key);
    for (;;) {
      conn ??= await this.#connect(url, signal, epoch);
      try {
        return await this.#exchange(conn, bytes, method, signal);
      } catch (err) {
        this.#drop(conn);
        if (signal?.aborted) throw signal.reason;
        if (!(err instanceof StaleSocket)) throw err;
        if (conn.reused) {
          conn = undefined; // once, on a fresh connection
          continue;
        }
        throw new TypeError(
          `${method} ${url.origin}${url.pathname}: the connection closed before a response (${
            describe(err.cause)
          })`,
          { cause: err.cause },
        );
      }
    }
  }

  /** Closes every socket now, in use or idle: requests in flight fail. The pool stays usable. */
  abortAll(): void {
    this.#epoch++;
    for (const c of [...this.#open]) this.#drop(c);
    this.#idle.clear();
  }

  #take(key: string): Conn | undefined {
    const list = this.#idle.get(key);
    if (!list) return undefined;
    const cutoff = Date.now() - this.#idleTimeoutMs;
    for (let c = list.pop(); c; c = list.pop()) {
      if (c.dead) continue;
      if (c.idleSince < cutoff) {
        this.#drop(c);
        continue;
      }
      c.unpark();
      return c;
    }
    return undefined;
  }

  async #connect(url: URL, signal: AbortSignal | undefined, epoch: number): Promise<Conn> {
    const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    const connecting = Deno.connect({ hostname, port: Number(url.port || 80) });
    let tcp: Deno.TcpConn;
    try {
      tcp = await (signal ? abortable(connecting, signal) : connecting);
    } catch (err) {
      if (signal?.aborted) {
        connecting.then((t) => t.close(), () => {});
        throw signal.reason;
      }
      throw new TypeError(`${url.origin}: connect failed (${describe(err)})`, { cause: err });
    }
    if (epoch !== this.#epoch) {
      tcp.close();
      throw new TypeError(`${url.origin}: the pool's sockets were closed (abortAll)`);
    }
    tcp.setNoDelay(true);
    const conn = new Conn(tcp, url.host);
    this.#open.add(conn);
    return conn;
  }

  #drop(c: Conn): void {
    c.destroy();
    this.#open.delete(c);
  }

  #release(c: Conn): void {
    if (c.dead) return void this.#open.delete(c);
    let list = this.#idle.get(c.key);
    if (!list) this.#idle.set(c.key, list = []);
    if (this.#closed || list.length >= this.#maxIdle) return this.#drop(c);
    c.park((lost) => {
      this.#drop(lost);
      const at = list.indexOf(lost);
      if (at !== -1) list.splice(at, 1);
    });
    list.push(c);
  }

  /** Writes the request and reads the response head (and the body when it is all there). */
  async #exchange(
    conn: Conn,
    bytes: Uint8Array,
    method: string,
    signal: AbortSignal | undefined,
  ): Promise<RawResponse> {
    const onAbort = () => conn.destroy();
    signal?.addEventListener("abort", onAbort);
    // Once a non-idempotent request (a tools/call POST) is written, a close before the answer
    // may mean the backend ran it and died: never resend it (exactly-once beats one retry).
    const resendable = IDEMPOTENT.has(method.toUpperCase());
    let streaming = false;
    try {
      try {
        await conn.write(bytes);
      } catch (err) {
        throw new StaleSocket(err);
      }
      let buf: Uint8Array | undefined;
      let head: ResponseHead;
      let end: number;
      for (;;) {
        let scanned = 0;
        end = buf ? findHeadEnd(buf, 0) : -1;
        while (end === -1) {
          let chunk: Uint8Array | null;
          try {
            chunk = await conn.read();
          } catch (err) {
            if (buf || !resendable) throw err;
            throw new StaleSocket(err);
          }
          if (chunk === null) {
            if (!buf && resendable) throw new StaleSocket(new Error("closed by the peer"));
            if (!buf) {
              throw new Http1ProtocolError(
                "the connection closed before a response; a written POST is not resent",
              );
            }
            throw new Http1ProtocolError("connection closed inside the response head");
          }
          buf = buf ? concat([buf, chunk]) : chunk;
          end = findHeadEnd(buf, scanned);
          scanned = Math.max(0, buf.length - 3);
          if (end === -1 && buf.length > MAX_HEAD_BYTES) {
            throw new Http1ProtocolError(`response head over ${MAX_HEAD_BYTES} bytes`);
          }
        }
        head = parseHead(buf!.subarray(0, end), method);
        buf = buf!.subarray(end);
        if (head.status >= 200) break;
        if (head.status === 101) throw new Http1ProtocolError("unexpected 101 Switching Protocols");
        // 1xx informational (100 Continue, 103 Early Hints): the real response follows.
        if (buf.length === 0) buf = undefined;
      }
      const rest = buf ?? new Uint8Array(0);
      const { status, statusText, headers, length } = head;
      if (length === 0 || typeof length === "number" && rest.length >= length) {
        if (rest.length > (length as number)) head.keepAlive = false; // unasked-for bytes
        this.#done(conn, head.keepAlive);
        const body = length === 0 ? null : rest.subarray(0, length as number);
        return { status, statusText, headers, body: body && body.length ? body : null };
      }
      if (length === "chunked") {
        const decoder = new ChunkedDecoder();
        const parts: Uint8Array[] = [];
        const used = decoder.push(rest, parts);
        if (decoder.done) {
          this.#done(conn, head.keepAlive && used === rest.length);
          return { status, statusText, headers, body: parts.length ? concat(parts) : null };
        }
        streaming = true;
        const body = this.#stream(conn, head, signal, onAbort, parts, decoder);
        return { status, statusText, headers, body };
      }
      streaming = true;
      const body = this.#stream(conn, head, signal, onAbort, [rest], undefined);
      return { status, statusText, headers, body };
    } finally {
      if (!streaming) signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Response done: pool the socket when it can carry another request. */
  #done(conn: Conn, keepAlive: boolean): void {
    if (keepAlive) this.#release(conn);
    else this.#drop(conn);
  }

  /** The rest of a body as a stream; the socket goes back to the pool once it has all been read. */
  #stream(
    conn: Conn,
    head: ResponseHead,
    signal: AbortSignal | undefined,
    onAbort: () => void,
    first: Uint8Array[],
    decoder: ChunkedDecoder | undefined,
  ): ReadableStream<Uint8Array> {
    let left = typeof head.length === "number" ? head.length : Infinity;
    let pending = first.filter((p) => p.length > 0);
    if (typeof head.length === "number") {
      for (const p of pending) left -= p.length;
    }
    let finished = false;
    const finish = (keepAlive: boolean) => {
      finished = true;
      signal?.removeEventListener("abort", onAbort);
      if (keepAlive) this.#release(conn);
      else this.#drop(conn);
    };
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        for (;;) {
          if (pending.length) {
            for (const p of pending) controller.enqueue(p);
            pending = [];
            return;
          }
          let chunk: Uint8Array | null;
          try {
            chunk = await conn.read();
          } catch (err) {
            finish(false);
            throw signal?.aborted ? signal.reason : err;
          }
          if (signal?.aborted) {
            finish(false);
            throw signal.reason;
          }
          if (chunk === null) {
            finish(false);
            if (head.length === "close") return controller.close();
            throw new Http1ProtocolError("connection closed before the end of the body");
          }
          if (decoder) {
            let used: number;
            try {
              used = decoder.push(chunk, pending);
            } catch (err) {
              finish(false);
              throw err;
            }
            pending = pending.filter((p) => p.length > 0);
            if (decoder.done) {
              finish(head.keepAlive && used === chunk.length);
              for (const p of pending) controller.enqueue(p);
              return controller.close();
            }
          } else if (head.length === "close") {
            pending.push(chunk);
          } else {
            const take = Math.min(left, chunk.length);
            left -= take;
            if (take) pending.push(chunk.subarray(0, take));
            if (left === 0) {
              finish(head.keepAlive && take === chunk.length);
              for (const p of pending) controller.enqueue(p);
              return controller.close();
            }
          }
        }
      },
      cancel: () => {
        if (!finished) finish(false);
      },
    }, { highWaterMark: 0 });
  }
}

/** A response as read off the wire: the body is all there (bytes) or still streaming. */
export interface RawResponse {
  status: number;
  statusText: string;
  /** In wire order, names as sent. */
  headers: [string, string][];
  body: Uint8Array | ReadableStream<Uint8Array> | null;
}

/** The value of header `name` (lower case) in a raw response, or undefined. */
export function rawHeader(raw: RawResponse, name: string): string | undefined {
  for (const [k, v] of raw.headers) {
    if (k.length === name.length && k.toLowerCase() === name) return v;
  }
  return undefined;
}

/** A Web `Response` of a raw response. */
export function toResponse(raw: RawResponse): Response {
  return new Response(raw.body as BodyInit | null, {
    status: raw.status,
    statusText: raw.statusText,
    headers: raw.headers,
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `p`, or a rejection with the signal's reason once it aborts. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

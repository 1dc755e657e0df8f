/**
 * An HTTP server that no client can exhaust: our own accept loop on `Deno.listen`, each accepted
 * connection served by Deno's native HTTP engine (the one `Deno.serve` uses), plus
 *
 * - accept errors never end the process: `EMFILE` / `ENFILE` (no descriptor left) and the like
 *   are logged and accepting resumes after a short back-off (5 ms doubling to 1 s);
 * - a cap on open client connections: one over the cap is answered `503` (JSON-RPC error body,
 *   `Retry-After: 1`, `Connection: close`) and closed;
 * - `headerTimeout`: a new connection must complete its first request head within it;
 * - `bodyTimeout`: a request body being read (see {@link trackBody}) must arrive within it;
 * - `idleTimeout`: a connection with nothing in flight closes after it (between requests this
 *   also bounds the wait for the next request head).
 *
 * A connection that breaks a bound is closed (a request in flight on it is dropped). Bounds are
 * checked by one sweep per server (every quarter of the shortest bound, 50 ms to 1 s), so the
 * request path only counts; no timer is set per request.
 *
 * **A client that leaves while its request runs.** Deno's HTTP/1 engine notices a closed
 * connection only while it reads from it; once a request body that arrived after its head is
 * consumed it stops reading, so `request.signal` of a long JSON-answered request did not abort
 * when its client went away (with `Deno.serve` too). On Linux the sweep therefore looks, at most
 * once a second and only while some request has run for a second or more, for those busy
 * connections that the kernel lists as closed by the peer (`CLOSE_WAIT`, tcp_close_wait.ts),
 * and closes them: their requests' `request.signal` aborts, as for any dropped connection. A
 * client that half-closes its side and still waits for the answer is treated as gone (as
 * hyper's default does).
 *
 * Deno has no public API to serve HTTP on an accepted connection; the server uses
 * `Deno[Deno.internal].serveHttpOnConnection` (what `Deno.serve` runs per listener) when present,
 * and falls back to plain `Deno.serve` (no limits, a warning) when a Deno release drops it.
 * @module
 */
import type { Logger } from "./log.ts";
import { connectionKey, PeerCloseScanner } from "./tcp_close_wait.ts";

export interface ServerLimits {
  /** Open client connections; more are answered 503. @default {@link defaultMaxConnections} */
  maxConnections: number;
  /** Milliseconds from accept to a complete first request head. @default 10 s */
  headerTimeoutMs: number;
  /** Milliseconds to read a request body (from the handler's first read). @default 30 s */
  bodyTimeoutMs: number;
  /** Milliseconds a connection may sit with nothing in flight. @default 75 s */
  idleTimeoutMs: number;
}

export const DEFAULT_HEADER_TIMEOUT_MS = 10_000;
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;
/** Above the 60 s idle timeout of common load balancers, so they close first (no 502 race). */
export const DEFAULT_IDLE_TIMEOUT_MS = 75_000;
/** Upper end of the automatic connection cap. */
export const MAX_AUTO_CONNECTIONS = 10_000;

/** The soft open-file limit of this process (Linux `/proc/self/limits`), else undefined. */
export function openFileLimit(): number | undefined {
  try {
    const line = Deno.readTextFileSync("/proc/self/limits").split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
    const n = Number(soft);
    return Number.isFinite(n) && n > 0 ? n : undefined; // "unlimited" → undefined
  } catch {
    return undefined;
  }
}

/**
 * The default connection cap: three quarters of the open-file limit (the rest stays for backend
 * connections, stdio children and the runtime), between 16 and {@link MAX_AUTO_CONNECTIONS};
 * 1000 when the limit cannot be read.
 */
export function defaultMaxConnections(limit = openFileLimit()): number {
  if (limit === undefined) return 1000;
  return Math.max(16, Math.min(MAX_AUTO_CONNECTIONS, Math.floor(limit * 0.75)));
}

export interface GuardedServeOptions {
  hostname: string;
  port: number;
  /** Aborting stops accepting and shuts connections down gracefully (in-flight requests end). */
  signal: AbortSignal;
  limits?: Partial<ServerLimits>;
  /** Called with the bound address. */
  onListen?: (addr: Deno.NetAddr) => void;
  /** Answer for a handler that threw. @default plain 500 */
  onError?: (err: unknown) => Response | Promise<Response>;
  log?: Logger;
}

export interface ServerStats {
  /** Connections open now. */
  open: number;
  /** Connections closed for a timeout, by bound. */
  closedHeader: number;
  closedBody: number;
  closedIdle: number;
  /** Connections with a request in flight closed because the client had closed its side. */
  closedPeer: number;
  /** Connections answered 503 over the cap. */
  refused: number;
  /** Accept errors (e.g. EMFILE) survived. */
  acceptErrors: number;
}

export interface GuardedServer {
  readonly addr: Deno.NetAddr;
  /** Resolves once accepting stopped and every connection closed. */
  readonly finished: Promise<void>;
  readonly limits: Readonly<ServerLimits>;
  stats(): ServerStats;
}

type Handler = (
  req: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

interface ConnServer {
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

type ServeOnConnection = (
  conn: Deno.Conn,
  signal: AbortSignal,
  handler: Handler,
  onError: (err: unknown) => Response | Promise<Response>,
  onListen: (scheme: unknown) => void,
) => ConnServer;

function nativeServeOnConnection(): ServeOnConnection | undefined {
  const d = Deno as unknown as Record<symbol, Record<string, unknown> | undefined>;
  const internal = (Deno as unknown as { internal?: symbol }).internal;
  const fn = internal ? d[internal]?.serveHttpOnConnection : undefined;
  return typeof fn === "function" ? fn as ServeOnConnection : undefined;
}

/** State of one accepted connection. */
class Conn {
  /** Requests whose response has not been fully sent. */
  active = 0;
  /** Requests seen (0: still waiting for the first head). */
  requests = 0;
  /** When `active` last went from 0 to 1. */
  busySince = 0;
  /** `connectionKey` of the TCP connection (undefined when unknown). */
  key: string | undefined;
  /** The client's address (undefined when unknown); formatted only when asked for. */
  remote: Deno.NetAddr | undefined;
  get busy(): boolean {
    return this.active > 0;
  }
  /** When the connection last became idle (accept, or the end of its last response). */
  idleSince: number;
  /** Body reads in progress and when the oldest began. */
  bodyReads = 0;
  bodySince = 0;
  readonly abort = new AbortController();
  constructor(now: number) {
    this.idleSince = now;
  }
}

const requestConn = new WeakMap<Request, Conn>();

/**
 * Reads a request body under the server's `bodyTimeout`: wrap the read of a request served by
 * {@link serveGuarded} (`await trackBody(req, req.bytes())`); past the bound the connection is
 * closed, which fails the read. Other requests pass through untouched.
 */
export function trackBody<T>(req: Request, read: Promise<T>): Promise<T> {
  const conn = requestConn.get(req);
  if (!conn) return read;
  if (conn.bodyReads++ === 0) conn.bodySince = Date.now();
  return read.finally(() => void conn.bodyReads--);
}

/** The client address (`host:port`) of a request served by {@link serveGuarded}, else undefined. */
export function remoteAddress(req: Request): string | undefined {
  const r = requestConn.get(req)?.remote;
  if (r === undefined) return undefined;
  return r.hostname.includes(":") ? `[${r.hostname}]:${r.port}` : `${r.hostname}:${r.port}`;
}

const encoder = new TextEncoder();

function overloadAnswer(max: number): Uint8Array {
  const body = JSON.stringify({
    jsonrpc: "2.0",
    error: {
      code: -32000,
      message:
        `Server busy: ${max} client connections are open (server.limits.maxConnections); retry later`,
    },
    id: null,
  });
  return encoder.encode(
    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n" +
      `connection: close\r\ncontent-length: ${encoder.encode(body).byteLength}\r\n\r\n${body}`,
  );
}

/**
 * Over-cap connections being answered at once (they hold descriptors too): 1/16 of the cap,
 * 4 to 64; more are closed without an answer.
 */
const maxRefusing = (cap: number) => Math.max(4, Math.min(64, Math.floor(cap / 16)));

/** Answers 503 and closes, reading (and dropping) what the client sent for up to 1 s first. */
async function refuse(conn: Deno.Conn, answer: Uint8Array): Promise<void> {
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, 1000);
  try {
    let written = 0;
    while (written < answer.byteLength) written += await conn.write(answer.subarray(written));
    await conn.closeWrite();
    // Reading until the client closes avoids a reset that could discard the answer.
    const sink = new Uint8Array(4096);
    for (let total = 0; total < 65536;) {
      const n = await conn.read(sink);
      if (n === null) break;
      total += n;
    }
  } catch {
    // the client went away, or the timer closed the connection
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/**
 * Aborting a connection's signal makes Deno cancel its HTTP connection. When that connection
 * closed a moment before (the peer left, or it just finished), Deno's abort listener throws
 * `BadResource`, and an exception in an event listener is reported as uncaught: it would end
 * the process. That error is harmless (the connection is gone either way), so it alone is
 * marked handled; any other uncaught error still ends the process.
 */
let closedCancelGuard = false;
function guardClosedConnectionCancel(): void {
  if (closedCancelGuard) return;
  closedCancelGuard = true;
  globalThis.addEventListener("error", (e) => {
    const err = (e as ErrorEvent).error;
    if (
      err instanceof Deno.errors.BadResource && /ext:deno_http\/00_serve/.test(String(err.stack))
    ) {
      e.preventDefault();
    }
  });
}

/** A busy connection is checked for a peer close once a request on it ran this long. */
const PEER_CLOSE_AFTER_MS = 1000;
/** At most one look at the kernel's connection table per this many milliseconds. */
const PEER_CLOSE_SCAN_MS = 1000;

const isClosedError = (err: unknown) =>
  err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted;

/**
 * Serves `handler` on `hostname:port` with the limits above. The returned server's `finished`
 * resolves after `signal` aborted and every connection closed.
 */
export function serveGuarded(opts: GuardedServeOptions, handler: Handler): GuardedServer {
  const log = opts.log;
  const limits: ServerLimits = {
    maxConnections: opts.limits?.maxConnections ?? defaultMaxConnections(),
    headerTimeoutMs: opts.limits?.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS,
    bodyTimeoutMs: opts.limits?.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
    idleTimeoutMs: opts.limits?.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
  };
  const onError = opts.onError ?? (() => new Response("Internal error", { status: 500 }));
  const serveOn = nativeServeOnConnection();
  if (!serveOn) {
    log?.warn("this Deno has no per-connection HTTP serving: connection limits are off", {
      deno: Deno.version.deno,
    });
    const server = Deno.serve({
      hostname: opts.hostname,
      port: opts.port,
      signal: opts.signal,
      onError,
      onListen: (addr) => opts.onListen?.(addr),
    }, handler);
    const zero = {
      closedHeader: 0,
      closedBody: 0,
      closedIdle: 0,
      closedPeer: 0,
      refused: 0,
      acceptErrors: 0,
    };
    return {
      addr: server.addr,
      finished: server.finished,
      limits,
      stats: () => ({ open: 0, ...zero }),
    };
  }

  guardClosedConnectionCancel();
  const listener = Deno.listen({ hostname: opts.hostname, port: opts.port, transport: "tcp" });
  const addr = listener.addr;
  const conns = new Set<Conn>();
  const servers = new Map<Conn, ConnServer>();
  const stats: Omit<ServerStats, "open"> = {
    closedHeader: 0,
    closedBody: 0,
    closedIdle: 0,
    closedPeer: 0,
    refused: 0,
    acceptErrors: 0,
  };
  const answer503 = overloadAnswer(limits.maxConnections);
  const refusingCap = maxRefusing(limits.maxConnections);
  let refusing = 0;
  let stopping = false;

  // Busy connections whose client closed its side (see the module doc).
  const peers = new PeerCloseScanner<Conn>(PEER_CLOSE_SCAN_MS);
  const shortest = Math.min(limits.headerTimeoutMs, limits.bodyTimeoutMs, limits.idleTimeoutMs);
  const sweepMs = Math.max(50, Math.min(1000, Math.floor(shortest / 4)));
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const c of conns) {
      let bound: keyof typeof stats | undefined;
      if (c.bodyReads > 0 && now - c.bodySince > limits.bodyTimeoutMs) bound = "closedBody";
      else if (c.active === 0) {
        if (c.requests === 0) {
          if (now - c.idleSince > limits.headerTimeoutMs) bound = "closedHeader";
        } else if (now - c.idleSince > limits.idleTimeoutMs) bound = "closedIdle";
      }
      if (bound) {
        stats[bound]++;
        conns.delete(c); // counted as closed now: the cap frees at once
        c.abort.abort();
      }
    }
    peers.scan(
      now,
      () => [...conns].filter((c) => c.busy && now - c.busySince >= PEER_CLOSE_AFTER_MS),
      (c) => {
        if (!conns.delete(c)) return; // closed meanwhile
        stats.closedPeer++;
        c.abort.abort();
      },
    );
  }, sweepMs);

  const serveConn = (tcp: Deno.Conn) => {
    const c = new Conn(Date.now());
    try {
      c.remote = tcp.remoteAddr as Deno.NetAddr;
      c.key = connectionKey(tcp.localAddr as Deno.NetAddr, c.remote);
    } catch { /* no address: not watched for a peer close */ }
    conns.add(c);
    const done = () => {
      if (--c.active === 0) c.idleSince = Date.now();
    };
    const wrapped: Handler = (req, info) => {
      if (c.active++ === 0) c.busySince = Date.now();
      c.requests++;
      requestConn.set(req, c);
      info.completed.then(done, done);
      return handler(req, info);
    };
    let server: ConnServer;
    try {
      server = serveOn(tcp, c.abort.signal, wrapped, onError, () => {});
    } catch (err) {
      conns.delete(c);
      log?.warn("cannot serve an accepted connection", { error: String(err) });
      try {
        tcp.close();
      } catch { /* closed */ }
      return;
    }
    servers.set(c, server);
    if (stopping) void server.shutdown().catch(() => {});
    server.finished.catch(() => {}).finally(() => {
      conns.delete(c);
      servers.delete(c);
    });
  };

  const acceptLoop = async () => {
    let backoff = 0;
    for (;;) {
      let tcp: Deno.Conn;
      try {
        tcp = await listener.accept();
      } catch (err) {
        if (stopping || isClosedError(err)) return;
        stats.acceptErrors++;
        backoff = backoff ? Math.min(1000, backoff * 2) : 5;
        if (backoff === 5 || backoff === 1000) {
          log?.warn("accept failed; retrying shortly", {
            error: String(err),
            retryInMs: backoff,
            openConnections: conns.size,
          });
        }
        await new Promise((r) => setTimeout(r, backoff));
        continue;
      }
      backoff = 0;
      if (conns.size >= limits.maxConnections) {
        stats.refused++;
        if (refusing >= refusingCap) {
          try {
            tcp.close();
          } catch { /* closed */ }
          continue;
        }
        refusing++;
        void refuse(tcp, answer503).finally(() => refusing--);
        continue;
      }
      serveConn(tcp);
    }
  };

  const accepting = acceptLoop();
  opts.onListen?.(addr);

  const finished = (async () => {
    await new Promise<void>((resolve) => {
      if (opts.signal.aborted) return resolve();
      opts.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    stopping = true;
    try {
      listener.close();
    } catch { /* closed */ }
    await accepting;
    // Each connection's signal is what Deno.serve aborts on its own shutdown: it ends open
    // streaming responses (SSE) as well, where shutdown() alone would wait for them for ever.
    for (const c of conns) c.abort.abort();
    // Unlike Deno.serve, a connection's own server waits for a handler that never returns: wait
    // a bounded time for handlers still running, then stop waiting for them.
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<"timeout">((r) =>
      graceTimer = setTimeout(() => r("timeout"), 10_000)
    );
    const drained = await Promise.race([
      Promise.all(
        [...servers.values()].map((s) => s.shutdown().catch(() => {}).then(() => s.finished)),
      ),
      grace,
    ]);
    clearTimeout(graceTimer);
    if (drained === "timeout") {
      log?.warn("stopped waiting for request handlers that did not return within 10 s", {
        connections: servers.size,
      });
      servers.clear();
      conns.clear();
    }
    // Connections whose server never started finish with the sweep or their abort.
    while (conns.size) {
      await new Promise((r) => setTimeout(r, sweepMs));
    }
    clearInterval(sweep);
  })();

  return {
    addr,
    finished,
    limits,
    stats: () => ({ open: conns.size, ...stats }),
  };
}

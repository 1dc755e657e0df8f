/**
 * The proxy's HTTP front door: `/mcp`, `/healthz`, `/readyz`, `/status`, `/metrics` and the
 * OAuth protected-resource metadata. Any error inside a handler becomes a 500 answer; the
 * process never crashes on a client's input.
 *
 * On every path a `Host` that is not allowed gets 403 (`host.ts`; `/healthz` and `/readyz`
 * answer any Host). On `/mcp`: browser origins that are not allowed get 403 (`origin.ts`), and
 * a client's standalone GET SSE stream carries a `: ping` comment every
 * `server.heartbeatSeconds` (default 30, 0 = off) so idle connections through load balancers
 * stay open. `/status` (backend names, transports, URLs) asks for the same credentials as
 * `/mcp` when incoming auth is on; `/metrics` and the probes do not.
 * @module
 */
import type { VmcpConfig } from "../../crds/vmcp_config.ts";
import { type Logger, warnAtMostEvery } from "../../core/log.ts";
import { remoteAddress } from "../../core/http_server.ts";
import { describeError } from "../backends/errors.ts";
import type { ProxyRuntime } from "../runtime.ts";
import { HostCheck, hostRefused } from "./host.ts";
import type { Authenticate, McpEndpoint } from "./mcp_endpoint.ts";
import type { ProxyMetrics } from "./metrics.ts";
import { checkOrigin } from "./origin.ts";
import { statusDocument } from "./status.ts";

export interface HttpOptions {
  runtime: ProxyRuntime;
  endpoint: McpEndpoint;
  metrics: ProxyMetrics;
  log: Logger;
  /** Path of the MCP endpoint. @default "/mcp" */
  path?: string;
  /** RFC 9728 metadata (`/.well-known/oauth-protected-resource…`), from incoming auth. */
  protectedResource?: (req: Request) => Response | undefined | Promise<Response | undefined>;
  /**
   * The address the proxy listens on (loopback: localhost origins are allowed).
   * @default the live config's `server.host`, else 127.0.0.1
   */
  listenHost?: string;
  /** Incoming auth: `/status` needs it too. Default: `/status` is open. */
  authenticate?: Authenticate;
  /** Allowed hosts besides `server.allowedHosts` (the proxy passes `VMCP_ALLOWED_HOSTS`). */
  extraAllowedHosts?: readonly string[];
}

const json = (body: unknown, status = 200) => Response.json(body, { status });

/** Default seconds between `: ping` comments on a GET stream. */
export const DEFAULT_HEARTBEAT_SECONDS = 30;
const PING = new TextEncoder().encode(": ping\n\n");

/**
 * Re-streams an SSE body, adding a `: ping` comment every `ms`. The SDK enqueues one whole
 * event per chunk, so a ping never lands inside an event. Cancelling (client gone) cancels
 * the original body, so the session sees its stream close as before.
 */
export function withHeartbeat(res: Response, ms: number): Response {
  const body = res.body;
  if (!body || ms <= 0) return res;
  const reader = body.getReader();
  let timer: ReturnType<typeof setInterval> | undefined;
  const stop = () => {
    clearInterval(timer);
    timer = undefined;
  };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      timer = setInterval(() => {
        try {
          controller.enqueue(PING);
        } catch {
          stop(); // already closed
        }
      }, ms);
    },
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          stop();
          controller.close();
        } else controller.enqueue(value);
      } catch (err) {
        stop();
        controller.error(err);
      }
    },
    cancel(reason) {
      stop();
      return reader.cancel(reason);
    },
  });
  return new Response(stream, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
}

function isEventStream(req: Request, res: Response): boolean {
  return req.method === "GET" && res.status === 200 &&
    (res.headers.get("content-type") ?? "").startsWith("text/event-stream");
}

/** The path of an absolute URL as written (no query or fragment), without parsing it. */
export function rawPath(url: string): string {
  const from = url.indexOf("//") + 2;
  let start = from;
  while (start < url.length && url[start] !== "/" && url[start] !== "?" && url[start] !== "#") {
    start++;
  }
  if (url[start] !== "/") return "/";
  let end = url.length;
  const query = url.indexOf("?", start);
  if (query >= 0) end = query;
  const hash = url.indexOf("#", start);
  if (hash >= 0 && hash < end) end = hash;
  return url.slice(start, end);
}

/** Probe paths answer any Host: kubelet probes may send any, and they reveal only up/ready. */
const PROBE_PATHS = new Set(["/healthz", "/health", "/readyz"]);

/** Builds the HTTP handler. */
export function createHttpHandler(opts: HttpOptions): (req: Request) => Promise<Response> {
  const path = opts.path ?? "/mcp";
  // A client can send any Host as often as it likes: one warn line a minute at most.
  const warnHostRefused = warnAtMostEvery(opts.log, 60_000);
  // Any client (before authentication) sends any Origin as often as it likes: the same.
  const warnOriginRefused = warnAtMostEvery(opts.log, 60_000);
  // Rebuilt when a reload brings a new config.
  let checkedConfig: VmcpConfig | undefined;
  let hosts: HostCheck | undefined;
  const hostCheck = (): HostCheck => {
    const config = opts.runtime.config;
    if (hosts && checkedConfig === config) return hosts;
    checkedConfig = config;
    return hosts = new HostCheck({
      listenHost: opts.listenHost ?? config.server?.host ?? "127.0.0.1",
      publicUrl: config.server?.publicUrl,
      allowedHosts: [...(config.server?.allowedHosts ?? []), ...(opts.extraAllowedHosts ?? [])],
    });
  };
  return async (req) => {
    // The MCP path as sent skips the URL parser; anything else is normalized by it.
    const raw = rawPath(req.url);
    const pathname = raw === path ? raw : new URL(req.url).pathname;
    const host = req.headers.get("host");
    if (!hostCheck().allowed(host) && !PROBE_PATHS.has(pathname)) {
      warnHostRefused("refused a request for a Host that is not allowed", {
        host: host?.slice(0, 200),
        path: pathname.slice(0, 200),
        method: req.method,
      });
      return hostRefused(host ?? "", pathname === path);
    }
    try {
      if (pathname === path) {
        const server = opts.runtime.config.server;
        const refused = checkOrigin(req, {
          listenHost: opts.listenHost ?? server?.host ?? "127.0.0.1",
          publicUrl: server?.publicUrl,
          allowedOrigins: server?.allowedOrigins,
        });
        if (refused) {
          warnOriginRefused("refused a request from a browser origin that is not allowed", {
            origin: req.headers.get("origin")?.slice(0, 200),
            method: req.method,
          });
          return refused;
        }
        const res = await opts.endpoint.handle(req);
        if (!isEventStream(req, res)) return res;
        const seconds = server?.heartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS;
        return withHeartbeat(res, seconds * 1000);
      }
      switch (pathname) {
        case "/healthz":
        case "/health":
          return json({ status: "ok" });
        case "/readyz":
          return opts.runtime.isReady ? json({ status: "ready" }) : json(
            { status: "not ready", reason: "first backend discovery has not finished" },
            503,
          );
        case "/status": {
          if (opts.authenticate) {
            const got = await opts.authenticate(req);
            if (got instanceof Response) {
              opts.runtime.audit?.authFailed(req, got, remoteAddress(req));
              return got;
            }
          }
          return json(statusDocument(opts.runtime));
        }
        case "/metrics":
          for (const [name, h] of opts.runtime.health) {
            opts.metrics.setHealth(name, h.snapshot().status);
          }
          return await opts.metrics.render();
      }
      if (pathname.startsWith("/.well-known/oauth-protected-resource")) {
        const answer = await opts.protectedResource?.(req);
        if (answer) return answer;
      }
      return json({ error: `Not found: ${pathname}; the MCP endpoint is ${path}` }, 404);
    } catch (err) {
      opts.log.error("request failed", {
        path: pathname,
        method: req.method,
        error: describeError(err),
      });
      return Response.json(
        { jsonrpc: "2.0", error: { code: -32603, message: "Internal error" }, id: null },
        { status: 500 },
      );
    }
  };
}

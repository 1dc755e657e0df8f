/**
 * The proxy's HTTP front door: `/mcp`, `/healthz`, `/readyz`, `/status`, `/metrics` and the
 * OAuth protected-resource metadata. Any error inside a handler becomes a 500 answer; the
 * process never crashes on a client's input.
 * @module
 */
import type { Logger } from "../../core/log.ts";
import { describeError } from "../backends/errors.ts";
import type { ProxyRuntime } from "../runtime.ts";
import type { McpEndpoint } from "./mcp_endpoint.ts";
import type { ProxyMetrics } from "./metrics.ts";
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
}

const json = (body: unknown, status = 200) => Response.json(body, { status });

/** Builds the `Deno.serve` handler. */
export function createHttpHandler(opts: HttpOptions): (req: Request) => Promise<Response> {
  const path = opts.path ?? "/mcp";
  return async (req) => {
    const pathname = new URL(req.url).pathname;
    try {
      if (pathname === path) return await opts.endpoint.handle(req);
      switch (pathname) {
        case "/healthz":
        case "/health":
          return json({ status: "ok" });
        case "/readyz":
          return opts.runtime.isReady ? json({ status: "ready" }) : json(
            { status: "not ready", reason: "first backend discovery has not finished" },
            503,
          );
        case "/status":
          return json(statusDocument(opts.runtime));
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

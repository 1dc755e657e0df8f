/**
 * Builds the SDK client transport for one backend: Streamable HTTP and legacy SSE go through
 * `createBackendFetch` (Deno socket-leak fix, same-origin redirects only) plus the outgoing-auth
 * headers of the connection's identity; stdio starts the backend's command with the few
 * environment variables a child needs.
 * @module
 */
import type { BackendConfig } from "../../crds/vmcp_config.ts";
import { createBackendFetch } from "../../core/http_client.ts";
import { Http1Pool } from "../../core/http1.ts";
import { SSEClientTransport, StdioClientTransport, type Transport } from "../../core/sdk.ts";
import { PooledStreamableHTTPClientTransport } from "./pooled_transport.ts";
import { telemetry } from "../telemetry/instrument.ts";

/** Supplies the outgoing-auth headers of one connection (refreshed per HTTP request). */
export type HeadersProvider = (signal?: AbortSignal) => Promise<Record<string, string>>;

/** Variables passed from our environment to every stdio child (when set). */
export const STDIO_PASS_THROUGH = [
  "PATH",
  "HOME",
  "DENO_DIR",
  "XDG_CACHE_HOME",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "NODE_EXTRA_CA_CERTS",
  "DENO_CERT",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
];

/** The environment of a stdio child: the pass-through variables, then the backend's own env. */
export function stdioChildEnv(
  own: Record<string, string> | undefined,
  getEnv: (name: string) => string | undefined = safeEnv,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of STDIO_PASS_THROUGH) {
    const value = getEnv(key);
    if (value !== undefined) env[key] = value;
  }
  return { ...env, ...own };
}

function safeEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

const baseFetch = createBackendFetch();

/**
 * A fetch that adds the connection's auth headers to every request, and (OpenTelemetry on) the
 * current backend span's `traceparent`.
 */
function authedFetch(headers: HeadersProvider | undefined, base = baseFetch) {
  if (!headers && !telemetry) return base;
  return async (url: string | URL, init?: RequestInit): Promise<Response> => {
    let extra = headers ? await headers(init?.signal ?? undefined) : {};
    if (telemetry) extra = telemetry.inject(extra)!;
    const merged = new Headers(init?.headers);
    for (const [k, v] of Object.entries(extra)) merged.set(k, v);
    return await base(url, { ...init, headers: merged });
  };
}

/**
 * Creates (but does not start) the transport for `backend`. `sessionId` (Streamable HTTP only)
 * re-attaches an existing backend session: the SDK client then skips `initialize`.
 */
export function createTransport(
  backend: BackendConfig,
  headers?: HeadersProvider,
  sessionId?: string,
): Transport {
  switch (backend.transport) {
    case "stdio":
      return new StdioClientTransport({
        command: backend.command!,
        args: backend.args ?? [],
        env: stdioChildEnv(backend.env),
        ...(backend.cwd ? { cwd: backend.cwd } : {}),
        stderr: "inherit",
      });
    case "sse":
      return new SSEClientTransport(new URL(backend.url!), { fetch: authedFetch(headers) });
    default: {
      // POSTs go through a keep-alive HTTP/1.1 pool of the transport's own, closed with it.
      const pool = new Http1Pool();
      return new PooledStreamableHTTPClientTransport(new URL(backend.url!), {
        pool,
        fetch: authedFetch(headers, createBackendFetch({ http1: pool })),
        ...(headers ? { headers } : {}),
        ...(sessionId ? { sessionId } : {}),
      });
    }
  }
}

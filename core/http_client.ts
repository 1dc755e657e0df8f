/**
 * The `fetch` vmcp gives every HTTP MCP client transport (Streamable HTTP and legacy SSE).
 *
 * 1. Deno socket leak: the SDK keeps only a reader of a long-lived GET `text/event-stream`
 *    body; once the `Response` is garbage-collected, aborting the fetch signal no longer
 *    reaches the body, the socket stays open and the process never exits. For such
 *    responses this fetch reads the body through its own reader and cancels that reader when
 *    the signal aborts (which also keeps the original response reachable).
 * 2. Redirects: credentials must never follow a redirect to another origin. Requests are sent
 *    with `redirect: "manual"` and a redirect is followed only within the same origin
 *    (scheme, host and port); any other redirect response is returned unfollowed, as with
 *    `redirect: "manual"`. A caller's own `redirect: "manual"` or `"error"` is passed through.
 * 3. Keep-alive HTTP/1.1 (`http1`): plain `http:` POSTs with a string or bytes body, to a host
 *    no proxy variable applies to, go through an `Http1Pool` (core/http1.ts; less CPU per
 *    request than Deno `fetch`). GETs (SSE streams), `https:`, proxied hosts and any other
 *    body stay on Deno `fetch`.
 * @module
 */
import { bodyBytes, type Http1Pool } from "./http1.ts";

/** The fetch signature the MCP SDK transports accept (`FetchLike`). */
export type BackendFetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

export interface BackendFetchOptions {
  /** The fetch to wrap. @default globalThis.fetch */
  fetch?: BackendFetch;
  /** Same-origin redirects followed before giving up with an error. @default 5 */
  maxRedirects?: number;
  /** Sends plain-`http:` POSTs through this pool (the caller closes it). @default none */
  http1?: Http1Pool;
  /** Reads proxy variables (HTTP_PROXY, NO_PROXY, ...). @default Deno.env.get */
  getEnv?: (name: string) => string | undefined;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Builds the fetch to pass as `fetch` to `StreamableHTTPClientTransport`/`SSEClientTransport`. */
export function createBackendFetch(opts: BackendFetchOptions = {}): BackendFetch {
  const fallback: BackendFetch = opts.fetch ?? ((url, init) => fetch(url, init));
  const pool = opts.http1;
  const proxied = pool ? proxiedHosts(opts.getEnv ?? safeEnv) : undefined;
  const base: BackendFetch = pool
    ? (url, init) => {
      const u = typeof url === "string" ? new URL(url) : url;
      return u.protocol === "http:" && init?.method === "POST" && !proxied!(u.hostname) &&
          bodyBytes(init.body) !== null
        ? pool.fetch(u, init)
        : fallback(url, init);
    }
    : fallback;
  const maxRedirects = opts.maxRedirects ?? 5;

  return async (url, init) => {
    const mode = init?.redirect ?? "follow";
    const response = mode === "follow"
      ? await fetchFollowingSameOrigin(base, url, init, maxRedirects)
      : await base(url, init);
    return guardEventStream(response, init);
  };
}

async function fetchFollowingSameOrigin(
  base: BackendFetch,
  url: string | URL,
  init: RequestInit | undefined,
  maxRedirects: number,
): Promise<Response> {
  let current = new URL(url);
  let currentInit: RequestInit = { ...init, redirect: "manual" };
  for (let followed = 0;; followed++) {
    const response = await base(current, currentInit);
    const next = sameOriginRedirect(current, currentInit, response);
    if (!next) return response;
    if (followed === maxRedirects) {
      await response.body?.cancel();
      throw new TypeError(
        `fetch ${current.origin}${current.pathname}: more than ${maxRedirects} redirects`,
      );
    }
    await response.body?.cancel();
    current = next.url;
    currentInit = next.init;
  }
}

/** The request to send next if `response` is a redirect that may be followed, else undefined. */
function sameOriginRedirect(
  from: URL,
  init: RequestInit,
  response: Response,
): { url: URL; init: RequestInit } | undefined {
  if (!REDIRECT_STATUSES.has(response.status)) return undefined;
  const location = response.headers.get("location");
  if (!location) return undefined;
  let target: URL;
  try {
    target = new URL(location, from);
  } catch {
    return undefined;
  }
  // Another origin, or userinfo smuggled into the target: never follow with our credentials.
  if (target.origin !== from.origin || target.username || target.password) return undefined;
  const method = (init.method ?? "GET").toUpperCase();
  if (response.status === 307 || response.status === 308) {
    // A streamed body cannot be sent twice.
    if (init.body instanceof ReadableStream) return undefined;
    return { url: target, init };
  }
  if (method === "GET" || method === "HEAD") return { url: target, init };
  return undefined;
}

/**
 * For a GET `text/event-stream` response fetched with a signal: returns a response whose body
 * is read through our own reader, cancelled when the signal aborts.
 */
function guardEventStream(response: Response, init: RequestInit | undefined): Response {
  const signal = init?.signal;
  const method = (init?.method ?? "GET").toUpperCase();
  const type = response.headers.get("content-type") ?? "";
  if (!signal || method !== "GET" || !response.body || !type.includes("text/event-stream")) {
    return response;
  }
  const reader = response.body.getReader();
  const onAbort = () => {
    reader.cancel(signal.reason).catch(() => {});
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          signal.removeEventListener("abort", onAbort);
          controller.close();
        } else controller.enqueue(value);
      } catch (err) {
        signal.removeEventListener("abort", onAbort);
        controller.error(err);
      }
    },
    cancel(reason) {
      signal.removeEventListener("abort", onAbort);
      return reader.cancel(reason);
    },
  });
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  const wrapped = new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  Object.defineProperty(wrapped, "url", { value: response.url });
  return wrapped;
}

function safeEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * Whether Deno `fetch` would send a plain-`http:` request to `hostname` through a proxy
 * (HTTP_PROXY / ALL_PROXY, unless NO_PROXY matches): such requests stay on `fetch`.
 */
export function proxiedHosts(
  getEnv: (name: string) => string | undefined,
): (hostname: string) => boolean {
  const proxy = getEnv("HTTP_PROXY") || getEnv("http_proxy") || getEnv("ALL_PROXY") ||
    getEnv("all_proxy");
  if (!proxy) return () => false;
  const rules = (getEnv("NO_PROXY") || getEnv("no_proxy") || "").split(/[\s,]+/)
    .map((r) => r.trim().toLowerCase()).filter(Boolean)
    .map((r) => {
      // host:port → host (a port-specific rule is treated as matching the host).
      const bracket = r.startsWith("[") ? r.indexOf("]") : -1;
      const host = bracket > 0 ? r.slice(1, bracket) : r.replace(/:\d+$/, "");
      return host.startsWith("*.") ? host.slice(1) : host;
    });
  return (hostname) => {
    const h = (hostname.startsWith("[") ? hostname.slice(1, -1) : hostname).toLowerCase();
    for (const r of rules) {
      if (r === "*" || r === h) return false;
      const suffix = r.startsWith(".") ? r : `.${r}`;
      if (h.endsWith(suffix)) return false;
    }
    return true;
  };
}

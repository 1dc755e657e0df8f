/**
 * DNS-rebinding defence of the MCP endpoint (a MUST of the Streamable HTTP transport): a request
 * carrying an `Origin` header is refused with 403 unless that origin is allowed.
 *
 * Allowed: no `Origin` header (non-browser clients send none); an origin whose host is
 * localhost / 127.0.0.1 / [::1] while the proxy listens on a loopback address; an origin on the
 * host of `server.publicUrl`; an origin listed in `server.allowedOrigins` ("*" allows any).
 * @module
 */

export interface OriginPolicy {
  /** The address the proxy listens on (e.g. "127.0.0.1", "0.0.0.0"). */
  listenHost: string;
  /** `server.publicUrl`. */
  publicUrl?: string | undefined;
  /** `server.allowedOrigins`: full origins ("https://app.example.com:8443") or "*". */
  allowedOrigins?: readonly string[] | undefined;
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/** True for localhost, 127.0.0.0/8 and ::1 (with or without brackets). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return LOOPBACK_NAMES.has(h) || /^127(\.\d{1,3}){3}$/.test(h) || h.endsWith(".localhost");
}

function hostnameOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/** The normalised origin (`scheme://host[:port]`), or undefined when `value` is not one. */
function normaliseOrigin(value: string): string | undefined {
  try {
    const u = new URL(value);
    return u.origin === "null" ? undefined : u.origin;
  } catch {
    return undefined;
  }
}

/** Whether a request with this `Origin` header value may use the MCP endpoint. */
export function originAllowed(origin: string, policy: OriginPolicy): boolean {
  const allowed = policy.allowedOrigins ?? [];
  if (allowed.includes("*")) return true;
  const normalised = normaliseOrigin(origin);
  if (!normalised) return false; // "null" (sandboxed/file pages) or garbage
  if (allowed.some((a) => normaliseOrigin(a) === normalised)) return true;
  const host = hostnameOf(normalised)!;
  if (isLoopbackHost(policy.listenHost) && isLoopbackHost(host)) return true;
  const publicHost = policy.publicUrl ? hostnameOf(policy.publicUrl) : undefined;
  return publicHost !== undefined && host === publicHost;
}

/** The 403 answer for a refused origin, or undefined when the request may go on. */
export function checkOrigin(req: Request, policy: OriginPolicy): Response | undefined {
  const origin = req.headers.get("origin");
  if (origin === null || originAllowed(origin, policy)) return undefined;
  const shown = JSON.stringify(origin.slice(0, 200));
  return Response.json({
    jsonrpc: "2.0",
    error: {
      code: -32000,
      message:
        `Forbidden: Origin ${shown} is not allowed to use this MCP endpoint (DNS-rebinding defence); allowed are requests without Origin, the server.publicUrl host, server.allowedOrigins${
          isLoopbackHost(policy.listenHost) ? " and localhost origins" : ""
        }`,
    },
    id: null,
  }, { status: 403 });
}

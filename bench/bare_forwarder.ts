/**
 * The floor of any proxy on this runtime: `Deno.serve` in front, the same keep-alive HTTP/1.1
 * pool as vmcp's behind (core/http1.ts), and nothing else — no MCP, no sessions, no auth, no
 * JSON parsing. It relays each POST's bytes to one backend URL (copying the MCP session and
 * protocol headers both ways) and GET/DELETE through `fetch`. The `tools_call` scenario
 * measures it beside vmcp so that the cost of one extra HTTP hop on the machine at hand is in
 * the same table. Never a product path.
 *
 *   deno run -A bench/bare_forwarder.ts PORT BACKEND_URL
 * @module
 */
import { Http1Pool, rawHeader } from "../core/http1.ts";
import { encodeJsonPost, jsonPostPrefix } from "../core/http1_wire.ts";

/** Serves the forwarder on 127.0.0.1:`port` until `signal` aborts. */
export function serveBareForwarder(
  port: number,
  backend: string,
  signal?: AbortSignal,
): Deno.HttpServer {
  const url = new URL(backend);
  const pool = new Http1Pool();
  const prefix = jsonPostPrefix(url);
  signal?.addEventListener("abort", () => pool.close());
  return Deno.serve(
    { port, hostname: "127.0.0.1", onListen() {}, ...(signal ? { signal } : {}) },
    async (req) => {
      if (req.method !== "POST") {
        return await fetch(url, { method: req.method, headers: req.headers, signal: req.signal });
      }
      const body = await req.text();
      const extra: Record<string, string> = {};
      const session = req.headers.get("mcp-session-id");
      if (session) extra["mcp-session-id"] = session;
      const version = req.headers.get("mcp-protocol-version");
      if (version) extra["mcp-protocol-version"] = version;
      const raw = await pool.send(
        url,
        "POST",
        encodeJsonPost(prefix, extra, body, "vmcp-bench-floor"),
        undefined,
      );
      const headers: Record<string, string> = {};
      for (const name of ["content-type", "mcp-session-id"]) {
        const value = rawHeader(raw, name);
        if (value) headers[name] = value;
      }
      return new Response(raw.body as BodyInit | null, { status: raw.status, headers });
    },
  );
}

if (import.meta.main) {
  const [port, backend] = Deno.args;
  if (!port || !backend) throw new Error("usage: bare_forwarder.ts PORT BACKEND_URL");
  serveBareForwarder(Number(port), backend);
}

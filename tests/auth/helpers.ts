/**
 * Shared helpers of the auth integration tests: a real proxy with auth wired from its config
 * (`createProxyAuth`), SDK clients that present a bearer token, and a log capture.
 * @module
 */
import type { VmcpConfig, VmcpConfigInput } from "../../crds/vmcp_config.ts";
import { Client, StreamableHTTPClientTransport } from "../../core/sdk.ts";
import { createBackendFetch } from "../../core/http_client.ts";
import { createLogger, type Logger } from "../../core/log.ts";
import { createProxyAuth, type ProxyAuth, type ProxyAuthDeps } from "../../proxy/auth_wiring.ts";
import type { RunningProxy, StartOptions } from "../../proxy/serve.ts";
import { proxy } from "../proxy/helpers.ts";
import { statusDocument } from "../../proxy/server/status.ts";

export { config, post, waitFor } from "../proxy/helpers.ts";

/** A debug logger whose lines are kept in `lines` (and can be searched). */
export function captureLog(): { log: Logger; lines: string[]; text(): string } {
  const lines: string[] = [];
  return {
    log: createLogger({ level: "debug", sink: (l) => lines.push(l) }),
    lines,
    text: () => lines.join("\n"),
  };
}

/** Incoming OIDC auth for tokens of `issuer` with audience `vmcp`. */
export function oidcIncoming(issuer: string): VmcpConfigInput["incomingAuth"] {
  return { type: "oidc", oidcConfig: { type: "inline", inline: { issuer, audience: "vmcp" } } };
}

export interface AuthProxy {
  proxy: RunningProxy;
  auth: ProxyAuth;
  url: string;
  /** `http://127.0.0.1:PORT` */
  origin: string;
  status(): Promise<{ backends: { name: string; status: string; message?: string }[] }>;
  stop(): Promise<void>;
}

/** Starts a real proxy on loopback with auth built from `cfg` and waits for discovery. */
export async function authProxy(
  cfg: VmcpConfig,
  opts: { log?: Logger; deps?: ProxyAuthDeps; start?: Partial<StartOptions> } = {},
): Promise<AuthProxy> {
  const log = opts.log ?? createLogger({ level: "error", sink: () => {} });
  const auth = createProxyAuth(cfg, log, opts.deps);
  let p: RunningProxy;
  try {
    p = await proxy(cfg, { log, ...auth.startOptions, ...opts.start });
  } catch (err) {
    await auth.close();
    throw err;
  }
  const origin = new URL(p.url).origin;
  return {
    proxy: p,
    auth,
    url: p.url,
    origin,
    // In-process: with incoming auth on, GET /status asks for a token (proxy/server/http.ts).
    status: () => Promise.resolve(statusDocument(p.runtime)),
    stop: async () => {
      await p.stop();
      await auth.close();
    },
  };
}

/** What the proxy answered to the client's HTTP requests (status and headers). */
export interface Seen {
  status: number;
  headers: Headers;
}

export interface TokenClient {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** Every HTTP answer the client received, oldest first. */
  seen: Seen[];
  /** Presents another token from now on (same session). */
  setToken(token: string | undefined): void;
  close(): Promise<void>;
}

/** An SDK client that sends `Authorization: Bearer <token>` (none when undefined). */
export function tokenClient(url: string, token: string | undefined): TokenClient {
  let current = token;
  const seen: Seen[] = [];
  const base = createBackendFetch();
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: async (u, init) => {
      const headers = new Headers(init?.headers);
      if (current !== undefined) headers.set("authorization", `Bearer ${current}`);
      else headers.delete("authorization");
      const res = await base(u, { ...init, headers });
      seen.push({ status: res.status, headers: res.headers });
      return res;
    },
  });
  const client = new Client({ name: "auth-test-client", version: "1.0.0" });
  return {
    client,
    transport,
    seen,
    setToken: (t) => (current = t),
    close: async () => {
      await transport.terminateSession().catch(() => {});
      await client.close();
    },
  };
}

/** Connects a `tokenClient`; rejects like `Client.connect` when the proxy refuses it. */
export async function connectWithToken(url: string, token: string | undefined) {
  const c = tokenClient(url, token);
  try {
    await c.client.connect(c.transport);
  } catch (err) {
    await c.client.close().catch(() => {});
    throw Object.assign(err as Error, { seen: c.seen });
  }
  return c;
}

/** Calls `<prefix>_whoami`-style echo and returns the structured content. */
export async function echo(c: TokenClient, tool: string, message = "hi") {
  const r = await c.client.callTool({ name: tool, arguments: { message } });
  return r.structuredContent as Record<string, unknown>;
}

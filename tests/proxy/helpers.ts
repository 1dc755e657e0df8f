/**
 * Shared helpers of the proxy integration tests: configs, an SDK client connected to the
 * proxy, and polling.
 * @module
 */
import { type VmcpConfig, type VmcpConfigInput, VmcpConfigSchema } from "../../crds/vmcp_config.ts";
import { Client, StreamableHTTPClientTransport } from "../../core/sdk.ts";
import { createBackendFetch } from "../../core/http_client.ts";
import { type RunningProxy, type StartOptions, startProxy } from "../../proxy/serve.ts";
import { everythingServerCommand } from "../fixtures/everything.ts";

/** Parses a config input with the real schema (defaults applied). */
export function config(
  input: Partial<VmcpConfigInput> & { backends: VmcpConfigInput["backends"] },
): VmcpConfig {
  return VmcpConfigSchema.parse({ name: "test-vmcp", groupRef: { name: "g" }, ...input });
}

/**
 * `operational` for tests that kill and restart backends: health checks every second (the
 * smallest interval the schema accepts), unhealthy after 2 failures, `best_effort`. A killed backend refuses connections, so it is
 * noticed within a few checks however long the timeouts are; the call (30 s) and check (10 s)
 * timeouts are generous so that a live backend on a busy machine is never taken for dead.
 */
export const FAST_FAILOVER = {
  timeouts: { default: "30s" },
  failureHandling: {
    healthCheckInterval: "1s",
    healthCheckTimeout: "10s",
    unhealthyThreshold: 2,
    partialFailureMode: "best_effort" as const,
  },
};

/** Starts the proxy on a free loopback port and waits for the first discovery. */
export async function proxy(
  cfg: VmcpConfig,
  opts: Partial<StartOptions> = {},
): Promise<RunningProxy> {
  const p = await startProxy({ config: cfg, host: "127.0.0.1", port: 0, ...opts });
  await p.ready;
  return p;
}

/**
 * A proxy in front of the third-party server-everything as backend "every": over stdio (its own
 * processes) or, given its `url`, over Streamable HTTP; backend calls time out after 60 s.
 */
export function proxyBeforeEverything(url?: string): Promise<RunningProxy> {
  const every = url
    ? { name: "every", transport: "streamable-http" as const, url }
    : { name: "every", transport: "stdio" as const, ...everythingServerCommand() };
  return proxy(config({ operational: { timeouts: { default: "60s" } }, backends: [every] }));
}

export interface Connected {
  client: Client;
  transport: StreamableHTTPClientTransport;
  close(): Promise<void>;
}

/** An SDK client connected to `url` (capabilities as given). */
export async function connect(
  url: string,
  capabilities: ConstructorParameters<typeof Client>[1] = {},
): Promise<Connected> {
  const client = new Client({ name: "test-client", version: "1.0.0" }, capabilities);
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: createBackendFetch(),
  });
  await client.connect(transport);
  return {
    client,
    transport,
    close: async () => {
      await transport.terminateSession().catch(() => {});
      await client.close();
    },
  };
}

/**
 * How long tests wait for something that should happen: generous, since it only costs time when
 * the test fails anyway, and a busy machine may be many times slower than an idle one.
 */
export const PATIENCE_MS = 30_000;

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  timeoutMs = PATIENCE_MS,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Raw JSON-RPC POST to the proxy (for bad-input tests). */
export async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
    body,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return {
    status: res.status,
    json: json as { error?: { code: number; message: string } },
    text,
    headers: res.headers,
  };
}

/** An HTTP server that accepts requests and never answers them (until stopped). */
export function hungServer(): { url: string; stop(): Promise<void> } {
  const abort = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: abort.signal,
    onListen: () => {},
  }, () =>
    new Promise<Response>((resolve) => {
      abort.signal.addEventListener("abort", () => resolve(new Response("gone", { status: 503 })), {
        once: true,
      });
    }));
  return {
    url: `http://127.0.0.1:${server.addr.port}/mcp`,
    stop: async () => {
      abort.abort();
      await server.finished;
    },
  };
}

/**
 * A TCP forwarder on a fixed loopback port: `kill()` closes the listener and every
 * connection (like a crashed backend), `restart(port)` listens again on the same port and
 * forwards to a (new) target.
 */
export class Forwarder {
  #listener: Deno.TcpListener | undefined;
  #conns = new Set<Deno.Conn>();
  readonly port: number;
  constructor(public target: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = this.#listener.addr.port;
    this.#accept(this.#listener);
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}/mcp`;
  }
  async #accept(listener: Deno.TcpListener) {
    try {
      for await (const conn of listener) {
        this.#conns.add(conn);
        Deno.connect({ hostname: "127.0.0.1", port: this.target }).then((up) => {
          this.#conns.add(up);
          const done = () => {
            for (const c of [conn, up]) {
              this.#conns.delete(c);
              try {
                c.close();
              } catch { /* closed */ }
            }
          };
          conn.readable.pipeTo(up.writable).catch(() => {}).finally(done);
          up.readable.pipeTo(conn.writable).catch(() => {}).finally(done);
        }, () => {
          // The target is down; `kill()` may have closed this connection already.
          this.#conns.delete(conn);
          try {
            conn.close();
          } catch { /* closed */ }
        });
      }
    } catch { /* listener closed */ }
  }
  kill(): void {
    this.#listener?.close();
    this.#listener = undefined;
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    this.#conns.clear();
  }
  restart(target: number): void {
    this.target = target;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: this.port });
    this.#accept(this.#listener);
  }
}

/** Port of a `http://127.0.0.1:PORT/...` URL. */
export const portOf = (url: string): number => Number(new URL(url).port);

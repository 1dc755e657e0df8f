/**
 * Closed-loop MCP load generator: N concurrent SDK `Client` sessions against one Streamable
 * HTTP URL, each issuing its next request as soon as the previous one answers. Bounded in
 * count and in time; warm-up requests are not measured; loopback targets only.
 * @module
 */

import {
  CallToolResultSchema,
  Client,
  ClientV2,
  ListToolsResultSchema,
  StreamableHTTPClientTransport,
  StreamableHTTPClientTransportV2,
} from "../core/sdk.ts";
import { createBackendFetch } from "../core/http_client.ts";
import { type LatencyStats, summarize } from "./stats.ts";

/** One measured operation on a connected client. */
export type Operation = (client: Client, seq: number) => Promise<unknown>;

/**
 * Which client library and protocol era the load generator speaks: the v1 SDK (2025-11-25,
 * sessions), or the v2 SDK either in its `legacy` mode (2025-11-25) or pinned to 2026-07-28
 * (stateless). A v2 baseline and a v2 subject share the client library, so their ratio holds
 * no difference in client cost.
 */
export type LoadClient = "v1" | "v2-legacy" | "v2-modern";

export interface LoadOptions {
  /** MCP endpoint; must be on the loopback interface. */
  url: string;
  /** Concurrent sessions (one SDK client each), each with one request in flight. */
  concurrency: number;
  /** Measured operations in total (across all sessions). */
  calls: number;
  /** Unmeasured operations in total before measuring. @default calls / 10 */
  warmup?: number;
  /** Upper bound of the measured phase in seconds. @default 30 */
  maxSeconds?: number;
  /** The operation (v1 clients). @default tools/call of `echo` */
  op?: Operation;
  /** Client library and era. @default "v1" */
  client?: LoadClient;
  /** The tool `tools/call` calls when `client` is a v2 one. @default "echo" */
  v2Tool?: string;
  /** Per-request timeout in ms. @default 10000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/** Throws unless `url` points at the loopback interface (the bench never loads anything else). */
export function assertLoopback(url: string): void {
  const host = new URL(url).hostname;
  if (!LOOPBACK.has(host) && !host.startsWith("127.")) {
    throw new Error(`load target url "${url}": host "${host}" is not loopback (127.0.0.0/8, ::1)`);
  }
}

/** Opens one SDK client session (initialize + initialized) against `url`. */
export async function connectClient(
  url: string,
  name = "vmcp-bench",
  timeoutMs = 30_000,
): Promise<Client> {
  assertLoopback(url);
  const client = new Client({ name, version: "1.0.0" }, { capabilities: {} });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: createBackendFetch(),
  });
  await client.connect(transport, { timeout: timeoutMs });
  return client;
}

/** Opens one v2 SDK client against `url`: legacy handshake, or pinned to 2026-07-28. */
export async function connectClientV2(
  url: string,
  mode: "legacy" | "modern",
  timeoutMs = 30_000,
): Promise<InstanceType<typeof ClientV2>> {
  assertLoopback(url);
  const client = new ClientV2({ name: "vmcp-bench", version: "1.0.0" }, {
    versionNegotiation: { mode: mode === "modern" ? { pin: "2026-07-28" } : "legacy" },
  });
  const transport = new StreamableHTTPClientTransportV2(new URL(url), {
    fetch: createBackendFetch(),
  });
  await client.connect(transport, { timeout: timeoutMs });
  return client;
}

/** Ends the session (DELETE) and closes the client; never throws. */
export async function closeClient(client: Client): Promise<void> {
  const transport = client.transport as StreamableHTTPClientTransport | undefined;
  await transport?.terminateSession().catch(() => {});
  await client.close().catch(() => {});
}

/** `tools/call` of `tool` with a distinct argument on every request. */
export function callTool(tool: string, timeoutMs = 10_000): Operation {
  return (client, seq) =>
    client.request(
      { method: "tools/call", params: { name: tool, arguments: { message: `m${seq}` } } },
      CallToolResultSchema,
      { timeout: timeoutMs },
    );
}

/** `tools/list` (first page). */
export function listTools(timeoutMs = 10_000): Operation {
  return (client) =>
    client.request({ method: "tools/list", params: {} }, ListToolsResultSchema, {
      timeout: timeoutMs,
    });
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Runs the closed loop and returns latency percentiles and throughput of the measured phase. */
export async function runLoad(opts: LoadOptions): Promise<LatencyStats> {
  if (opts.client && opts.client !== "v1") return await runLoadV2(opts, opts.client);
  return await closedLoop(
    opts,
    () => connectClient(opts.url),
    opts.op ?? callTool("echo", opts.timeoutMs),
    closeClient,
  );
}

async function runLoadV2(opts: LoadOptions, kind: "v2-legacy" | "v2-modern") {
  type C = InstanceType<typeof ClientV2>;
  const tool = opts.v2Tool ?? "echo";
  const timeout = opts.timeoutMs ?? 10_000;
  return await closedLoop<C>(
    opts,
    () => connectClientV2(opts.url, kind === "v2-modern" ? "modern" : "legacy"),
    (c, seq) => c.callTool({ name: tool, arguments: { message: `m${seq}` } }, { timeout }),
    async (c) => {
      const t = c.transport as InstanceType<typeof StreamableHTTPClientTransportV2> | undefined;
      if (kind === "v2-legacy") await t?.terminateSession().catch(() => {});
      await c.close().catch(() => {});
    },
  );
}

async function closedLoop<C>(
  opts: LoadOptions,
  open: () => Promise<C>,
  op: (client: C, seq: number) => Promise<unknown>,
  close: (client: C) => Promise<void>,
): Promise<LatencyStats> {
  const warmup = opts.warmup ?? Math.ceil(opts.calls / 10);
  const maxMs = (opts.maxSeconds ?? 30) * 1000;
  const clients = await mapLimit(
    Array.from({ length: opts.concurrency }, (_, i) => i),
    16,
    () => open(),
  );
  try {
    let seq = 0;
    // Warm-up: same loop, unmeasured, bounded by count and by the same time limit.
    let warm = 0;
    const warmEnd = performance.now() + maxMs;
    await Promise.all(clients.map(async (c) => {
      while (warm < warmup && performance.now() < warmEnd && !opts.signal?.aborted) {
        warm++;
        await op(c, seq++).catch(() => {});
      }
    }));

    const samples: number[] = [];
    let issued = 0;
    let errors = 0;
    const maxErrors = Math.max(10, Math.ceil(opts.calls / 10));
    const start = performance.now();
    const deadline = start + maxMs;
    await Promise.all(clients.map(async (c) => {
      while (
        issued < opts.calls && errors < maxErrors && performance.now() < deadline &&
        !opts.signal?.aborted
      ) {
        issued++;
        const t0 = performance.now();
        try {
          await op(c, seq++);
          samples.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }));
    return summarize(samples, errors, (performance.now() - start) / 1000);
  } finally {
    await Promise.all(clients.map(close));
  }
}

/**
 * Closed-loop MCP load generator: N concurrent SDK `Client` sessions against one Streamable
 * HTTP URL, each issuing its next request as soon as the previous one answers. Bounded in
 * count and in time; warm-up requests are not measured; loopback targets only.
 * @module
 */

import {
  CallToolResultSchema,
  Client,
  ListToolsResultSchema,
  StreamableHTTPClientTransport,
} from "../core/sdk.ts";
import { createBackendFetch } from "../core/http_client.ts";
import { type LatencyStats, summarize } from "./stats.ts";

/** One measured operation on a connected client. */
export type Operation = (client: Client, seq: number) => Promise<unknown>;

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
  /** The operation. @default tools/call of `echo` */
  op?: Operation;
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
  const op = opts.op ?? callTool("echo", opts.timeoutMs);
  const warmup = opts.warmup ?? Math.ceil(opts.calls / 10);
  const maxMs = (opts.maxSeconds ?? 30) * 1000;
  const clients = await mapLimit(
    Array.from({ length: opts.concurrency }, (_, i) => i),
    16,
    () => connectClient(opts.url),
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
    await Promise.all(clients.map(closeClient));
  }
}

/**
 * Closed-loop `tools/call` load over raw HTTP, for both protocol eras at the same client cost
 * (issue #16, ADR 0010 step 7). The SDK clients of the two eras cost different CPU in the load
 * generator, which shares the machine with the proxy; this client costs the same for both:
 *
 * - one keep-alive HTTP/1.1 connection per virtual client (`Http1Pool`, one idle socket);
 * - request bytes from a head built once per virtual client (`jsonPostPrefix`) and a body built
 *   by concatenating fixed text around the request id and a distinct argument `m<seq>`;
 * - the answer is checked by one substring search for `"result"` and the echoed argument.
 *
 * `legacy` (2025-11-25): a session opened once per virtual client (`initialize` +
 * `notifications/initialized`, bench/raw_session.ts) and its standalone GET stream held open (as
 * SDK clients do; vmcp's JSON fast path serves only such sessions), then POSTs with
 * `Mcp-Session-Id`. `modern` (2026-07-28): no session; each body carries the `_meta` envelope and
 * each head `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name`.
 *
 * With `pid`, the CPU time of that process over the measured phase only (no session setup, no
 * warm-up) comes back with the stats.
 * @module
 */

import { Http1Pool } from "../core/http1.ts";
import { encodeJsonPost, jsonPostPrefix } from "../core/http1_wire.ts";
import { assertLoopback, mapLimit } from "./load.ts";
import { readProc } from "./procstat.ts";
import { openRawSession, PROTOCOL_VERSION } from "./raw_session.ts";
import { type LatencyStats, summarize } from "./stats.ts";

export type RawEra = "legacy" | "modern";

export const MODERN_VERSION = "2026-07-28";
const USER_AGENT = "vmcp-bench-raw";

export interface RawLoadOptions {
  /** MCP endpoint; must be on the loopback interface. */
  url: string;
  era: RawEra;
  /** The tool called (with `{ message: "m<seq>" }`). */
  tool: string;
  concurrency: number;
  /** Measured calls in total. */
  calls: number;
  /** Unmeasured calls in total before measuring. @default calls / 10 */
  warmup?: number;
  /** Upper bound of each phase in seconds. @default 30 */
  maxSeconds?: number;
  /** A process whose CPU time over the measured phase is reported (the proxy). */
  pid?: number;
  signal?: AbortSignal;
}

export interface RawLoadResult extends LatencyStats {
  /** CPU seconds of `pid` over the measured phase (undefined without `pid`). */
  cpuSeconds?: number;
  /** The first failure, for the report. */
  firstError?: string;
}

/** One virtual client: its connection, its pre-built head and body halves. */
interface VirtualClient {
  pool: Http1Pool;
  prefix: string;
  /** Body text before the id, between id and argument, after the argument. */
  parts: [string, string, string];
  close(): Promise<void>;
}

const decoder = new TextDecoder();

/** The request body halves of one era (the id and `m<seq>` go between them). */
export function bodyParts(era: RawEra, tool: string): [string, string, string] {
  const name = JSON.stringify(tool);
  const meta = era === "modern"
    ? `,"_meta":{"io.modelcontextprotocol/protocolVersion":"${MODERN_VERSION}",` +
      `"io.modelcontextprotocol/clientCapabilities":{},` +
      `"io.modelcontextprotocol/clientInfo":{"name":"vmcp-bench","version":"1.0.0"}}`
    : "";
  return [
    `{"jsonrpc":"2.0","id":`,
    `,"method":"tools/call","params":{"name":${name},"arguments":{"message":"`,
    `"}${meta}}}`,
  ];
}

/** `Mcp-Name` of a tool name (`=?base64?…?=` unless printable ASCII). */
function mcpName(tool: string): string {
  if (/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(tool)) return tool;
  const bytes = new TextEncoder().encode(tool);
  return `=?base64?${btoa(String.fromCharCode(...bytes))}?=`;
}

async function openClient(url: URL, era: RawEra, tool: string): Promise<VirtualClient> {
  const pool = new Http1Pool({ maxIdlePerOrigin: 1 });
  const parts = bodyParts(era, tool);
  if (era === "modern") {
    const prefix = jsonPostPrefix(url, {
      "mcp-protocol-version": MODERN_VERSION,
      "mcp-method": "tools/call",
      "mcp-name": mcpName(tool),
    });
    return { pool, prefix, parts, close: () => Promise.resolve(pool.close()) };
  }
  const session = await openRawSession(url.href);
  const headers = { "mcp-session-id": session, "mcp-protocol-version": PROTOCOL_VERSION };
  // The standalone GET stream SDK clients hold (server-initiated messages would arrive on it).
  const stream = await fetch(url, {
    headers: { ...headers, accept: "text/event-stream" },
  });
  if (!stream.ok) {
    await stream.body?.cancel();
    pool.close();
    throw new Error(`GET stream on ${url.href}: HTTP ${stream.status}`);
  }
  return {
    pool,
    prefix: jsonPostPrefix(url, headers),
    parts,
    async close() {
      pool.close();
      await stream.body?.cancel().catch(() => {});
      const del = await fetch(url, { method: "DELETE", headers }).catch(() => undefined);
      await del?.body?.cancel().catch(() => {});
    },
  };
}

/** One call: undefined on success, else what went wrong. */
async function call(
  url: URL,
  c: VirtualClient,
  seq: number,
  signal: AbortSignal,
): Promise<string | undefined> {
  const arg = `m${seq}`;
  const body = c.parts[0] + seq + c.parts[1] + arg + c.parts[2];
  const raw = await c.pool.send(
    url,
    "POST",
    encodeJsonPost(c.prefix, undefined, body, USER_AGENT),
    signal,
  );
  const text = raw.body instanceof Uint8Array
    ? decoder.decode(raw.body)
    : raw.body
    ? await new Response(raw.body).text()
    : "";
  if (raw.status !== 200 || !text.includes('"result"') || !text.includes(`"${arg}"`)) {
    return `HTTP ${raw.status}: ${text.slice(0, 300)}`;
  }
  return undefined;
}

/** Runs the closed loop; latency percentiles, throughput and (with `pid`) CPU of the phase. */
export async function runRawLoad(opts: RawLoadOptions): Promise<RawLoadResult> {
  assertLoopback(opts.url);
  const url = new URL(opts.url);
  const warmup = opts.warmup ?? Math.ceil(opts.calls / 10);
  const maxMs = (opts.maxSeconds ?? 30) * 1000;
  // One watchdog for every request (no per-request timer): ends hung calls past both phases.
  const watchdog = new AbortController();
  const timer = setTimeout(
    () => watchdog.abort(new Error("raw load: out of time")),
    2 * maxMs + 30_000,
  );
  const onAbort = () => watchdog.abort(opts.signal?.reason);
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  const clients = await mapLimit(
    Array.from({ length: opts.concurrency }, (_, i) => i),
    16,
    () => openClient(url, opts.era, opts.tool),
  );
  let firstError: string | undefined;
  try {
    let seq = 0;
    let warm = 0;
    const warmEnd = performance.now() + maxMs;
    await Promise.all(clients.map(async (c) => {
      while (warm < warmup && performance.now() < warmEnd && !watchdog.signal.aborted) {
        warm++;
        await call(url, c, seq++, watchdog.signal).catch(() => {});
      }
    }));
    const samples: number[] = [];
    let issued = 0;
    let errors = 0;
    const maxErrors = Math.max(10, Math.ceil(opts.calls / 10));
    const before = opts.pid === undefined ? undefined : await readProc(opts.pid);
    const start = performance.now();
    const deadline = start + maxMs;
    await Promise.all(clients.map(async (c) => {
      while (
        issued < opts.calls && errors < maxErrors && performance.now() < deadline &&
        !watchdog.signal.aborted
      ) {
        issued++;
        const t0 = performance.now();
        let failed: string | undefined;
        try {
          failed = await call(url, c, seq++, watchdog.signal);
        } catch (err) {
          failed = err instanceof Error ? err.message : String(err);
        }
        if (failed === undefined) samples.push(performance.now() - t0);
        else {
          errors++;
          firstError ??= failed;
        }
      }
    }));
    const seconds = (performance.now() - start) / 1000;
    const after = opts.pid === undefined ? undefined : await readProc(opts.pid);
    return {
      ...summarize(samples, errors, seconds),
      ...(before && after ? { cpuSeconds: after.cpuSeconds - before.cpuSeconds } : {}),
      ...(firstError ? { firstError } : {}),
    };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
    await Promise.all(clients.map((c) => c.close()));
  }
}

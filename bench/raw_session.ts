/**
 * Cheap MCP sessions for the idle-session scenario: a raw `fetch` POST of `initialize` and
 * then `notifications/initialized`, without an SDK client (10,000 SDK clients would measure
 * the load generator, not the proxy).
 * @module
 */

import { assertLoopback } from "./load.ts";

export const PROTOCOL_VERSION = "2025-11-25";

const HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};

/** Opens one session on `url` and leaves it idle; resolves to its `mcp-session-id`. */
export async function openRawSession(url: string, signal?: AbortSignal): Promise<string> {
  const init = await fetch(url, {
    method: "POST",
    headers: HEADERS,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: "vmcp-bench-idle", version: "1.0.0" },
      },
    }),
    signal,
  });
  const body = await init.text();
  const session = init.headers.get("mcp-session-id");
  if (!init.ok || !session || !body.includes('"result"')) {
    throw new Error(`initialize on ${url}: HTTP ${init.status}, session ${session}: ${body}`);
  }
  const note = await fetch(url, {
    method: "POST",
    headers: {
      ...HEADERS,
      "mcp-session-id": session,
      "mcp-protocol-version": PROTOCOL_VERSION,
    },
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
    signal,
  });
  await note.body?.cancel();
  if (!note.ok) throw new Error(`notifications/initialized on ${url}: HTTP ${note.status}`);
  return session;
}

/** Opens `count` sessions with `parallel` in flight; latencies (ms) of each and the errors. */
export async function openRawSessions(
  url: string,
  count: number,
  parallel: number,
  signal?: AbortSignal,
): Promise<{ latencies: number[]; errors: number; firstError?: string; seconds: number }> {
  assertLoopback(url);
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < count && !signal?.aborted && errors <= Math.max(20, count / 20)) {
      next++;
      const t0 = performance.now();
      try {
        await openRawSession(url, signal);
        latencies.push(performance.now() - t0);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  }));
  return {
    latencies,
    errors,
    ...(firstError ? { firstError } : {}),
    seconds: (performance.now() - start) / 1000,
  };
}

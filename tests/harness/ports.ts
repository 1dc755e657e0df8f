/**
 * Free loopback TCP ports for test services.
 *
 * The port is found by binding port 0 on 127.0.0.1 and closing the listener again, so another
 * process could in theory take it before the caller binds it; the window is tiny and the
 * harness retries service start-up where that matters.
 */

/** Returns one TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  return freePorts(1)[0]!;
}

/**
 * Returns `count` distinct TCP ports on 127.0.0.1. All listeners are held open until every
 * port is chosen, so the ports are distinct from each other.
 */
export function freePorts(count: number): number[] {
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`freePorts: count must be a positive integer, got ${count}`);
  }
  const listeners: Deno.TcpListener[] = [];
  try {
    for (let i = 0; i < count; i++) {
      listeners.push(Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" }));
    }
    return listeners.map((l) => l.addr.port);
  } finally {
    for (const l of listeners) l.close();
  }
}

/**
 * Resolves once something accepts TCP connections on 127.0.0.1:`port`, or rejects after
 * `timeoutMs` (or when `signal` aborts).
 */
export async function waitForPort(
  port: number,
  timeoutMs = 30_000,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(
    `waitForPort: nothing accepted connections on 127.0.0.1:${port} within ${timeoutMs} ms` +
      (lastError instanceof Error ? ` (last error: ${lastError.message})` : ""),
  );
}

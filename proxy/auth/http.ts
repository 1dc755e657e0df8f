/**
 * `fetch` with a deadline and the caller's abort signal, for auth round-trips.
 * @module
 */

/** The `fetch` signature the auth modules accept (injectable in tests). */
export type FetchFn = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * Fetches and reads the whole body as text within `timeoutMs` (the timer is always
 * cleared, so tests keep their sanitizers). Aborts when `signal` aborts.
 */
export async function fetchText(
  fetchFn: FetchFn,
  url: string,
  init: RequestInit,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ status: number; headers: Headers; body: string }> {
  const ac = new AbortController();
  const timer = setTimeout(
    () => ac.abort(new DOMException(`timed out after ${timeoutMs} ms`, "TimeoutError")),
    timeoutMs,
  );
  const onAbort = () => ac.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const res = await fetchFn(url, { ...init, signal: ac.signal });
    const body = await res.text();
    return { status: res.status, headers: res.headers, body };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

/** A short, secret-free description of a fetch failure. */
export function describeFetchError(err: unknown): string {
  if (err instanceof DOMException && err.name === "TimeoutError") return err.message;
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 200);
  return String(err).slice(0, 200);
}

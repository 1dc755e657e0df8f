/**
 * When a Streamable HTTP backend session's standalone GET stream is open. A backend may ask its
 * client something on that stream as soon as the session is initialized (server-everything asks
 * for roots then, and from inside a tool call with `listRoots()`), and an SDK server drops a
 * standalone message while no GET stream is open: a request sent before vmcp's stream is up is
 * never answered, and the call waiting on it hangs until its deadline (issue #17 item 4).
 * `BackendConnection.connect` of a client session's own connection therefore waits for it
 * (one round trip at the session's first use of the backend; at most `LISTEN_WAIT_MS`).
 * @module
 */
import type { Transport } from "../../core/sdk.ts";

type SseStarter = (options: unknown) => Promise<void>;

/**
 * Watches `transport`'s first GET stream opening (the SDK starts it after
 * `notifications/initialized` is accepted). The returned function resolves once it is open,
 * refused (405: the backend has none) or failed, or at once when the transport opens none.
 */
export function watchListenStream(transport: Transport): () => Promise<void> {
  const t = transport as unknown as { _startOrAuthSse?: SseStarter };
  const start = t._startOrAuthSse;
  if (typeof start !== "function") return () => Promise.resolve();
  let first: Promise<void> | undefined;
  t._startOrAuthSse = function (this: unknown, options: unknown) {
    const p = start.call(this, options);
    if (!first) {
      first = p;
      t._startOrAuthSse = start; // as before for reconnections
    }
    return p;
  };
  return () => first ? first.catch(() => {}) : Promise.resolve();
}

/** A GET stream that has not opened after this long is not waited for any more. */
export const LISTEN_WAIT_MS = 5000;

/**
 * Resolves when `p` settles or after `ms` (a backend whose GET answer never comes is not a reason
 * to fail the connection); rejects with `signal`'s reason when it aborts first.
 */
export function settledWithin(p: Promise<unknown>, ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(done, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve();
    }
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(done, done);
  });
}

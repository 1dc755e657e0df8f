/**
 * Polling for tests against real processes: `until(what, f)` calls `f` every 200 ms until it
 * returns a truthy value (errors count as "not yet"), and fails naming `what` and the last
 * error after `ms`.
 * @module
 */
export async function until<T>(
  what: string,
  f: () => Promise<T | undefined | false>,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}

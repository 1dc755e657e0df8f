/**
 * How many `auth_failed` events each client host gets (auditor.ts): a burst of
 * `AUTH_FAILED_BURST`, then one per `AUTH_FAILED_EVERY_MS`; the failures in between are not
 * written one by one but counted in the host's next event (`suppressed`), so a client hammering
 * the front door with bad tokens cannot flood the audit output (nor crowd out other events in
 * its bounded buffer). At most `AUTH_FAILED_HOSTS` hosts are tracked (least recently seen
 * dropped).
 * @module
 */

export const AUTH_FAILED_BURST = 20;
export const AUTH_FAILED_EVERY_MS = 1000;
export const AUTH_FAILED_HOSTS = 10_000;

interface HostFailures {
  tokens: number;
  at: number;
  suppressed: number;
}

export class AuthFailureBudget {
  readonly #hosts = new Map<string, HostFailures>();
  readonly #now: () => number;

  /** `now`: milliseconds (a clock for tests). @default Date.now */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /**
   * Whether an `auth_failed` event of `host` is written now: -1 when not (counted instead),
   * else how many of its failures were not written since its last event.
   */
  take(host: string): number {
    const now = this.#now();
    const hosts = this.#hosts;
    let h = hosts.get(host);
    if (h) hosts.delete(host); // most recently seen last
    else {
      h = { tokens: AUTH_FAILED_BURST, at: now, suppressed: 0 };
      if (hosts.size >= AUTH_FAILED_HOSTS) hosts.delete(hosts.keys().next().value!);
    }
    hosts.set(host, h);
    h.tokens = Math.min(
      AUTH_FAILED_BURST,
      h.tokens + Math.max(0, now - h.at) / AUTH_FAILED_EVERY_MS,
    );
    h.at = now;
    if (h.tokens < 1) {
      h.suppressed++;
      return -1;
    }
    h.tokens--;
    const n = h.suppressed;
    h.suppressed = 0;
    return n;
  }
}

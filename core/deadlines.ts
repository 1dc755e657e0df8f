/**
 * Deadlines for many short requests with few timers: the proxy gives every backend request a
 * deadline (`operational.timeouts`), almost all of which are cancelled within milliseconds.
 * One `setTimeout` + `clearTimeout` per request costs more than the rest of the bookkeeping on
 * the hot path (docs/adr/0004), so requests with the same duration share a FIFO queue and one
 * timer: with a monotonic clock their deadlines are in insertion order, so only the head
 * matters. Cancelled entries at the head are dropped at once; the timer is re-armed for the
 * next live head when it fires. A deadline fires no earlier than its duration, and at most
 * `slackMs` later (plus the timer's own lateness).
 * @module
 */

/** The timer functions a queue uses (a test seam). */
export interface TimerHost {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * The real timers, unref'd: a deadline timer never keeps the process alive by itself (a
 * request in flight holds its own socket or pipe), so an idle queue may leave its timer armed.
 */
export const systemTimers: TimerHost = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const id = setTimeout(fn, ms);
    Deno.unrefTimer(id);
    return id;
  },
  clearTimeout: (h) => clearTimeout(h as number),
};

/** A pending deadline; `cancel()` when the request is done. */
export interface Deadline {
  cancel(): void;
}

class Entry implements Deadline {
  live = true;
  constructor(readonly at: number, readonly fire: () => void, readonly lane: Lane) {}
  cancel(): void {
    if (!this.live) return;
    this.live = false;
    this.lane.trim();
  }
}

/** All deadlines of one duration, in order. */
class Lane {
  #items: Entry[] = [];
  #head = 0;
  #timer: unknown;

  constructor(readonly ms: number, readonly host: TimerHost, readonly slackMs: number) {}

  get size(): number {
    return this.#items.length - this.#head;
  }

  add(fire: () => void): Entry {
    const e = new Entry(this.host.now() + this.ms, fire, this);
    this.#items.push(e);
    if (this.#timer === undefined) this.#arm(e.at);
    return e;
  }

  /** Drops cancelled entries at the head (keeps the array from growing without bound). */
  trim(): void {
    const items = this.#items;
    while (this.#head < items.length && !items[this.#head]!.live) this.#head++;
    if (this.#head === items.length) {
      // Empty: an armed timer stays (unref'd) and fires once for nothing, rather than a
      // set/clear pair per request when requests do not overlap.
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
  }

  #arm(at: number): void {
    this.#timer = this.host.setTimeout(() => this.#fire(), Math.max(0, at - this.host.now()));
  }

  #fire(): void {
    this.#timer = undefined;
    const now = this.host.now();
    const due: Entry[] = [];
    const items = this.#items;
    while (this.#head < items.length) {
      const e = items[this.#head]!;
      if (e.live && e.at > now) break;
      this.#head++;
      if (e.live) {
        e.live = false;
        due.push(e);
      }
    }
    this.trim();
    if (this.#head < this.#items.length) {
      // Not earlier than the head's deadline; batched with anything due within the slack.
      this.#arm(this.#items[this.#head]!.at + this.slackMs);
    }
    for (const e of due) e.fire();
  }
}

export class DeadlineQueue {
  readonly #lanes = new Map<number, Lane>();

  /**
   * @param slackMs how much later than its deadline a timeout may fire, so that deadlines
   *   close together share one timer wake-up. @default 1
   */
  constructor(readonly host: TimerHost = systemTimers, readonly slackMs = 1) {}

  /** Calls `fire` once, `ms` from now, unless cancelled first. */
  add(ms: number, fire: () => void): Deadline {
    let lane = this.#lanes.get(ms);
    if (!lane) this.#lanes.set(ms, lane = new Lane(ms, this.host, this.slackMs));
    return lane.add(fire);
  }

  /** Deadlines pending (cancelled ones still queued behind a live head included). */
  get size(): number {
    let n = 0;
    for (const lane of this.#lanes.values()) n += lane.size;
    return n;
  }
}

/** The queue the proxy's backend requests share. */
export const backendDeadlines: DeadlineQueue = new DeadlineQueue();

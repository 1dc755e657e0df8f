/**
 * A de-duplicating, per-key work queue with the semantics of client-go's workqueue:
 *
 * - a key waiting in the queue is stored once, however often it is added;
 * - a key is never handed to two workers at once;
 * - a key added while it is being processed is queued again when processing finishes;
 * - `addAfter` delays an add (the earliest pending delay per key wins);
 * - `addRateLimited` delays by a per-key exponential backoff (5ms doubling to 1000s)
 *   until `forget` resets it.
 *
 * Time comes from an injected {@link Clock}, so tests drive it with `ManualClock`.
 * @module
 */

import type { Clock } from "../../core/clock.ts";
import { systemClock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import { silentLogger } from "../../core/log.ts";

/** Hooks for metrics; every field optional. */
export interface QueueMetrics {
  /** Called with the new depth (keys waiting, not counting those being processed or delayed). */
  depth?(depth: number): void;
  /** Called for every `add` (including de-duplicated ones, as client-go counts). */
  add?(): void;
  /** Called for every `addRateLimited`. */
  retry?(): void;
  /** Called after each handler run with its duration and outcome. */
  processed?(durationMs: number, outcome: "success" | "requeue" | "error"): void;
}

/** What a handler may return: nothing (done), or a request to look again later. */
export type HandlerResult = void | { requeueAfterMs?: number; requeue?: boolean };

/** Throw this from a handler when retrying cannot help; the key is forgotten, not retried. */
export class TerminalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TerminalError";
  }
}

export interface WorkQueueOptions {
  /** @default systemClock */
  clock?: Clock;
  /** First `addRateLimited` delay. @default 5 */
  baseDelayMs?: number;
  /** Cap of the per-key backoff. @default 1_000_000 (1000 s) */
  maxDelayMs?: number;
  metrics?: QueueMetrics;
  /** Logs handler failures. @default silentLogger */
  logger?: Logger;
}

/** The de-duplicating work queue; see the module documentation. */
export class WorkQueue<K = string> {
  #clock: Clock;
  #base: number;
  #max: number;
  #metrics: QueueMetrics;
  #logger: Logger;
  #queue: K[] = [];
  #dirty = new Set<K>();
  #processing = new Set<K>();
  #failures = new Map<K, number>();
  #delayed = new Map<K, { at: number; abort: AbortController }>();
  #waiters: ((key: K | undefined) => void)[] = [];
  #shutdown = false;

  constructor(options: WorkQueueOptions = {}) {
    const base = options.baseDelayMs ?? 5;
    const max = options.maxDelayMs ?? 1_000_000;
    if (!(base > 0)) {
      throw new RangeError(`Cannot create WorkQueue: baseDelayMs "${base}" must be > 0`);
    }
    if (!(max >= base)) {
      throw new RangeError(
        `Cannot create WorkQueue: maxDelayMs "${max}" must be >= baseDelayMs "${base}"`,
      );
    }
    this.#clock = options.clock ?? systemClock;
    this.#base = base;
    this.#max = max;
    this.#metrics = options.metrics ?? {};
    this.#logger = options.logger ?? silentLogger;
  }

  /** Keys waiting to be handed out. */
  len(): number {
    return this.#queue.length;
  }

  /** True once `shutDown` ran (or `run`'s signal aborted). */
  get shuttingDown(): boolean {
    return this.#shutdown;
  }

  /** Queues `key` unless it is already waiting; if it is being processed, it is re-queued when done. */
  add(key: K): void {
    if (this.#shutdown) return;
    this.#metrics.add?.();
    this.#insert(key);
  }

  #insert(key: K): void {
    if (this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      // Hand straight to an idle worker.
      this.#dirty.delete(key);
      this.#processing.add(key);
      waiter(key);
      return;
    }
    this.#queue.push(key);
    this.#metrics.depth?.(this.#queue.length);
  }

  /** Adds `key` after `ms`; an earlier pending delay for the same key wins. */
  addAfter(key: K, ms: number): void {
    if (this.#shutdown) return;
    if (ms <= 0) return this.add(key);
    const at = this.#clock.now() + ms;
    const pending = this.#delayed.get(key);
    if (pending && pending.at <= at) return;
    pending?.abort.abort();
    const abort = new AbortController();
    this.#delayed.set(key, { at, abort });
    this.#clock.sleep(ms, abort.signal).then(() => {
      if (this.#delayed.get(key)?.abort === abort) this.#delayed.delete(key);
      this.add(key);
    }, () => {});
  }

  /** Adds `key` after its backoff (5ms, 10ms, 20ms, … capped) and counts one more failure. */
  addRateLimited(key: K): void {
    this.#metrics.retry?.();
    this.addAfter(key, this.when(key));
  }

  /** The backoff `addRateLimited` will use next, and records the failure. */
  when(key: K): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    return Math.min(this.#base * 2 ** failures, this.#max);
  }

  /** Clears the backoff of `key`. */
  forget(key: K): void {
    this.#failures.delete(key);
  }

  /** Failures recorded for `key` since the last `forget`. */
  numRequeues(key: K): number {
    return this.#failures.get(key) ?? 0;
  }

  /**
   * Waits for the next key and marks it as being processed. Resolves `undefined` on
   * shutdown or when `signal` aborts. Call `done(key)` when finished with it.
   */
  get(signal?: AbortSignal): Promise<K | undefined> {
    if (this.#shutdown || signal?.aborted) return Promise.resolve(undefined);
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      this.#metrics.depth?.(this.#queue.length);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => {
      const waiter = (k: K | undefined) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(k);
      };
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(undefined);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Marks `key` as no longer processed; re-queues it if it was added meanwhile. */
  done(key: K): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key) && !this.#shutdown) {
      this.#dirty.delete(key);
      this.#insert(key);
    }
  }

  /** Stops handing out keys; pending delays are dropped; waiting `get` calls resolve `undefined`. */
  shutDown(): void {
    this.#shutdown = true;
    for (const d of this.#delayed.values()) d.abort.abort();
    this.#delayed.clear();
    for (const w of this.#waiters.splice(0)) w(undefined);
  }

  /**
   * Runs `workers` loops that take keys and call `handler(key, signal)` until `signal`
   * aborts, then waits for running handlers to finish. A handler that throws is retried
   * with backoff (`addRateLimited`), unless it threw {@link TerminalError}; one that returns
   * `{ requeueAfterMs }` is added again after that delay; otherwise the key is forgotten.
   */
  async run(
    workers: number,
    handler: (key: K, signal: AbortSignal) => Promise<HandlerResult> | HandlerResult,
    signal: AbortSignal,
  ): Promise<void> {
    if (!Number.isInteger(workers) || workers < 1) {
      throw new RangeError(`Cannot run WorkQueue: workers "${workers}" must be an integer >= 1`);
    }
    const onAbort = () => this.shutDown();
    if (signal.aborted) onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    const worker = async () => {
      for (;;) {
        const key = await this.get(signal);
        if (key === undefined) return;
        await this.#process(key, handler, signal);
      }
    };
    try {
      await Promise.all(Array.from({ length: workers }, worker));
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  async #process(
    key: K,
    handler: (key: K, signal: AbortSignal) => Promise<HandlerResult> | HandlerResult,
    signal: AbortSignal,
  ): Promise<void> {
    const start = this.#clock.now();
    try {
      const result = await handler(key, signal);
      if (result && result.requeueAfterMs !== undefined && result.requeueAfterMs > 0) {
        this.forget(key);
        this.addAfter(key, result.requeueAfterMs);
        this.#metrics.processed?.(this.#clock.now() - start, "requeue");
      } else if (result && (result.requeue || result.requeueAfterMs !== undefined)) {
        this.addRateLimited(key);
        this.#metrics.processed?.(this.#clock.now() - start, "requeue");
      } else {
        this.forget(key);
        this.#metrics.processed?.(this.#clock.now() - start, "success");
      }
    } catch (err) {
      this.#metrics.processed?.(this.#clock.now() - start, "error");
      if (err instanceof TerminalError) {
        this.forget(key);
        this.#logger.error("Reconcile failed permanently", { key: String(key), error: err });
      } else if (!signal.aborted) {
        this.#logger.warn("Reconcile failed, will retry", {
          key: String(key),
          retries: this.numRequeues(key),
          error: err,
        });
        this.addRateLimited(key);
      }
    } finally {
      this.done(key);
    }
  }
}

/**
 * Per-backend circuit breaker, fed by real call outcomes AND health probes (upstream only
 * counts probes).
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";

/** Breaker state, as shown in `status.discoveredBackends[].circuitBreakerState`. */
export type CircuitState = "closed" | "open" | "half-open";

/** Breaker settings; see `operational.failureHandling.circuitBreaker`. */
export interface CircuitBreakerOptions {
  /** Consecutive failures (calls or probes) that open the circuit; integer ≥ 1. */
  failureThreshold: number;
  /** Milliseconds the circuit stays open before one half-open trial; > 0. */
  timeoutMs: number;
  clock?: Clock;
  /** Called on every state change (for logs and metrics). */
  onStateChange?: (from: CircuitState, to: CircuitState) => void;
}

/**
 * closed → open after `failureThreshold` consecutive failures; open → half-open once
 * `timeoutMs` has passed; half-open lets exactly ONE trial through (a call or a probe,
 * whichever asks first): its success closes the circuit, its failure re-opens it for another
 * `timeoutMs`. A trial whose outcome is never recorded (e.g. the caller crashed) expires
 * after `timeoutMs`, so the breaker cannot stick in half-open.
 *
 * Callers: ask `canPass()` before a call or probe; record transport errors, timeouts and
 * 5xx as failures — not tool results with `isError`, which mean the backend works.
 */
export class CircuitBreaker {
  readonly #threshold: number;
  readonly #timeoutMs: number;
  readonly #clock: Clock;
  readonly #onChange: ((from: CircuitState, to: CircuitState) => void) | undefined;
  #state: CircuitState = "closed";
  #lastChanged: number;
  #failures = 0;
  #openedAt = 0;
  #trialStartedAt: number | undefined;

  constructor(options: CircuitBreakerOptions) {
    if (!Number.isInteger(options.failureThreshold) || options.failureThreshold < 1) {
      throw new RangeError(
        `circuitBreaker.failureThreshold must be an integer ≥ 1, got ${options.failureThreshold}`,
      );
    }
    if (!(options.timeoutMs > 0)) {
      throw new RangeError(`circuitBreaker.timeout must be > 0 ms, got ${options.timeoutMs}`);
    }
    this.#threshold = options.failureThreshold;
    this.#timeoutMs = options.timeoutMs;
    this.#clock = options.clock ?? systemClock;
    this.#onChange = options.onStateChange;
    this.#lastChanged = this.#clock.now();
  }

  /** Current state (open turns half-open here once the timeout has passed). */
  get state(): CircuitState {
    this.#tick();
    return this.#state;
  }

  /** Epoch milliseconds of the last state change (construction time initially). */
  get lastChanged(): number {
    this.#tick();
    return this.#lastChanged;
  }

  /** Failures since the last success. */
  get consecutiveFailures(): number {
    return this.#failures;
  }

  /**
   * Whether a call or probe may go to the backend now. In half-open, the first caller gets
   * `true` and becomes the trial; everyone else gets `false` until its outcome is recorded.
   */
  canPass(): boolean {
    this.#tick();
    if (this.#state === "closed") return true;
    if (this.#state === "open") return false;
    const now = this.#clock.now();
    if (this.#trialStartedAt !== undefined && now - this.#trialStartedAt < this.#timeoutMs) {
      return false;
    }
    this.#trialStartedAt = now;
    return true;
  }

  /** Records a success: resets the failure count; half-open (or an expired open) closes. */
  recordSuccess(): void {
    this.#tick();
    this.#failures = 0;
    // A late success of a call that started before the circuit opened does not close it.
    if (this.#state === "half-open") this.#set("closed");
  }

  /** Records a failure: opens a closed circuit at the threshold; re-opens a half-open one. */
  recordFailure(): void {
    this.#tick();
    this.#failures++;
    if (this.#state === "half-open") this.#open();
    else if (this.#state === "closed" && this.#failures >= this.#threshold) this.#open();
  }

  #open(): void {
    this.#openedAt = this.#clock.now();
    this.#set("open");
  }

  #tick(): void {
    if (this.#state === "open" && this.#clock.now() - this.#openedAt >= this.#timeoutMs) {
      this.#set("half-open", this.#openedAt + this.#timeoutMs);
    }
  }

  #set(to: CircuitState, at = this.#clock.now()): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#lastChanged = at;
    this.#trialStartedAt = undefined;
    this.#onChange?.(from, to);
  }
}

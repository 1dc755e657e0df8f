/**
 * Health state machine of one backend, fed by health probes and real calls, with an optional
 * circuit breaker. Produces the `status.discoveredBackends[]` health fields.
 * @module
 */
import type { Operational } from "../../crds/aggregation.ts";
import type { DiscoveredBackend } from "../../crds/virtualmcpserver.ts";
import { type Clock, systemClock } from "../clock.ts";
import { parseDuration } from "../duration.ts";
import {
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitState,
} from "./circuit_breaker.ts";

/** Internal health states (upstream vocabulary). */
export type HealthState = "unknown" | "healthy" | "degraded" | "unhealthy" | "unauthenticated";

/** The status reported in `DiscoveredBackend.status`. */
export type BackendStatus = DiscoveredBackend["status"];

/** Health fields for `status.discoveredBackends[]`. */
export interface BackendHealthSnapshot {
  status: BackendStatus;
  consecutiveFailures: number;
  /** Time of the last recorded probe or call outcome (RFC 3339); absent before the first. */
  lastCheck?: string;
  message: string;
  /** Present when the circuit breaker is enabled. */
  circuitBreakerState?: CircuitState;
}

/** Settings of one backend's health tracking. */
export interface BackendHealthOptions {
  /** Consecutive failures before the backend is unhealthy; integer ≥ 1. */
  unhealthyThreshold: number;
  /** A success slower than this (ms) makes the backend degraded; default 5000. */
  degradedThresholdMs?: number;
  /** How long the first success after failures shows as degraded "recovering"; default 30000 (one check interval). */
  recoveryWindowMs?: number;
  /** Circuit breaker settings; omit to disable it. */
  circuitBreaker?: Omit<CircuitBreakerOptions, "clock">;
  clock?: Clock;
}

/** Upstream's internal DegradedThreshold: a success slower than 5 s is degraded. */
export const DEFAULT_DEGRADED_THRESHOLD_MS = 5000;

const STATUS_OF: Record<HealthState, BackendStatus> = {
  unknown: "unknown",
  healthy: "ready",
  degraded: "degraded",
  unhealthy: "unavailable",
  unauthenticated: "unauthenticated",
};

/** Single line, at most 200 characters: status messages end up in the Kubernetes API. */
function sanitize(reason: string): string {
  const line = reason.replace(/\s+/g, " ").trim() || "unknown error";
  return line.length > 200 ? line.slice(0, 199) + "…" : line;
}

/**
 * Health of one backend:
 * - `unknown` until the first outcome;
 * - a success → `healthy`; a success slower than `degradedThresholdMs` → `degraded`; the
 *   first success after failures → `degraded` ("recovering") for `recoveryWindowMs`, then
 *   `healthy` without further input;
 * - a failure increments `consecutiveFailures`; at `unhealthyThreshold` → `unhealthy`; below
 *   it the state stays what it was (one blip does not hide a backend; a degraded or
 *   recovering backend stays degraded until its next success);
 * - `recordUnauthenticated` (401/403 with no outgoing auth configured) → `unauthenticated`.
 * Every outcome also feeds the circuit breaker; while it is open or half-open the backend is
 * reported `unavailable` and is not routable.
 *
 * Pass `latencyMs` only for probes: a slow tool call says nothing about the backend.
 */
export class BackendHealth {
  /** The breaker, when enabled; callers ask `canPass()` on this object instead. */
  readonly circuitBreaker: CircuitBreaker | undefined;
  readonly #threshold: number;
  readonly #degradedMs: number;
  readonly #recoveryMs: number;
  readonly #clock: Clock;
  /** `slow`: degraded by latency; `failing`: degraded and failed again before recovering. */
  #base: Exclude<HealthState, "degraded"> | "slow" | "failing" = "unknown";
  #failures = 0;
  #recoveringUntil: number | undefined;
  #recoveredFrom = 0;
  #message = "Not checked yet";
  #lastCheck: number | undefined;

  constructor(options: BackendHealthOptions) {
    if (!Number.isInteger(options.unhealthyThreshold) || options.unhealthyThreshold < 1) {
      throw new RangeError(
        `failureHandling.unhealthyThreshold must be an integer ≥ 1, got ${options.unhealthyThreshold}`,
      );
    }
    this.#threshold = options.unhealthyThreshold;
    this.#degradedMs = options.degradedThresholdMs ?? DEFAULT_DEGRADED_THRESHOLD_MS;
    this.#recoveryMs = options.recoveryWindowMs ?? 30_000;
    this.#clock = options.clock ?? systemClock;
    this.circuitBreaker = options.circuitBreaker
      ? new CircuitBreaker({ ...options.circuitBreaker, clock: this.#clock })
      : undefined;
  }

  /** Current health state (ignores the breaker; see `snapshot().status`). */
  get state(): HealthState {
    if (this.#base === "slow" || this.#base === "failing") return "degraded";
    if (
      this.#base === "healthy" && this.#recoveringUntil !== undefined &&
      this.#clock.now() < this.#recoveringUntil
    ) return "degraded";
    return this.#base;
  }

  /** Failures since the last success. */
  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** Whether a call or probe may go out now (always true without a breaker). */
  canPass(): boolean {
    return this.circuitBreaker?.canPass() ?? true;
  }

  /** Records a successful probe or call; `latencyMs` (probes only) can make it degraded. */
  recordSuccess(latencyMs?: number): void {
    const now = this.#clock.now();
    this.#lastCheck = now;
    this.circuitBreaker?.recordSuccess();
    if (this.#failures > 0) {
      this.#recoveredFrom = this.#failures;
      this.#recoveringUntil = now + this.#recoveryMs;
    }
    this.#failures = 0;
    if (latencyMs !== undefined && latencyMs > this.#degradedMs) {
      this.#base = "slow";
      this.#message = `Slow response: ${
        Math.round(latencyMs)
      }ms (degraded above ${this.#degradedMs}ms)`;
    } else {
      this.#base = "healthy";
      this.#message = "Healthy";
    }
  }

  /** Records a failed probe or call (timeout, connection error, 5xx); `reason` is shown in status. */
  recordFailure(reason: string): void {
    this.#lastCheck = this.#clock.now();
    this.circuitBreaker?.recordFailure();
    this.#failures++;
    if (this.#failures >= this.#threshold) this.#base = "unhealthy";
    else if (this.state === "degraded") this.#base = "failing";
    this.#recoveringUntil = undefined;
    this.#message = `${sanitize(reason)} (failures: ${this.#failures})`;
  }

  /** Records a 401/403 from a backend that has no outgoing auth: misconfiguration, but reachable. */
  recordUnauthenticated(reason: string): void {
    this.#lastCheck = this.#clock.now();
    this.circuitBreaker?.recordSuccess();
    this.#failures = 0;
    this.#recoveringUntil = undefined;
    this.#base = "unauthenticated";
    this.#message = sanitize(reason);
  }

  #breakerBlocks(): CircuitState | undefined {
    const s = this.circuitBreaker?.state;
    return s === "open" || s === "half-open" ? s : undefined;
  }

  /**
   * Whether the proxy should offer and route this backend's capabilities: `healthy`,
   * `degraded`, `unauthenticated` (the probe lacks the user's credentials; calls may carry
   * them) and `unknown` (not probed yet — the capability listing itself decides), and the
   * breaker is not open or half-open.
   */
  isRoutable(): boolean {
    return this.state !== "unhealthy" && this.#breakerBlocks() === undefined;
  }

  /** Health fields for `status.discoveredBackends[]`. */
  snapshot(): BackendHealthSnapshot {
    const state = this.state;
    let message = this.#message;
    if (state === "degraded" && this.#base === "healthy") {
      message = `Recovering after ${this.#recoveredFrom} consecutive failures`;
    }
    const blocked = this.#breakerBlocks();
    const snap: BackendHealthSnapshot = {
      status: blocked ? "unavailable" : STATUS_OF[state],
      consecutiveFailures: this.#failures,
      message: blocked ? `Circuit breaker ${blocked.toUpperCase()} - ${message}` : message,
    };
    if (this.#lastCheck !== undefined) snap.lastCheck = new Date(this.#lastCheck).toISOString();
    if (this.circuitBreaker) snap.circuitBreakerState = this.circuitBreaker.state;
    return snap;
  }
}

/**
 * Builds options from `operational.failureHandling` (defaults applied by the schema): the
 * recovery window is one `healthCheckInterval`; the breaker is present only when enabled.
 */
export function backendHealthOptions(
  failureHandling: Operational["failureHandling"],
  clock?: Clock,
): BackendHealthOptions {
  const cb = failureHandling.circuitBreaker;
  const options: BackendHealthOptions = {
    unhealthyThreshold: failureHandling.unhealthyThreshold,
    recoveryWindowMs: parseDuration(failureHandling.healthCheckInterval),
  };
  if (clock) options.clock = clock;
  if (cb.enabled) {
    options.circuitBreaker = {
      failureThreshold: cb.failureThreshold,
      timeoutMs: parseDuration(cb.timeout),
    };
  }
  return options;
}

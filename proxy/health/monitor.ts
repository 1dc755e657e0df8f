/**
 * Health of one backend: periodic probes (`ping`, or a full discovery while the backend has
 * never been discovered) feeding `core/health`'s `BackendHealth` (state machine + circuit
 * breaker), which real call outcomes feed too. Tells the runtime when the backend stops or
 * starts being routable.
 *
 * A backend answering HTTP 401/403 is reachable: with no outgoing auth strategy configured for
 * it, that is a misconfiguration and it is marked `unauthenticated` (the status message says to
 * configure `outgoingAuth`); with one, it counts as alive (the probe's credentials may differ
 * from a user's), as the reference does.
 * @module
 */
import type { VmcpConfig } from "../../crds/vmcp_config.ts";
import { OperationalSchema } from "../../crds/aggregation.ts";
import type { Clock } from "../../core/clock.ts";
import { parseDuration } from "../../core/duration.ts";
import type { Logger } from "../../core/log.ts";
import {
  BackendHealth,
  backendHealthOptions,
  type BackendHealthSnapshot,
} from "../../core/health/mod.ts";
import { resolveStrategy } from "../../core/auth/resolve_strategy.ts";
import type { Backend } from "../backends/backend.ts";
import { BackendUnavailableError, failureReason } from "../backends/errors.ts";

export type { BackendHealthSnapshot as HealthSnapshot };

export interface MonitorDeps {
  clock: Clock;
  log: Logger;
  /** Called when the backend becomes routable (true) or stops being routable (false). */
  onChange(routable: boolean): void;
  /** A check discovered the backend's capabilities (it had none, e.g. down at start-up). */
  onDiscovered?(): void;
}

const DEFAULT_FAILURE_HANDLING = OperationalSchema.parse({}).failureHandling;

/** First retry delay while a backend is down or undiscovered; it doubles up to the interval. */
export const RETRY_MIN_MS = 500;
/** With periodic checks off: cap of the delay between two calls let through as trials. */
export const TRIAL_MAX_MS = 30_000;
/** A refused call asks for a check now at most this often (per backend and replica). */
export const DEMAND_GAP_MS = 1000;

function failureHandling(config: VmcpConfig) {
  return config.operational?.failureHandling ?? DEFAULT_FAILURE_HANDLING;
}

/**
 * Probes one backend and decides whether calls may go to it.
 *
 * - Routable and discovered: a check every `healthCheckInterval`.
 * - Down (not routable) or never discovered: checks back off from 0.5 s, doubling up to the
 *   interval, so a restarted backend is found within about its outage time instead of a full
 *   interval; a call refused meanwhile asks for a check now (at most one a second). A check of
 *   a never-discovered backend is a full discovery (`onDiscovered`).
 * - A call may itself be the trial that brings the backend back: while the circuit breaker is
 *   half-open (the first asker, call or probe, is the trial) and, with periodic checks off
 *   (`healthCheckInterval: 0`), one call at a time at the same backoff while unhealthy.
 */
export class HealthMonitor {
  #health: BackendHealth;
  #intervalMs: number;
  #timeoutMs: number;
  #routable = true;
  /** Set between `start()` and `stop()`; aborts the loop and checks in flight. */
  #life: AbortController | undefined;
  /** Aborts the loop's current sleep so it re-plans (the backend just went down). */
  #wake: AbortController | undefined;
  #checking: Promise<void> | undefined;
  #retryMs = RETRY_MIN_MS;
  #trialMs = RETRY_MIN_MS;
  #nextTrialAt = 0;
  #demandAt = 0;
  #config: VmcpConfig;

  constructor(readonly backend: Backend, config: VmcpConfig, readonly deps: MonitorDeps) {
    this.#config = config;
    const f = failureHandling(config);
    this.#health = new BackendHealth(backendHealthOptions(f, deps.clock));
    this.#intervalMs = parseDuration(f.healthCheckInterval);
    this.#timeoutMs = parseDuration(f.healthCheckTimeout);
  }

  /** Applies new failure-handling settings (state restarts; the probe loop restarts if running). */
  reconfigure(config: VmcpConfig): void {
    this.#config = config;
    const f = failureHandling(config);
    this.#health = new BackendHealth(backendHealthOptions(f, this.deps.clock));
    this.#intervalMs = parseDuration(f.healthCheckInterval);
    this.#timeoutMs = parseDuration(f.healthCheckTimeout);
    if (this.#life) {
      this.stop();
      this.start();
    }
    this.#update();
  }

  snapshot(): BackendHealthSnapshot {
    return this.#health.snapshot();
  }

  /** Why requests must not go to the backend now (its current health message), or undefined. */
  blockReason(): string | undefined {
    if (this.#health.isRoutable()) return undefined;
    return this.#health.snapshot().message;
  }

  /**
   * Before a call: undefined lets it through (routable, or this call is the trial, see the
   * class); otherwise the reason to refuse it, and a check is asked for.
   */
  admit(): string | undefined {
    if (this.#health.isRoutable()) return undefined;
    if (this.#callMayTry()) return undefined;
    this.requestCheck();
    return this.blockReason();
  }

  #callMayTry(): boolean {
    const breaker = this.#health.circuitBreaker;
    const state = breaker?.state;
    if (state === "open") return false;
    if (state === "half-open") return breaker!.canPass();
    if (this.#intervalMs > 0) return false; // unhealthy: the (backed-off) checks decide
    const now = this.deps.clock.now();
    if (now < this.#nextTrialAt) return false;
    this.#trialMs = Math.min(this.#trialMs * 2, TRIAL_MAX_MS);
    this.#nextTrialAt = now + this.#trialMs; // 0.5 s after failing, then 1 s, 2 s, … apart
    return true;
  }

  /**
   * Runs a check soon when the backend is down or undiscovered and none ran in the last second
   * (with periodic checks off, only the discovery of a never-discovered backend).
   */
  requestCheck(): void {
    const life = this.#life;
    if (!life || this.#checking) return;
    if (this.backend.caps && (this.#intervalMs <= 0 || this.#health.isRoutable())) return;
    const now = this.deps.clock.now();
    if (now < this.#demandAt) return;
    this.#demandAt = now + DEMAND_GAP_MS;
    void this.#check(life.signal);
  }

  /** A probe or discovery succeeded (`latencyMs` may make it degraded). */
  recordSuccess(latencyMs?: number): void {
    this.#health.recordSuccess(latencyMs);
    this.#update();
  }

  /** A call succeeded. */
  recordCallSuccess(): void {
    this.#health.recordSuccess();
    this.#update();
  }

  /**
   * A call, probe or discovery failed (transport error or timeout, not a backend error): the
   * error itself, or a reason text. An HTTP 401/403 answer is not a failure (see the module).
   */
  recordFailure(error: unknown): void {
    const status = authStatus(error);
    if (status === undefined) {
      this.#health.recordFailure(typeof error === "string" ? error : failureReason(error));
    } else if (this.hasOutgoingAuth) {
      this.#health.recordSuccess();
    } else {
      this.#health.recordUnauthenticated(
        `Backend answered HTTP ${status} and no outgoing auth is configured for it: configure outgoingAuth (outgoingAuth.backends["${this.backend.name}"] or outgoingAuth.default) with the credentials it expects`,
      );
    }
    this.#update();
  }

  /** True when an outgoing auth strategy (other than unauthenticated) applies to the backend. */
  get hasOutgoingAuth(): boolean {
    const s = resolveStrategy(this.backend.config, this.#config) as { type?: string };
    return s.type !== undefined && s.type !== "unauthenticated";
  }

  #update(): void {
    const routable = this.#health.isRoutable();
    if (routable === this.#routable) return;
    this.#routable = routable;
    const snap = this.#health.snapshot();
    this.deps.log.info(routable ? "backend routable again" : "backend unavailable", {
      backend: this.backend.name,
      status: snap.status,
      message: snap.message,
    });
    if (routable) {
      this.#retryMs = this.#trialMs = RETRY_MIN_MS;
      this.#nextTrialAt = 0;
    } else {
      this.#retryMs = this.#trialMs = RETRY_MIN_MS;
      this.#nextTrialAt = this.deps.clock.now() + RETRY_MIN_MS;
      this.#wake?.abort(); // re-plan: the next check in 0.5 s, not at the end of the interval
    }
    this.deps.onChange(routable);
  }

  /** Starts the checks (the periodic loop only when `healthCheckInterval` is not 0). */
  start(): void {
    if (this.#life) return;
    const life = new AbortController();
    this.#life = life;
    if (this.#intervalMs > 0) void this.#run(life.signal);
  }

  stop(): void {
    this.#life?.abort();
    this.#life = undefined;
    this.#wake = undefined;
  }

  /** The delay before the next periodic check (backed off while down or undiscovered). */
  #nextDelay(): number {
    if (this.#health.isRoutable() && this.backend.caps) {
      this.#retryMs = RETRY_MIN_MS;
      return this.#intervalMs;
    }
    const delay = Math.min(this.#retryMs, this.#intervalMs);
    this.#retryMs = Math.min(this.#retryMs * 2, this.#intervalMs);
    return delay;
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const wake = new AbortController();
      this.#wake = wake;
      try {
        await this.deps.clock.sleep(this.#nextDelay(), AbortSignal.any([signal, wake.signal]));
      } catch {
        if (signal.aborted) return;
        continue; // woken: plan again
      }
      await this.#check(signal);
    }
  }

  /** One check at a time: a loop tick or a demand joins the one in flight. */
  #check(signal?: AbortSignal): Promise<void> {
    this.#checking ??= this.probeOnce(signal).finally(() => this.#checking = undefined);
    return this.#checking;
  }

  /** One health check now: `ping`, or a full discovery while never discovered. */
  async probeOnce(signal?: AbortSignal): Promise<void> {
    if (!this.#health.canPass()) {
      this.#update();
      return; // circuit open: checks are skipped until the half-open trial
    }
    const started = performance.now();
    const discovering = !this.backend.caps;
    try {
      if (!discovering) {
        await this.backend.probe(this.#timeoutMs || this.backend.timeoutMs, signal);
      } else await this.backend.discover(signal);
      if (signal?.aborted) return;
      this.recordSuccess(performance.now() - started);
      if (discovering) this.deps.onDiscovered?.();
    } catch (err) {
      if (signal?.aborted) return;
      this.recordFailure(err);
    }
  }
}

/** 401 or 403 when the backend refused the request for lack of (valid) credentials. */
function authStatus(error: unknown): number | undefined {
  if (!(error instanceof BackendUnavailableError)) return undefined;
  return error.httpStatus === 401 || error.httpStatus === 403 ? error.httpStatus : undefined;
}

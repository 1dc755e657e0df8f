/**
 * Health of one backend: periodic probes (`ping`, or a full discovery while the backend has
 * never been discovered), the status state machine, and the circuit breaker — all fed by probes
 * AND real call outcomes.
 *
 * Status: `unknown` until the first outcome; `ready` after a success; `degraded` after a
 * failure below `unhealthyThreshold`, or "recovering" for the first success after being
 * unavailable; `unavailable` after `unhealthyThreshold` consecutive failures. A backend is
 * routable unless it is `unavailable` or its circuit is open.
 * @module
 */
import type { VmcpConfig } from "../../crds/vmcp_config.ts";
import type { Clock } from "../../core/clock.ts";
import { parseDuration } from "../../core/duration.ts";
import type { Logger } from "../../core/log.ts";
import { CircuitBreaker, type CircuitState } from "../../core/health/circuit_breaker.ts";
import type { Backend } from "../backends/backend.ts";
import { describeError } from "../backends/errors.ts";

export type HealthStatus = "ready" | "degraded" | "unavailable" | "unknown" | "unauthenticated";

export interface HealthSnapshot {
  status: HealthStatus;
  consecutiveFailures: number;
  /** Epoch ms of the last probe (or discovery), undefined before the first. */
  lastCheck: number | undefined;
  message: string | undefined;
  circuitBreakerState: CircuitState | undefined;
}

export interface MonitorDeps {
  clock: Clock;
  log: Logger;
  /** Called when the backend becomes routable (true) or stops being routable (false). */
  onChange(routable: boolean): void;
}

interface Settings {
  intervalMs: number;
  timeoutMs: number;
  threshold: number;
}

function settingsOf(config: VmcpConfig): Settings {
  const f = config.operational?.failureHandling;
  return {
    intervalMs: parseDuration(f?.healthCheckInterval ?? "30s"),
    timeoutMs: parseDuration(f?.healthCheckTimeout ?? "10s"),
    threshold: f?.unhealthyThreshold ?? 3,
  };
}

function breakerOf(config: VmcpConfig, clock: Clock): CircuitBreaker | undefined {
  const cb = config.operational?.failureHandling?.circuitBreaker;
  if (!cb?.enabled) return undefined;
  return new CircuitBreaker({
    failureThreshold: cb.failureThreshold,
    timeoutMs: parseDuration(cb.timeout),
    clock,
  });
}

export class HealthMonitor {
  #settings: Settings;
  #breaker: CircuitBreaker | undefined;
  #status: HealthStatus = "unknown";
  #failures = 0;
  #lastCheck: number | undefined;
  #message: string | undefined;
  #routable = true;
  #loop: AbortController | undefined;

  constructor(readonly backend: Backend, config: VmcpConfig, readonly deps: MonitorDeps) {
    this.#settings = settingsOf(config);
    this.#breaker = breakerOf(config, deps.clock);
  }

  /** Applies new failure-handling settings (restarting the probe loop if running). */
  reconfigure(config: VmcpConfig): void {
    this.#settings = settingsOf(config);
    this.#breaker = breakerOf(config, this.deps.clock);
    if (this.#loop) {
      this.stop();
      this.start();
    }
    this.#update();
  }

  snapshot(): HealthSnapshot {
    return {
      status: this.#status,
      consecutiveFailures: this.#failures,
      lastCheck: this.#lastCheck,
      message: this.#message,
      circuitBreakerState: this.#breaker?.state,
    };
  }

  /** Why requests must not go to the backend now, or undefined when they may. */
  blockReason(): string | undefined {
    if (this.#status === "unavailable") {
      return `unhealthy after ${this.#failures} consecutive failures${this.#message ? `: ${this.#message}` : ""}`;
    }
    if (this.#breaker?.state === "open") return "circuit breaker open";
    return undefined;
  }

  /** Before a call: like `blockReason`, and in half-open lets only one trial through. */
  admit(): string | undefined {
    const reason = this.blockReason();
    if (reason) return reason;
    if (this.#breaker && !this.#breaker.canPass()) return "circuit breaker half-open (trial in progress)";
    return undefined;
  }

  /** A probe or discovery succeeded. */
  recordSuccess(): void {
    this.#lastCheck = this.deps.clock.now();
    this.recordCallSuccess();
  }

  /** A call (or probe) succeeded. */
  recordCallSuccess(): void {
    const wasDown = this.#status === "unavailable";
    this.#failures = 0;
    this.#message = wasDown ? "recovering" : undefined;
    this.#status = wasDown ? "degraded" : "ready";
    this.#breaker?.recordSuccess();
    this.#update();
  }

  /** A call, probe or discovery failed (transport error or timeout, not a backend error). */
  recordFailure(message: string, probe = false): void {
    if (probe) this.#lastCheck = this.deps.clock.now();
    this.#failures++;
    this.#message = message;
    this.#status = this.#failures >= this.#settings.threshold ? "unavailable" : "degraded";
    this.#breaker?.recordFailure();
    this.#update();
  }

  #update(): void {
    const routable = this.blockReason() === undefined;
    if (routable === this.#routable) return;
    this.#routable = routable;
    this.deps.log.info(routable ? "backend routable again" : "backend unavailable", {
      backend: this.backend.name,
      status: this.#status,
      message: this.#message,
    });
    this.deps.onChange(routable);
  }

  /** Starts the probe loop (no-op when `healthCheckInterval` is 0 or already running). */
  start(): void {
    if (this.#loop || this.#settings.intervalMs <= 0) return;
    const ac = new AbortController();
    this.#loop = ac;
    void this.#run(ac.signal);
  }

  stop(): void {
    this.#loop?.abort();
    this.#loop = undefined;
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.deps.clock.sleep(this.#settings.intervalMs, signal);
      } catch {
        return;
      }
      await this.probeOnce(signal);
    }
  }

  /** One health check now. */
  async probeOnce(signal?: AbortSignal): Promise<void> {
    if (this.#breaker && !this.#breaker.canPass()) {
      this.#update();
      return; // open: checks are skipped until the half-open trial
    }
    try {
      if (this.backend.caps) await this.backend.probe(this.#settings.timeoutMs || this.backend.timeoutMs, signal);
      else await this.backend.discover(signal);
      if (signal?.aborted) return;
      this.recordSuccess();
    } catch (err) {
      if (signal?.aborted) return;
      this.recordFailure(describeError(err), true);
    }
  }
}

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
import { BackendUnavailableError, describeError } from "../backends/errors.ts";

export type { BackendHealthSnapshot as HealthSnapshot };

export interface MonitorDeps {
  clock: Clock;
  log: Logger;
  /** Called when the backend becomes routable (true) or stops being routable (false). */
  onChange(routable: boolean): void;
}

const DEFAULT_FAILURE_HANDLING = OperationalSchema.parse({}).failureHandling;

function failureHandling(config: VmcpConfig) {
  return config.operational?.failureHandling ?? DEFAULT_FAILURE_HANDLING;
}

export class HealthMonitor {
  #health: BackendHealth;
  #intervalMs: number;
  #timeoutMs: number;
  #routable = true;
  #loop: AbortController | undefined;
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
    if (this.#loop) {
      this.stop();
      this.start();
    }
    this.#update();
  }

  snapshot(): BackendHealthSnapshot {
    return this.#health.snapshot();
  }

  /** Why requests must not go to the backend now, or undefined when they may. */
  blockReason(): string | undefined {
    if (this.#health.isRoutable()) return undefined;
    const snap = this.#health.snapshot();
    return `${snap.status}: ${snap.message}`;
  }

  /** Before a call (unavailable and open/half-open circuits refuse calls; probes do the trial). */
  admit(): string | undefined {
    return this.blockReason();
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
      this.#health.recordFailure(typeof error === "string" ? error : describeError(error));
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
    this.deps.onChange(routable);
  }

  /** Starts the probe loop (no-op when `healthCheckInterval` is 0 or already running). */
  start(): void {
    if (this.#loop || this.#intervalMs <= 0) return;
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
        await this.deps.clock.sleep(this.#intervalMs, signal);
      } catch {
        return;
      }
      await this.probeOnce(signal);
    }
  }

  /** One health check now: `ping`, or a full discovery while never discovered. */
  async probeOnce(signal?: AbortSignal): Promise<void> {
    if (!this.#health.canPass()) {
      this.#update();
      return; // circuit open: checks are skipped until the half-open trial
    }
    const started = performance.now();
    try {
      if (this.backend.caps) {
        await this.backend.probe(this.#timeoutMs || this.backend.timeoutMs, signal);
      } else await this.backend.discover(signal);
      if (signal?.aborted) return;
      this.recordSuccess(performance.now() - started);
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

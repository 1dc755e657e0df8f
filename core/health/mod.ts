/**
 * Backend health: circuit breaker, per-backend health state machine, phase rules.
 * @module
 */
export {
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitState,
} from "./circuit_breaker.ts";
export {
  BackendHealth,
  type BackendHealthOptions,
  backendHealthOptions,
  type BackendHealthSnapshot,
  type BackendStatus,
  DEFAULT_DEGRADED_THRESHOLD_MS,
  type HealthState,
} from "./backend_health.ts";
export {
  type BackendPhase,
  type BackendPhaseInput,
  isRoutableStatus,
  phaseFromBackends,
} from "./phase.ts";

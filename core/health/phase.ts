/**
 * The VirtualMCPServer phase implied by backend health, computed the same way by every
 * writer (the proxy's status reporter and the controller), so they never disagree.
 * @module
 */
import type { BackendStatus } from "./backend_health.ts";

/** What the phase is computed from: one entry per backend. */
export interface BackendPhaseInput {
  name: string;
  status: BackendStatus;
}

/** Phase, condition reason and message for the `Ready` condition, plus counts. */
export interface BackendPhase {
  phase: "Pending" | "Ready" | "Degraded";
  /** `NoBackends`, `BackendsPending`, `AllBackendsRoutable`, `SomeBackendsUnhealthy` or `NoRoutableBackends`. */
  reason:
    | "NoBackends"
    | "BackendsPending"
    | "AllBackendsRoutable"
    | "SomeBackendsUnhealthy"
    | "NoRoutableBackends";
  message: string;
  /** Backends currently routable (`status.backendCount`): ready, degraded or unauthenticated. */
  routable: number;
  total: number;
}

/** Statuses counted as routable for the phase and `backendCount`. */
export function isRoutableStatus(status: BackendStatus): boolean {
  return status === "ready" || status === "degraded" || status === "unauthenticated";
}

function names(list: readonly BackendPhaseInput[]): string {
  const sorted = list.map((b) => b.name).sort();
  return sorted.length > 5
    ? `${sorted.slice(0, 5).join(", ")} and ${sorted.length - 5} more`
    : sorted.join(", ");
}

/**
 * Pure phase rules, in order:
 * 1. no backends → `Ready` / `NoBackends`;
 * 2. none unavailable and every backend `unknown` → `Pending` / `BackendsPending`;
 * 3. none unavailable → `Ready` / `AllBackendsRoutable` (degraded backends are slow but
 *    serving; backends not checked yet do not hold the phase back);
 * 4. some unavailable, at least one routable → `Degraded` / `SomeBackendsUnhealthy`;
 * 5. none routable → `Degraded` / `NoRoutableBackends`.
 *
 * Choice for rule 5: upstream's runtime says `Failed` here while its operator says
 * `Degraded`, and the last writer wins (reference §11.3, §19 item 13). vmcp says `Degraded`
 * everywhere: the vmcp pod itself is healthy and keeps serving (composite tools, lists,
 * recovery as soon as a backend returns); `Failed` is kept for the server's own workload
 * failing. The reason `NoRoutableBackends` tells the two situations apart.
 */
export function phaseFromBackends(backends: readonly BackendPhaseInput[]): BackendPhase {
  const total = backends.length;
  const routable = backends.filter((b) => isRoutableStatus(b.status));
  const unavailable = backends.filter((b) => b.status === "unavailable");
  const unknown = backends.filter((b) => b.status === "unknown");
  const degraded = backends.filter((b) =>
    b.status === "degraded" || b.status === "unauthenticated"
  );
  const base = { routable: routable.length, total };
  if (total === 0) {
    return { ...base, phase: "Ready", reason: "NoBackends", message: "No backends in the group" };
  }
  if (unavailable.length === 0 && unknown.length === total) {
    return {
      ...base,
      phase: "Pending",
      reason: "BackendsPending",
      message: `Waiting for the first health check of ${total} backend${total === 1 ? "" : "s"}`,
    };
  }
  if (unavailable.length === 0) {
    const notes: string[] = [];
    if (degraded.length > 0) notes.push(`degraded or unauthenticated: ${names(degraded)}`);
    if (unknown.length > 0) notes.push(`not checked yet: ${names(unknown)}`);
    return {
      ...base,
      phase: "Ready",
      reason: "AllBackendsRoutable",
      message: `${routable.length}/${total} backends routable` +
        (notes.length > 0 ? ` (${notes.join("; ")})` : ""),
    };
  }
  if (routable.length > 0) {
    return {
      ...base,
      phase: "Degraded",
      reason: "SomeBackendsUnhealthy",
      message: `${routable.length}/${total} backends routable; unavailable: ${names(unavailable)}`,
    };
  }
  return {
    ...base,
    phase: "Degraded",
    reason: "NoRoutableBackends",
    message: `No routable backends (0/${total}); unavailable: ${names(unavailable)}` +
      (unknown.length > 0 ? `; not checked yet: ${names(unknown)}` : ""),
  };
}

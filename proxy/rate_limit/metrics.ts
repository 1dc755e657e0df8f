/**
 * Rate-limit counters on the proxy's `/metrics` registry: refused calls by scope and tool, and
 * shared-store (Redis) failures. Registered once per registry (a config reload reuses them).
 * @module
 */
import { Counter, type Registry } from "prom-client";
import type { RateLimitScope } from "./errors.ts";

const REFUSED = "vmcp_rate_limited_total";
const STORE_ERRORS = "vmcp_rate_limit_store_errors_total";

function counter<L extends string>(
  registry: Registry | undefined,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L> {
  const existing = registry?.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: registry ? [registry] : [] });
}

/** The counters; without a registry they count but are not exposed. */
export class RateLimitMetrics {
  readonly #refused: Counter<"scope" | "tool">;
  readonly #storeErrors: Counter<never>;

  constructor(registry?: Registry) {
    this.#refused = counter(
      registry,
      REFUSED,
      "tools/call requests refused by a rate limit, by scope (global, perUser, tool, toolPerUser) and tool (empty for server-wide limits).",
      ["scope", "tool"],
    );
    this.#storeErrors = counter(
      registry,
      STORE_ERRORS,
      "Rate-limit checks the shared store (Redis) could not answer; each was decided by this replica's in-memory buckets instead.",
      [],
    );
  }

  refused(scope: RateLimitScope, tool: string | undefined): void {
    this.#refused.labels(scope, tool ?? "").inc();
  }

  storeError(): void {
    this.#storeErrors.inc();
  }
}

/**
 * The aggregation config with every default filled in, in the shape the pipeline reads.
 * @module
 */
import type { Aggregation } from "../../crds/aggregation.ts";

/** One `aggregation.tools[]` entry. */
export type WorkloadTools = NonNullable<Aggregation["tools"]>[number];

/** Aggregation settings with defaults applied. */
export interface AggregationSettings {
  strategy: "prefix" | "priority" | "manual";
  prefixFormat: string;
  priorityOrder: readonly string[] | undefined;
  excludeAllTools: boolean;
  /** `tools[]` by workload; the first entry wins when a workload is listed twice. */
  workloads: Map<string, WorkloadTools>;
}

/** The default prefix format (`{workload}_`). */
export const DEFAULT_PREFIX_FORMAT = "{workload}_";

/**
 * Fills in defaults: an omitted `aggregation` means `prefix` with `{workload}_`, as the
 * operator does upstream.
 */
export function normalizeAggregation(aggregation: Aggregation | undefined): AggregationSettings {
  const workloads = new Map<string, WorkloadTools>();
  for (const t of aggregation?.tools ?? []) {
    if (!workloads.has(t.workload)) workloads.set(t.workload, t);
  }
  return {
    strategy: aggregation?.conflictResolution ?? "prefix",
    prefixFormat: aggregation?.conflictResolutionConfig?.prefixFormat ?? DEFAULT_PREFIX_FORMAT,
    priorityOrder: aggregation?.conflictResolutionConfig?.priorityOrder,
    excludeAllTools: aggregation?.excludeAllTools ?? false,
    workloads,
  };
}

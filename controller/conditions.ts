/**
 * metav1.Condition bookkeeping: conditions are keyed by type, every one carries the
 * generation it describes, and `lastTransitionTime` moves only when `status` changes.
 * @module
 */
import type { Condition } from "../crds/common.ts";

/** A condition as a reconciler computes it (time and generation are filled in here). */
export interface ConditionInput {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

/**
 * Merges freshly computed conditions with the previous ones. A condition whose status is
 * unchanged keeps its `lastTransitionTime`; every returned condition carries
 * `observedGeneration`. Previous conditions of types not computed now are dropped.
 */
export function mergeConditions(
  previous: readonly Condition[] | undefined,
  computed: readonly ConditionInput[],
  now: string,
  generation: number | undefined,
): Condition[] {
  const byType = new Map((previous ?? []).map((c) => [c.type, c]));
  return computed.map((c) => {
    const old = byType.get(c.type);
    const out: Condition = {
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message,
      lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : now,
    };
    if (generation !== undefined) out.observedGeneration = generation;
    return out;
  });
}

/** The condition of `type`, if present. */
export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** RFC 3339 with seconds precision, as metav1.Time serialises. */
export function timeString(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** Whether two condition lists say the same thing (order-insensitive, all fields). */
export function sameConditions(
  a: readonly Condition[] | undefined,
  b: readonly Condition[] | undefined,
): boolean {
  const x = a ?? [];
  const y = b ?? [];
  if (x.length !== y.length) return false;
  const byType = new Map(y.map((c) => [c.type, c]));
  return x.every((c) => {
    const o = byType.get(c.type);
    return !!o && o.status === c.status && o.reason === c.reason &&
      (o.message ?? "") === (c.message ?? "") &&
      o.lastTransitionTime === c.lastTransitionTime &&
      o.observedGeneration === c.observedGeneration;
  });
}

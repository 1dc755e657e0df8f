/**
 * Server-side apply that skips the request when nothing would change, so a reconcile of an
 * unchanged world writes nothing. A child carries the hash of what was last applied: equal
 * hash (nothing removed from the desired state) plus every desired field present in the
 * live object (no drift) means the apply would be a no-op.
 * @module
 */
import { createHash } from "node:crypto";
import type { KubeApi, KubeObject } from "./runtime/kube.ts";
import { FIELD_MANAGER } from "./meta.ts";

export const APPLIED_HASH_ANNOTATION = "vmcp.toolhive.stacklok.dev/applied-hash";

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = canonical(v);
    }
    return out;
  }
  return value;
}

/** sha256 (hex, 16 chars) of the canonical JSON of `obj`. */
export function hashObject(obj: unknown): string {
  return createHash("sha256").update(JSON.stringify(canonical(obj))).digest("hex").slice(0, 16);
}

/**
 * True when every field of `desired` is present with the same value in `live`. Objects may
 * have extra fields (defaults); lists must have the same length, element by element.
 */
export function isSubset(desired: unknown, live: unknown): boolean {
  if (desired === undefined) return true;
  if (Array.isArray(desired)) {
    return Array.isArray(live) && live.length === desired.length &&
      desired.every((d, i) => isSubset(d, live[i]));
  }
  if (desired && typeof desired === "object") {
    if (!live || typeof live !== "object" || Array.isArray(live)) return false;
    return Object.entries(desired).every(([k, v]) =>
      isSubset(v, (live as Record<string, unknown>)[k])
    );
  }
  return desired === live;
}

/** `desired` with the applied-hash annotation set. */
export function withAppliedHash<T extends KubeObject>(desired: T): T {
  const hash = hashObject(desired);
  return {
    ...desired,
    metadata: {
      ...desired.metadata,
      annotations: { ...desired.metadata?.annotations, [APPLIED_HASH_ANNOTATION]: hash },
    },
  };
}

/** Whether applying `desired` (already carrying its hash) over `live` would change nothing. */
export function upToDate(desired: KubeObject, live: KubeObject | undefined): boolean {
  if (!live) return false;
  const want = desired.metadata?.annotations?.[APPLIED_HASH_ANNOTATION];
  return live.metadata?.annotations?.[APPLIED_HASH_ANNOTATION] === want && isSubset(desired, live);
}

export interface ApplyResult<T extends KubeObject> {
  object: T;
  changed: boolean;
}

/** Applies `desired` with the controller's field manager unless `live` already matches. */
export async function applyIfChanged<T extends KubeObject>(
  kube: Pick<KubeApi, "apply">,
  desired: T,
  live: KubeObject | undefined,
  signal?: AbortSignal,
): Promise<ApplyResult<T>> {
  const obj = withAppliedHash(desired);
  if (upToDate(obj, live)) return { object: live as T, changed: false };
  const object = await kube.apply(obj, {
    fieldManager: FIELD_MANAGER,
    force: true,
    ...(signal ? { signal } : {}),
  });
  return { object, changed: true };
}

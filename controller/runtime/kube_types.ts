/**
 * Types and errors of the Kubernetes API port (`kube.ts`), kept apart so the client file stays
 * small. Import them from `kube.ts`, which re-exports everything here.
 * @module
 */
import type { EventSpec } from "./_events.ts";

/** Object metadata as the API server returns it (the fields vmcp reads; others pass through). */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: {
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
  }[];
  finalizers?: string[];
  creationTimestamp?: string;
  deletionTimestamp?: string;
  [key: string]: unknown;
}

/** Any Kubernetes object as plain JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [key: string]: unknown;
}

/** A list result; `metadata.resourceVersion` is the snapshot a watch can start from. */
export interface KubeList<T extends KubeObject = KubeObject> {
  items: T[];
  metadata: { resourceVersion: string };
}

/** Per-call options shared by every request. */
export interface RequestOptions {
  /** Aborts the request; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Upper bound for this request. @default the client's `requestTimeoutMs` */
  timeoutMs?: number;
}

export interface ApplyOptions extends RequestOptions {
  /** The SSA field manager that owns the fields sent. */
  fieldManager: string;
  /** Take ownership of conflicting fields. @default true for `apply`, false for `applyStatus` */
  force?: boolean;
}

export interface PatchOptions extends RequestOptions {
  /** @default "merge" (RFC 7386 JSON merge patch) */
  type?: "merge" | "json";
  fieldManager?: string;
}

export interface DeleteOptions extends RequestOptions {
  /** @default "Background" */
  propagationPolicy?: "Background" | "Foreground" | "Orphan";
  /** Delete only if the object still has this uid. */
  uid?: string;
}

/** The operations the controller needs; tests may supply an in-memory implementation. */
export interface KubeApi {
  /** Reads one object; resolves `undefined` when it does not exist (404). */
  get<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
    options?: RequestOptions,
  ): Promise<T | undefined>;
  /** Lists objects (all pages); items carry `apiVersion` and `kind`. */
  list<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    namespace?: string,
    labelSelector?: string,
    options?: RequestOptions,
  ): Promise<KubeList<T>>;
  /** POST; a 409 (AlreadyExists) surfaces as {@link KubeApiError}. */
  create<T extends KubeObject>(obj: T, options?: RequestOptions): Promise<T>;
  /** PUT; send `metadata.resourceVersion` for optimistic concurrency (409 on conflict). */
  replace<T extends KubeObject>(obj: T, options?: RequestOptions): Promise<T>;
  /** Server-side apply of `obj` (send only the fields you manage). */
  apply<T extends KubeObject>(obj: T, options: ApplyOptions): Promise<T>;
  /** Server-side apply on the `status` subresource. */
  applyStatus<T extends KubeObject>(obj: T, options: ApplyOptions): Promise<T>;
  /** Merge (or JSON) patch of the object `obj` names (apiVersion, kind, metadata.name/namespace). */
  patch<T extends KubeObject>(obj: KubeObject, patch: unknown, options?: PatchOptions): Promise<T>;
  /** Merge (or JSON) patch on the `status` subresource of the object `obj` names. */
  patchStatus<T extends KubeObject>(
    obj: KubeObject,
    patch: unknown,
    options?: PatchOptions,
  ): Promise<T>;
  /** Deletes; resolves `false` when the object was already gone (404). */
  delete(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
    options?: DeleteOptions,
  ): Promise<boolean>;
  /**
   * Records a core/v1 Event about `involvedObject`. Repeats of the same event are folded
   * into one Event with a growing `count`. Best effort: never rejects; failures are logged.
   */
  createEvent(involvedObject: KubeObject, event: EventSpec): Promise<void>;
}

/** A failed API call: `status` is the HTTP status (0 when no response arrived). */
export class KubeApiError extends Error {
  /** HTTP status code; 0 for timeouts and network failures. */
  readonly status: number;
  /** The API `Status.reason` (`NotFound`, `Conflict`, `AlreadyExists`, …), or `Timeout`/`NetworkError`. */
  readonly reason: string;
  /** The API server's `Status.message` (or the transport error's message). */
  readonly apiMessage: string;
  constructor(
    status: number,
    reason: string,
    apiMessage: string,
    context: string,
    options?: ErrorOptions,
  ) {
    super(`${context} failed with ${status || reason}: ${apiMessage}`, options);
    this.name = "KubeApiError";
    this.status = status;
    this.reason = reason;
    this.apiMessage = apiMessage;
  }
}

export function parseStatus(body: unknown): { reason?: string; message?: string } {
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {
      return {};
    }
  }
  return body && typeof body === "object" ? body as { reason?: string; message?: string } : {};
}

/** True for a {@link KubeApiError} with the given status. */
export function isStatus(err: unknown, status: number): err is KubeApiError {
  return err instanceof KubeApiError && err.status === status;
}

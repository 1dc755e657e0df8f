/**
 * A watch cache for one resource type, built on client-node's `ListWatch` (cache, relist on
 * 410 Gone) fed by a watch stream on Deno's own fetch (`_watch.ts`, which notices a dropped
 * connection where client-node's undici stream does not under Deno).
 *
 * client-node lists, watches from the list's resourceVersion, relists on 410 Gone and
 * re-watches when the server closes the stream, but it *stops for good* on any other error
 * (connection refused, 5xx, discovery failure). This informer restarts it with capped
 * exponential backoff, forever, until its signal aborts — so it survives an API server
 * restart without restarting the process.
 * @module
 */

import {
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  type Watch,
} from "@kubernetes/client-node";
import type { Clock } from "../../core/clock.ts";
import { systemClock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import { silentLogger } from "../../core/log.ts";
import type { KubeClient, KubeObject } from "./kube.ts";
import { NativeWatch } from "./_watch.ts";

/** What changed. `update` carries the previous object; it never fires for an unchanged resourceVersion. */
export type InformerEvent<T extends KubeObject> =
  | { type: "add"; object: T }
  | { type: "update"; object: T; old: T }
  | { type: "delete"; object: T };

export interface InformerOptions {
  apiVersion: string;
  kind: string;
  /** Watch one namespace. @default all namespaces */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** First restart delay after an error. @default 1000 */
  minBackoffMs?: number;
  /** Cap of the restart delay. @default 30000 */
  maxBackoffMs?: number;
  /** @default systemClock */
  clock?: Clock;
  /** @default silentLogger */
  logger?: Logger;
  /**
   * Applied to every object as it arrives (list and watch), before anything keeps it: the
   * cache (and the list/watch machinery under it) only ever holds what this returns.
   */
  transform?: (obj: KubeObject) => KubeObject;
}

/** A watch whose events carry `transform(object)` (error events pass unchanged). */
function transformedWatch(inner: Watch, transform: (obj: KubeObject) => KubeObject): Watch {
  const outer = Object.create(inner) as Watch;
  outer.watch = (path, query, callback, done) =>
    inner.watch(path, query, (phase, obj, raw) => {
      const isObject = phase !== "ERROR" && obj !== null && typeof obj === "object";
      callback(phase, isObject ? transform(obj as KubeObject) : obj, raw);
    }, done);
  return outer;
}

/**
 * Keeps of a Secret only what the controller reads: its identity, type and the names of its
 * data keys (values emptied). No value, annotation (kubectl's last-applied-configuration holds
 * the whole manifest) or managed field is ever cached, and a cluster full of large Secrets
 * (Helm releases, certificates) costs little memory.
 */
export function secretKeysOnly(obj: KubeObject): KubeObject {
  const s = obj as KubeObject & { type?: string; data?: Record<string, string> };
  const m = s.metadata ?? {};
  const data: Record<string, string> = {};
  for (const k of Object.keys(s.data ?? {})) data[k] = "";
  return {
    apiVersion: s.apiVersion,
    kind: s.kind,
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
    },
    ...(s.type ? { type: s.type } : {}),
    data,
  } as KubeObject;
}

/**
 * Keeps of a ConfigMap what the controller reads: identity, labels, owners, annotations other
 * than kubectl's last-applied-configuration (a second copy of the whole manifest), and `data`.
 * Managed fields and `binaryData` are dropped. The informer watches every ConfigMap (children and
 * those holding OIDC settings, `oidcConfig.type: configMap`), so this bounds what each costs.
 */
export function configMapTrimmed(obj: KubeObject): KubeObject {
  const c = obj as KubeObject & { data?: Record<string, string> };
  const { managedFields: _managed, annotations, ...metadata } = c.metadata ?? {};
  const kept = { ...(annotations ?? {}) };
  delete kept["kubectl.kubernetes.io/last-applied-configuration"];
  return {
    apiVersion: c.apiVersion,
    kind: c.kind,
    metadata: { ...metadata, ...(Object.keys(kept).length ? { annotations: kept } : {}) },
    ...(c.data ? { data: c.data } : {}),
  } as KubeObject;
}

/** The client part an informer needs. */
export type InformerSource = Pick<KubeClient, "kubeConfig" | "resourcePath" | "list">;

function key(namespace: string | undefined, name: string | undefined): string {
  return `${namespace ?? ""}/${name ?? ""}`;
}

/** A self-healing list+watch cache of one resource type; see the module documentation. */
export class Informer<T extends KubeObject = KubeObject> {
  #source: InformerSource;
  #opts: InformerOptions;
  #clock: Clock;
  #logger: Logger;
  #store = new Map<string, T>();
  #handlers = new Set<(event: InformerEvent<T>) => void>();
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #running = false;

  constructor(source: InformerSource, options: InformerOptions) {
    const min = options.minBackoffMs ?? 1000;
    const max = options.maxBackoffMs ?? 30_000;
    if (!options.apiVersion || !options.kind) {
      throw new TypeError(
        `Cannot create Informer: apiVersion "${options.apiVersion}" and kind "${options.kind}" are required`,
      );
    }
    if (!(min > 0) || !(max >= min)) {
      throw new RangeError(
        `Cannot create Informer: backoff "${min}".."${max}" ms must satisfy 0 < minBackoffMs <= maxBackoffMs`,
      );
    }
    this.#source = source;
    this.#opts = { ...options, minBackoffMs: min, maxBackoffMs: max };
    this.#clock = options.clock ?? systemClock;
    this.#logger = (options.logger ?? silentLogger).with({ informer: options.kind });
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  on(handler: (event: InformerEvent<T>) => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  /** The cached object, if any. Use `""`/`undefined` namespace for cluster-scoped kinds. */
  get(namespace: string | undefined, name: string): T | undefined {
    return this.#store.get(key(namespace || undefined, name));
  }

  /** Cached objects, all or of one namespace. */
  list(namespace?: string): T[] {
    const all = [...this.#store.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  /** True once the first list has been stored (it stays true across relists). */
  hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves when synced, or `false` if `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.#synced) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = () => resolve(false);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#syncWaiters.push(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve(true);
      });
    });
  }

  #emit(event: InformerEvent<T>): void {
    for (const h of this.#handlers) {
      try {
        h(event);
      } catch (err) {
        this.#logger.error("Informer handler failed", { event: event.type, error: err });
      }
    }
  }

  #markSynced(): void {
    if (this.#synced) return;
    this.#synced = true;
    for (const w of this.#syncWaiters.splice(0)) w();
  }

  /**
   * Lists, watches and keeps the cache current until `signal` aborts; then closes the
   * watch and resolves. Errors never end it: they are logged and retried with backoff.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#running) {
      throw new Error(`Cannot run Informer for "${this.#opts.kind}": already running`);
    }
    this.#running = true;
    const { apiVersion, kind, namespace } = this.#opts;
    const min = this.#opts.minBackoffMs!;
    const max = this.#opts.maxBackoffMs!;
    let backoff = min;
    let failed: (err: unknown) => void = () => {};
    const watch = new NativeWatch(this.#source.kubeConfig, {
      stopped: () => signal.aborted,
      opening: () => this.#markSynced(),
      connected: () => {
        backoff = min;
        this.#logger.debug("Watch connected");
      },
    });
    const aborted = new Promise((r) => signal.addEventListener("abort", r, { once: true }));
    let lw: ListWatch<KubernetesObject> | undefined;
    try {
      while (!signal.aborted) {
        const failure = new Promise<unknown>((resolve) => (failed = resolve));
        try {
          if (!lw) {
            const path = await this.#source.resourcePath(apiVersion, kind, namespace);
            lw = this.#makeListWatch(path, watch, signal, (err) => failed(err));
          }
          await lw.start();
          // Healthy: wait for the next error (or shutdown).
          const err = await Promise.race([failure, aborted]);
          if (signal.aborted) break;
          this.#logger.warn("Watch failed, restarting", { error: err, backoffMs: backoff });
        } catch (err) {
          if (signal.aborted) break;
          this.#logger.warn("List/watch start failed, retrying", {
            error: err,
            backoffMs: backoff,
          });
        }
        try {
          await this.#clock.sleep(backoff, signal);
        } catch {
          break;
        }
        backoff = Math.min(backoff * 2, max);
      }
    } finally {
      await lw?.stop();
      await watch.close();
      this.#running = false;
    }
  }

  #makeListWatch(
    path: string,
    watch: Watch,
    signal: AbortSignal,
    onError: (err: unknown) => void,
  ): ListWatch<KubernetesObject> {
    const { apiVersion, kind, namespace, labelSelector, fieldSelector, transform } = this.#opts;
    const listFn = async () => {
      const list = await this.#source.list(apiVersion, kind, namespace, labelSelector, { signal });
      if (transform) list.items = list.items.map(transform);
      // Plain JSON; client-node's types claim Dates where the wire has strings.
      return list as unknown as KubernetesListObject<KubernetesObject>;
    };
    if (transform) watch = transformedWatch(watch, transform);
    const delayFn = (ms: number) => this.#clock.sleep(ms, signal).catch(() => {});
    const lw = new ListWatch<KubernetesObject>(
      path,
      watch,
      listFn,
      false,
      labelSelector,
      fieldSelector,
      { delayFn },
    );
    lw.on("add", (o) => {
      const obj = o as unknown as T;
      const k = key(obj.metadata?.namespace, obj.metadata?.name);
      const old = this.#store.get(k);
      this.#store.set(k, obj);
      this.#emit(old ? { type: "update", object: obj, old } : { type: "add", object: obj });
    });
    lw.on("update", (o) => {
      const obj = o as unknown as T;
      const k = key(obj.metadata?.namespace, obj.metadata?.name);
      const old = this.#store.get(k);
      this.#store.set(k, obj);
      if (!old) this.#emit({ type: "add", object: obj });
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) {
        this.#emit({ type: "update", object: obj, old });
      }
    });
    lw.on("delete", (o) => {
      const obj = o as unknown as T;
      const k = key(obj.metadata?.namespace, obj.metadata?.name);
      this.#store.delete(k);
      this.#emit({ type: "delete", object: obj });
    });
    lw.on("error", (err) => onError(err));
    return lw;
  }
}

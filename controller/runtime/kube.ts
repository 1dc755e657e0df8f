/**
 * A narrow port onto the Kubernetes API, built on `@kubernetes/client-node`.
 *
 * Objects go in and come out as plain JSON (the shape `kubectl get -o json` shows): no
 * client-node model classes, no `Date` conversion. Every request has a bounded timeout, and
 * every API failure becomes a {@link KubeApiError} carrying the HTTP status and the API
 * server's own message.
 * @module
 */

import { HttpMethod, KubeConfig, PatchStrategy, RequestContext } from "@kubernetes/client-node";
import type { Clock } from "../../core/clock.ts";
import { systemClock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import { silentLogger } from "../../core/log.ts";
import { httpClientFor } from "./_watch.ts";
import { EventRecorder, type EventSpec } from "./_events.ts";

export type { EventSpec } from "./_events.ts";

export * from "./kube_types.ts";
import {
  type ApplyOptions,
  type DeleteOptions,
  isStatus,
  type KubeApi,
  KubeApiError,
  type KubeList,
  type KubeObject,
  parseStatus,
  type PatchOptions,
  type RequestOptions,
} from "./kube_types.ts";

export interface KubeClientOptions {
  /** Path to a kubeconfig file. Without it: in-cluster config when `inCluster`, else the default chain. */
  kubeconfigPath?: string;
  /** Use the pod's service account (`/var/run/secrets/kubernetes.io/serviceaccount`). */
  inCluster?: boolean;
  /** Kubeconfig context to use. @default the current context */
  context?: string;
  /** Default bound for each request. @default 30000 */
  requestTimeoutMs?: number;
  /** Event `source.component` / `reportingComponent`. @default "vmcp-controller" */
  component?: string;
  /** @default systemClock */
  clock?: Clock;
  /** @default silentLogger */
  logger?: Logger;
}

/** Loads a `KubeConfig` as {@link KubeClientOptions} describe. */
export function loadKubeConfig(options: KubeClientOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  if (options.kubeconfigPath) kc.loadFromFile(options.kubeconfigPath);
  else if (options.inCluster) kc.loadFromCluster();
  else kc.loadFromDefault();
  if (options.context) kc.setCurrentContext(options.context);
  if (!kc.getCurrentCluster()) {
    throw new TypeError(
      `Cannot build a Kubernetes client: kubeconfig context "${kc.getCurrentContext()}" has no cluster`,
    );
  }
  return kc;
}

/** Builds a {@link KubeClient} from a kubeconfig path, in-cluster config or the default chain. */
export function createKubeClient(options: KubeClientOptions = {}): KubeClient {
  return new KubeClient(loadKubeConfig(options), options);
}

interface DiscoveryList {
  resources: { name: string; kind: string; namespaced: boolean }[];
}

/**
 * The {@link KubeApi} on the API server. client-node supplies the kubeconfig loading and the
 * authentication headers (tokens, exec plugins, OIDC); requests go through Deno's own fetch
 * with the context's TLS settings (client-node's undici transport under Deno misses dropped
 * connections and has crashed the process on an HTTP/2 GOAWAY when the API server restarts).
 * Call `close()` when done.
 */
export class KubeClient implements KubeApi {
  readonly kubeConfig: KubeConfig;
  /** Namespace of the current kubeconfig context (in-cluster: the pod's). */
  readonly defaultNamespace: string;
  readonly requestTimeoutMs: number;
  #http: Deno.HttpClient;
  #events: EventRecorder;
  #discovery = new Map<string, DiscoveryList>();

  constructor(kubeConfig: KubeConfig, options: KubeClientOptions = {}) {
    const timeout = options.requestTimeoutMs ?? 30_000;
    if (!(timeout > 0)) {
      throw new RangeError(`Cannot create KubeClient: requestTimeoutMs "${timeout}" must be > 0`);
    }
    this.kubeConfig = kubeConfig;
    this.requestTimeoutMs = timeout;
    this.#http = httpClientFor(kubeConfig);
    this.defaultNamespace =
      kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ||
      "default";
    this.#events = new EventRecorder(this, {
      component: options.component ?? "vmcp-controller",
      clock: options.clock ?? systemClock,
      logger: options.logger ?? silentLogger,
    });
  }

  /** Releases the HTTP client. */
  close(): void {
    this.#http.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async #send(
    method: string,
    path: string,
    init: {
      query?: Record<string, string>;
      body?: string;
      contentType?: string;
      signal: AbortSignal;
    },
  ): Promise<{ status: number; text: string }> {
    const url = new URL(this.kubeConfig.getCurrentCluster()!.server + path);
    for (const [k, v] of Object.entries(init.query ?? {})) url.searchParams.set(k, v);
    const ctx = new RequestContext(url.toString(), method as HttpMethod);
    await this.kubeConfig.applySecurityAuthentication(ctx);
    const headers: Record<string, string> = { ...ctx.getHeaders(), accept: "application/json" };
    if (init.body !== undefined) headers["content-type"] = init.contentType ?? "application/json";
    const res = await fetch(url, {
      method,
      headers,
      ...(init.body !== undefined ? { body: init.body } : {}),
      client: this.#http,
      signal: init.signal,
    });
    return { status: res.status, text: await res.text() };
  }

  /** The URL path of a collection (`namespace` optional) or, with `name`, of one object. */
  async resourcePath(
    apiVersion: string,
    kind: string,
    namespace?: string,
    name?: string,
  ): Promise<string> {
    const resource = await this.#discover(apiVersion, kind);
    const parts = [apiVersion.includes("/") ? "/apis" : "/api", apiVersion];
    if (resource.namespaced && namespace) parts.push("namespaces", encodeURIComponent(namespace));
    parts.push(resource.name);
    if (name) parts.push(encodeURIComponent(name));
    return parts.join("/");
  }

  /** Kind → resource via the group-version's APIResourceList; re-read once on a miss (new CRDs). */
  async #discover(
    apiVersion: string,
    kind: string,
  ): Promise<{ name: string; namespaced: boolean }> {
    const find = (list: DiscoveryList | undefined) =>
      list?.resources.find((r) => r.kind === kind && !r.name.includes("/"));
    const hit = find(this.#discovery.get(apiVersion));
    if (hit) return hit;
    const path = (apiVersion.includes("/") ? "/apis/" : "/api/") + apiVersion;
    const context = `Discover ${kind} in "${apiVersion}"`;
    let list: DiscoveryList;
    try {
      list = (await this.#call("Discover", `"${apiVersion}"`, HttpMethod.GET, path, {}))
        .json as DiscoveryList;
    } catch (err) {
      if (isStatus(err, 404)) {
        throw new KubeApiError(
          404,
          "UnknownKind",
          `the server does not serve "${apiVersion}"`,
          context,
        );
      }
      throw err;
    }
    this.#discovery.set(apiVersion, list);
    const found = find(list);
    if (!found) {
      throw new KubeApiError(
        404,
        "UnknownKind",
        `the server does not serve ${kind} in "${apiVersion}"`,
        context,
      );
    }
    return found;
  }

  async #call(
    verb: string,
    target: string,
    method: string,
    path: string,
    options: RequestOptions & {
      query?: Record<string, string>;
      body?: unknown;
      contentType?: string;
    },
  ): Promise<{ status: number; json: unknown }> {
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const context = `${verb} ${target}`;
    let res: { status: number; text: string };
    try {
      res = await this.#send(method, path, {
        ...(options.query ? { query: options.query } : {}),
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        ...(options.contentType ? { contentType: options.contentType } : {}),
        signal,
      });
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (timeout.aborted) {
        throw new KubeApiError(0, "Timeout", `no answer within ${timeoutMs}ms`, context, {
          cause: err,
        });
      }
      const msg = err instanceof Error ? err.message : String(err);
      throw new KubeApiError(0, "NetworkError", msg, context, { cause: err });
    }
    let json: unknown;
    try {
      json = res.text ? JSON.parse(res.text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.status < 200 || res.status > 299) {
      const st = parseStatus(json);
      throw new KubeApiError(
        res.status,
        st.reason ?? "Unknown",
        st.message ?? (res.text.slice(0, 500) || "no message"),
        context,
      );
    }
    return { status: res.status, json };
  }

  async #pathOf(obj: KubeObject, verb: string): Promise<{ path: string; target: string }> {
    const { apiVersion, kind } = obj;
    const name = obj.metadata?.name;
    if (!apiVersion || !kind || !name) {
      throw new TypeError(
        `Cannot ${verb} object: apiVersion "${apiVersion}", kind "${kind}" and metadata.name "${name}" are all required`,
      );
    }
    const ns = obj.metadata?.namespace;
    return {
      path: await this.resourcePath(apiVersion, kind, ns, name),
      target: `${kind} "${ns ? ns + "/" : ""}${name}"`,
    };
  }

  async get<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
    options: RequestOptions = {},
  ): Promise<T | undefined> {
    const path = await this.resourcePath(apiVersion, kind, namespace, name);
    try {
      return (await this.#call("Get", `${kind} "${name}"`, HttpMethod.GET, path, options))
        .json as T;
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  async list<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    namespace?: string,
    labelSelector?: string,
    options: RequestOptions = {},
  ): Promise<KubeList<T>> {
    const path = await this.resourcePath(apiVersion, kind, namespace);
    const items: T[] = [];
    let resourceVersion = "";
    let cont: string | undefined;
    do {
      const query: Record<string, string> = { limit: "500" };
      if (labelSelector) query.labelSelector = labelSelector;
      if (cont) query.continue = cont;
      const page = (await this.#call("List", kind, HttpMethod.GET, path, { ...options, query }))
        .json as { items?: T[]; metadata?: { resourceVersion?: string; continue?: string } };
      for (const item of page.items ?? []) items.push({ apiVersion, kind, ...item });
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return { items, metadata: { resourceVersion } };
  }

  async create<T extends KubeObject>(obj: T, options: RequestOptions = {}): Promise<T> {
    const { apiVersion, kind } = obj;
    if (!apiVersion || !kind) {
      throw new TypeError(
        `Cannot create object: apiVersion "${apiVersion}" and kind "${kind}" are required`,
      );
    }
    const ns = obj.metadata?.namespace;
    const path = await this.resourcePath(apiVersion, kind, ns);
    const target = `${kind} "${ns ? ns + "/" : ""}${obj.metadata?.name ?? ""}"`;
    return (await this.#call("Create", target, HttpMethod.POST, path, { ...options, body: obj }))
      .json as T;
  }

  async replace<T extends KubeObject>(obj: T, options: RequestOptions = {}): Promise<T> {
    const { path, target } = await this.#pathOf(obj, "replace");
    return (await this.#call("Replace", target, HttpMethod.PUT, path, { ...options, body: obj }))
      .json as T;
  }

  async #apply<T extends KubeObject>(obj: T, options: ApplyOptions, sub: string, force: boolean) {
    if (!options.fieldManager) {
      throw new TypeError(
        `Cannot apply object: fieldManager "${options.fieldManager}" must be non-empty`,
      );
    }
    const { path, target } = await this.#pathOf(obj, "apply");
    const query = { fieldManager: options.fieldManager, force: String(options.force ?? force) };
    return (await this.#call(
      sub ? "Apply status of" : "Apply",
      target,
      HttpMethod.PATCH,
      path + sub,
      {
        ...options,
        query,
        body: obj,
        contentType: PatchStrategy.ServerSideApply,
      },
    )).json as T;
  }

  apply<T extends KubeObject>(obj: T, options: ApplyOptions): Promise<T> {
    return this.#apply(obj, options, "", true);
  }

  applyStatus<T extends KubeObject>(obj: T, options: ApplyOptions): Promise<T> {
    return this.#apply(obj, options, "/status", false);
  }

  async #patch<T extends KubeObject>(
    obj: KubeObject,
    patch: unknown,
    options: PatchOptions,
    sub: string,
  ) {
    const { path, target } = await this.#pathOf(obj, "patch");
    const query: Record<string, string> = {};
    if (options.fieldManager) query.fieldManager = options.fieldManager;
    return (await this.#call(
      sub ? "Patch status of" : "Patch",
      target,
      HttpMethod.PATCH,
      path + sub,
      {
        ...options,
        query,
        body: patch,
        contentType: options.type === "json" ? PatchStrategy.JsonPatch : PatchStrategy.MergePatch,
      },
    )).json as T;
  }

  patch<T extends KubeObject>(
    obj: KubeObject,
    patch: unknown,
    options: PatchOptions = {},
  ): Promise<T> {
    return this.#patch<T>(obj, patch, options, "");
  }

  patchStatus<T extends KubeObject>(
    obj: KubeObject,
    patch: unknown,
    options: PatchOptions = {},
  ): Promise<T> {
    return this.#patch<T>(obj, patch, options, "/status");
  }

  async delete(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
    options: DeleteOptions = {},
  ): Promise<boolean> {
    const path = await this.resourcePath(apiVersion, kind, namespace, name);
    const body: Record<string, unknown> = {
      apiVersion: "v1",
      kind: "DeleteOptions",
      propagationPolicy: options.propagationPolicy ?? "Background",
    };
    if (options.uid) body.preconditions = { uid: options.uid };
    try {
      await this.#call("Delete", `${kind} "${name}"`, HttpMethod.DELETE, path, {
        ...options,
        body,
      });
      return true;
    } catch (err) {
      if (isStatus(err, 404)) return false;
      throw err;
    }
  }

  createEvent(involvedObject: KubeObject, event: EventSpec): Promise<void> {
    return this.#events.record(involvedObject, event);
  }
}

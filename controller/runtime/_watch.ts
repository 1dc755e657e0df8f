/**
 * Internal: a Kubernetes watch stream over Deno's native `fetch`, shaped like client-node's
 * `Watch` so that client-node's `ListWatch` can drive it.
 *
 * Why not client-node's own `Watch`: under Deno its undici stream never reports the end of
 * the connection when the API server goes away (measured: neither the close nor its 30 s
 * inactivity timer fires), so a `ListWatch` silently stops receiving events after an API
 * server restart. Deno's fetch reports the dropped connection as a read error.
 *
 * Authentication headers still come from the `KubeConfig` (tokens, exec plugins, OIDC);
 * TLS (cluster CA, client certificate) is rebuilt as a `Deno.HttpClient`.
 * @module
 */

import { type KubeConfig, RequestContext, Watch } from "@kubernetes/client-node";

/** Hooks the informer uses to observe a watch. */
export interface WatchHooks {
  /** True once the owner stopped: no new watches, no callbacks. */
  stopped(): boolean;
  /** A watch is about to open (client-node's ListWatch only watches after a stored list). */
  opening(): void;
  /** The server accepted the watch (HTTP 200). */
  connected(): void;
}

function readText(data: string | undefined, file: string | undefined): string | undefined {
  if (data) return new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
  if (file) return Deno.readTextFileSync(file);
  return undefined;
}

/** A `Deno.HttpClient` with the TLS settings of the current kubeconfig context. */
export function httpClientFor(kc: KubeConfig): Deno.HttpClient {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new TypeError("Cannot watch: the kubeconfig has no current cluster");
  if (cluster.skipTLSVerify) {
    throw new TypeError(
      `Cannot watch "${cluster.server}": insecure-skip-tls-verify is not supported; set certificate-authority`,
    );
  }
  const user = kc.getCurrentUser();
  const ca = readText(cluster.caData, cluster.caFile);
  const cert = readText(user?.certData, user?.certFile);
  const key = readText(user?.keyData, user?.keyFile);
  return Deno.createHttpClient({
    ...(ca ? { caCerts: [ca] } : {}),
    ...(cert && key ? { cert, key } : {}),
    ...(cluster.proxyUrl ? { proxy: { url: cluster.proxyUrl } } : {}),
  });
}

/** A client-node compatible `Watch` on Deno's fetch; see the module documentation. */
export class NativeWatch extends Watch {
  #kc: KubeConfig;
  #client: Deno.HttpClient;
  #hooks: WatchHooks;
  #idleMs: number;
  #active = new Set<{ ctrl: AbortController; closed: Promise<void> }>();

  /** `idleMs`: a watch that delivers nothing (not even a bookmark) for this long is re-opened. */
  constructor(kc: KubeConfig, hooks: WatchHooks, idleMs = 5 * 60_000) {
    super(kc);
    this.#kc = kc;
    this.#client = httpClientFor(kc);
    this.#hooks = hooks;
    this.#idleMs = idleMs;
  }

  override async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, obj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const ctrl = new AbortController();
    if (this.#hooks.stopped()) return ctrl;
    this.#hooks.opening();
    let closedResolve!: () => void;
    const entry = { ctrl, closed: new Promise<void>((r) => (closedResolve = r)) };
    this.#active.add(entry);
    let finished = false;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const finish = (err: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(idle);
      ctrl.abort();
      this.#active.delete(entry);
      closedResolve();
      if (!this.#hooks.stopped()) done(err);
    };
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        finish(new DOMException(`watch idle for ${this.#idleMs}ms`, "TimeoutError"));
      }, this.#idleMs);
    };
    try {
      const url = new URL(this.#kc.getCurrentCluster()!.server + path);
      url.searchParams.set("watch", "true");
      url.searchParams.set("allowWatchBookmarks", "true");
      for (const [k, v] of Object.entries(query)) {
        if (v !== undefined) url.searchParams.set(k, String(v));
      }
      const ctx = new RequestContext(url.toString(), "GET" as never);
      await this.#kc.applySecurityAuthentication(ctx);
      touch();
      const res = await fetch(url, {
        headers: { ...ctx.getHeaders(), accept: "application/json" },
        client: this.#client,
        signal: ctrl.signal,
      });
      if (res.status !== 200) {
        const body = await res.text().catch(() => "");
        finish(
          Object.assign(new Error(`watch ${path}: HTTP ${res.status}: ${body.slice(0, 300)}`), {
            statusCode: res.status,
          }),
        );
        return ctrl;
      }
      if (finished || this.#hooks.stopped()) {
        await res.body?.cancel().catch(() => {});
        finish(null);
        return ctrl;
      }
      this.#hooks.connected();
      touch();
      this.#pump(res, callback, touch, ctrl.signal).then(() => finish(null), (err) => finish(err));
    } catch (err) {
      finish(err);
    }
    return ctrl;
  }

  async #pump(
    res: Response,
    callback: (phase: string, obj: unknown, watchObj?: unknown) => void,
    touch: () => void,
    signal: AbortSignal,
  ): Promise<void> {
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const onAbort = () => reader.cancel().catch(() => {});
    signal.addEventListener("abort", onAbort, { once: true });
    let buffer = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        touch();
        buffer += value;
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (!line) continue;
          let data: { type?: string; object?: unknown };
          try {
            data = JSON.parse(line);
          } catch {
            continue;
          }
          if (data.type) callback(data.type, data.object, data);
        }
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      // Keep `res` reachable until here (see deno-notes: aborting must reach the body).
      void res.bodyUsed;
    }
  }

  /** Aborts open watches, waits (bounded) until their streams closed, closes the HTTP client. */
  async close(): Promise<void> {
    const open = [...this.#active];
    for (const w of open) w.ctrl.abort();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(open.map((w) => w.closed)),
      new Promise((r) => (timer = setTimeout(r, 2000))),
    ]);
    clearTimeout(timer);
    this.#client.close();
  }
}

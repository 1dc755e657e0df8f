/**
 * In-cluster status reporting: the proxy writes its backends' health into
 * `status.discoveredBackends` (and `status.nameCollisions`: names left claimed by several
 * backends after conflict resolution; a change is a transition) of its own VirtualMCPServer
 * with server-side apply on the status subresource, field manager `vmcp-proxy`, and nothing
 * else (the controller owns phase,
 * conditions, url and backendCount; one writer per field). Plain `fetch`: the proxy does not
 * load @kubernetes/client-node.
 *
 * When it writes (a local comparison every `watchMs`, no API traffic in between):
 * - first report once the first discovery finished;
 * - a health transition — a backend added or removed, or its status, circuit breaker, tool
 *   count, URL, transport or auth changed — is written within `watchMs`, at most once per
 *   `minGapMs` (a flapping backend costs at most one write per second);
 * - every `operational.failureHandling.statusReportingInterval` (default 30s, read from the
 *   live config so reloads apply) the volatile fields (lastHealthCheck, message,
 *   consecutiveFailures) are written too — only when something differs from the last write.
 * A failed write is logged and retried with exponential backoff (1s doubling to 30s); the
 * token file is read again for every write (projected tokens rotate).
 * @module
 */
import type { DiscoveredBackend, NameCollisionStatus } from "../crds/virtualmcpserver.ts";
import { GROUP_VERSION, PROXY_FIELD_MANAGER } from "../crds/common.ts";
import { OperationalSchema } from "../crds/aggregation.ts";
import { type Clock, systemClock } from "../core/clock.ts";
import { parseDuration } from "../core/duration.ts";
import type { Logger } from "../core/log.ts";
import { describeFetchError, type FetchFn, fetchText } from "./auth/http.ts";
import { IN_CLUSTER_CA_FILE, IN_CLUSTER_TOKEN_FILE } from "./auth/kubernetes.ts";
import { resolveStrategy } from "../core/auth/resolve_strategy.ts";
import type { ProxyRuntime } from "./runtime.ts";

/** The field manager of the proxy's status writes (the controller uses `vmcp-controller`). */
export { PROXY_FIELD_MANAGER };

/** Where the API server is and how to authenticate to it. */
export interface KubeTarget {
  /** e.g. https://10.0.0.1:443 */
  apiServerUrl: string;
  /** A fixed bearer token (tests); otherwise `tokenFile` is read for every write. */
  token?: string;
  tokenFile?: string;
  /** CA bundle of the API server; system roots when absent. */
  caPem?: string;
}

export interface StatusReporterOptions extends KubeTarget {
  /** The VirtualMCPServer this proxy serves. */
  name: string;
  namespace: string;
  /** The current backend entries (see {@link discoveredBackends}). */
  snapshot: () => DiscoveredBackend[];
  /** The current name collisions (`status.nameCollisions`); not written when absent. */
  collisions?: () => NameCollisionStatus[];
  /** The current report interval in ms (e.g. from the live config). @default 30000 */
  intervalMs?: () => number;
  /** Reporting starts once this settles (the first discovery). */
  ready?: Promise<unknown>;
  log: Logger;
  clock?: Clock;
  fetch?: FetchFn;
  /** How often the local snapshot is compared with the last write. @default 250 */
  watchMs?: number;
  /** Least time between two transition writes. @default 1000 */
  minGapMs?: number;
  /** First retry delay after a failed write; doubles up to `maxBackoffMs`. @default 1000 */
  initialBackoffMs?: number;
  /** @default 30000 */
  maxBackoffMs?: number;
  /** @default 10000 */
  requestTimeoutMs?: number;
}

export interface StatusReporter {
  /** Compare now instead of at the next tick (e.g. after a known health change). */
  poke(): void;
  /** Successful writes so far. */
  readonly writes: number;
  /** The entries of the last successful write. */
  readonly lastWritten: DiscoveredBackend[] | undefined;
  /** Stops the loop (an in-flight write is aborted) and releases the HTTP client. */
  stop(): Promise<void>;
}

const DEFAULT_INTERVAL = OperationalSchema.parse({}).failureHandling.statusReportingInterval;

/** `status.discoveredBackends` of a running proxy, sorted by name. */
export function discoveredBackends(runtime: ProxyRuntime): DiscoveredBackend[] {
  const out: DiscoveredBackend[] = [];
  for (const b of runtime.backends.values()) {
    const snap = runtime.health.get(b.name)?.snapshot();
    const entry: DiscoveredBackend = {
      name: b.name,
      transport: b.transport,
      status: snap?.status ?? "unknown",
    };
    if (b.config.url) entry.url = b.config.url;
    const strategy = resolveStrategy(b.config, runtime.config) as {
      type?: string;
      externalAuthConfigRef?: { name?: string };
    };
    if (strategy.type) entry.authType = strategy.type;
    const ref = strategy === b.config.auth
      ? b.config.authConfigRef
      : strategy.externalAuthConfigRef?.name;
    if (ref) entry.authConfigRef = ref;
    if (snap?.lastCheck) entry.lastHealthCheck = snap.lastCheck;
    if (snap?.message) entry.message = snap.message;
    if (snap?.circuitBreakerState) entry.circuitBreakerState = snap.circuitBreakerState;
    entry.consecutiveFailures = snap?.consecutiveFailures ?? 0;
    if (b.caps) entry.toolCount = b.caps.tools.length;
    out.push(entry);
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The report interval of a runtime's live config, in ms. */
export function reportIntervalMs(runtime: ProxyRuntime): number {
  const text = runtime.config.operational?.failureHandling?.statusReportingInterval ??
    DEFAULT_INTERVAL;
  return parseDuration(text);
}

/** The part of an entry whose change is a health transition (written at once). */
function transitionKey(b: DiscoveredBackend): unknown[] {
  return [
    b.name,
    b.status,
    b.circuitBreakerState,
    b.toolCount,
    b.url,
    b.transport,
    b.authType,
    b.authConfigRef,
  ];
}

/** Starts reporting; see the module documentation. */
export function startStatusReporter(opts: StatusReporterOptions): StatusReporter {
  const clock = opts.clock ?? systemClock;
  const log = opts.log;
  const doFetch = opts.fetch ?? fetch;
  const watchMs = opts.watchMs ?? 250;
  const minGapMs = opts.minGapMs ?? 1000;
  const initialBackoff = opts.initialBackoffMs ?? 1000;
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? (() => parseDuration(DEFAULT_INTERVAL));
  const httpClient = opts.caPem ? Deno.createHttpClient({ caCerts: [opts.caPem] }) : undefined;
  const api = opts.apiServerUrl.replace(/\/+$/, "");
  const url = `${api}/apis/${GROUP_VERSION}/namespaces/${encodeURIComponent(opts.namespace)}` +
    `/virtualmcpservers/${encodeURIComponent(opts.name)}/status` +
    `?fieldManager=${PROXY_FIELD_MANAGER}&force=true`;
  const target = `${opts.namespace}/${opts.name}`;
  const stopper = new AbortController();
  let wake = new AbortController();
  let writes = 0;
  let lastWritten: DiscoveredBackend[] | undefined;

  async function token(): Promise<string> {
    if (opts.token !== undefined) return opts.token;
    const file = opts.tokenFile ?? IN_CLUSTER_TOKEN_FILE;
    try {
      return (await Deno.readTextFile(file)).trim();
    } catch (err) {
      throw new Error(`cannot read the service-account token ${file}: ${describeFetchError(err)}`);
    }
  }

  /** One server-side apply; resolves to an error description, or undefined on success. */
  async function write(
    entries: DiscoveredBackend[],
    collisions: NameCollisionStatus[] | undefined,
  ): Promise<string | undefined> {
    const body = JSON.stringify({
      apiVersion: GROUP_VERSION,
      kind: "VirtualMCPServer",
      metadata: { name: opts.name, namespace: opts.namespace },
      status: {
        discoveredBackends: entries,
        ...(collisions ? { nameCollisions: collisions } : {}),
      },
    });
    try {
      const res = await fetchText(
        doFetch,
        url,
        {
          method: "PATCH",
          headers: {
            authorization: `Bearer ${await token()}`,
            // JSON is YAML: the API server's apply-patch+yaml decoder reads it.
            "content-type": "application/apply-patch+yaml",
            accept: "application/json",
          },
          body,
          ...(httpClient ? { client: httpClient } : {}),
        },
        opts.requestTimeoutMs ?? 10_000,
        stopper.signal,
      );
      if (res.status >= 200 && res.status < 300) return undefined;
      let message = res.body.slice(0, 300);
      try {
        message = (JSON.parse(res.body) as { message?: string }).message ?? message;
      } catch {
        // not a Status object
      }
      const hint = res.status === 401
        ? " (token rejected)"
        : res.status === 403
        ? ` (the service account needs patch on virtualmcpservers/status "${opts.name}")`
        : res.status === 404
        ? " (VirtualMCPServer or its CRD not found)"
        : "";
      return `HTTP ${res.status}${hint}: ${message}`;
    } catch (err) {
      return describeFetchError(err);
    }
  }

  async function run(): Promise<void> {
    const signal = stopper.signal;
    if (opts.ready) {
      await Promise.race([
        opts.ready.catch(() => {}),
        new Promise((r) => signal.addEventListener("abort", r, { once: true })),
      ]);
    }
    let writtenKey: string | undefined;
    let writtenFull: string | undefined;
    let lastWriteAt = -Infinity;
    let nextPeriodicAt = clock.now() + intervalMs();
    let periodicDue = false;
    let failures = 0;
    let retryAt = 0;
    while (!signal.aborted) {
      const now = clock.now();
      if (now >= nextPeriodicAt) {
        periodicDue = true;
        nextPeriodicAt = now + Math.max(intervalMs(), watchMs);
      }
      const entries = opts.snapshot();
      const collisions = opts.collisions?.();
      const key = JSON.stringify([entries.map(transitionKey), collisions]);
      const full = JSON.stringify([entries, collisions]);
      const transition = writtenKey === undefined ||
        (key !== writtenKey && now - lastWriteAt >= minGapMs);
      const changed = full !== writtenFull;
      if (periodicDue && !changed) periodicDue = false;
      if ((transition || (periodicDue && changed)) && now >= retryAt) {
        const error = await write(entries, collisions);
        if (signal.aborted) break;
        if (error === undefined) {
          if (failures > 0) log.info("status reporting recovered", { vmcp: target, failures });
          log.debug("reported backend status", {
            vmcp: target,
            backends: entries.map((b) => `${b.name}=${b.status}`),
          });
          writtenKey = key;
          writtenFull = full;
          lastWritten = entries;
          lastWriteAt = clock.now();
          periodicDue = false;
          failures = 0;
          retryAt = 0;
          writes++;
        } else {
          failures++;
          const delay = Math.min(maxBackoff, initialBackoff * 2 ** Math.min(failures - 1, 20));
          retryAt = clock.now() + delay;
          log.warn("cannot report backend status to the VirtualMCPServer", {
            vmcp: target,
            error,
            attempt: failures,
            retryInMs: delay,
          });
        }
      }
      try {
        await clock.sleep(watchMs, AbortSignal.any([signal, wake.signal]));
      } catch {
        if (wake.signal.aborted) wake = new AbortController();
      }
    }
  }

  const loop = run().catch((err) =>
    log.error("status reporter stopped unexpectedly", { vmcp: target, error: String(err) })
  );
  log.info("reporting backend status to the VirtualMCPServer", {
    vmcp: target,
    apiServer: api,
  });
  return {
    poke: () => wake.abort(),
    get writes() {
      return writes;
    },
    get lastWritten() {
      return lastWritten;
    },
    async stop() {
      stopper.abort();
      await loop;
      httpClient?.close();
    },
  };
}

function inClusterApiUrl(env: (name: string) => string | undefined): string | undefined {
  const host = env("KUBERNETES_SERVICE_HOST");
  if (!host) return undefined;
  const port = env("KUBERNETES_SERVICE_PORT") ?? "443";
  return `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

function readIfExists(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/**
 * Where to report, from the environment: undefined when standalone (VMCP_NAME or
 * VMCP_NAMESPACE unset); a string when reporting is wanted but impossible (why).
 * - API server: VMCP_KUBE_API_URL, else https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT;
 * - token file: VMCP_KUBE_TOKEN_FILE, else the in-cluster service-account token;
 * - CA bundle: VMCP_KUBE_CA_FILE, else the in-cluster ca.crt when present, else system roots.
 */
export function reporterTargetFromEnv(
  env: (name: string) => string | undefined,
): (KubeTarget & { name: string; namespace: string }) | string | undefined {
  const name = env("VMCP_NAME");
  const namespace = env("VMCP_NAMESPACE");
  if (!name || !namespace) return undefined;
  const apiServerUrl = env("VMCP_KUBE_API_URL") || inClusterApiUrl(env);
  if (!apiServerUrl) {
    return "no API server: set VMCP_KUBE_API_URL or run in a cluster (KUBERNETES_SERVICE_HOST)";
  }
  if (!URL.canParse(apiServerUrl)) {
    return `VMCP_KUBE_API_URL "${apiServerUrl}" is not a URL (expected https://host:port)`;
  }
  const caFile = env("VMCP_KUBE_CA_FILE");
  let caPem: string | undefined;
  try {
    caPem = caFile ? Deno.readTextFileSync(caFile) : readIfExists(IN_CLUSTER_CA_FILE);
  } catch (err) {
    return `cannot read VMCP_KUBE_CA_FILE "${caFile ?? IN_CLUSTER_CA_FILE}": ${
      describeFetchError(err)
    }`;
  }
  const target: KubeTarget & { name: string; namespace: string } = {
    name,
    namespace,
    apiServerUrl,
    tokenFile: env("VMCP_KUBE_TOKEN_FILE") || IN_CLUSTER_TOKEN_FILE,
  };
  if (caPem) target.caPem = caPem;
  return target;
}

/**
 * Starts the reporter for a running proxy when the environment says it runs for a
 * VirtualMCPServer; logs (never throws) when it cannot.
 */
export function startStatusReporterFromEnv(
  runtime: ProxyRuntime,
  env: (name: string) => string | undefined,
  log: Logger,
): StatusReporter | undefined {
  const target = reporterTargetFromEnv(env);
  if (target === undefined) return undefined;
  if (typeof target === "string") {
    log.warn("backend status is not reported to the VirtualMCPServer", { reason: target });
    return undefined;
  }
  return startStatusReporter({
    ...target,
    snapshot: () => discoveredBackends(runtime),
    collisions: () => runtime.fullView.collisions,
    intervalMs: () => reportIntervalMs(runtime),
    ready: runtime.ready(),
    log,
  });
}

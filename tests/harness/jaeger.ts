/**
 * A real Jaeger all-in-one for the OpenTelemetry tests: the v2 collector-based `jaeger` binary
 * (built from source by scripts/build-jaeger.sh, cached outside the repository) with in-memory
 * storage, an OTLP/HTTP receiver and the query API, each on a free loopback port.
 *
 * `ensureJaeger()` resolves to the binary or to the reason it cannot be had, so a test that
 * cannot get it is ignored with that reason in its name instead of failing. `startJaeger()`
 * writes a config, starts the process and waits until the query API answers; `traces(service)`
 * reads what Jaeger stored through `/api/traces` (the same API its UI uses).
 * @module
 */
import { freePorts, waitForPort } from "./ports.ts";
import { logTail, raceExit, type ServiceProcess, spawnService } from "./process.ts";

/** The Jaeger release the build script produces by default. */
export const JAEGER_VERSION = Deno.env.get("JAEGER_VERSION") ?? "v1.76.0";
const BUILD_SCRIPT = new URL("../../scripts/build-jaeger.sh", import.meta.url).pathname;

export type JaegerAvailability = { ok: true; bin: string } | { ok: false; reason: string };

/** Where the build script caches the binary of `version`. */
export function jaegerCachePath(version = JAEGER_VERSION): string {
  const root = Deno.env.get("VMCP_CACHE") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache/vmcp`;
  return `${root}/jaeger/${version}/jaeger`;
}

async function runs(bin: string): Promise<boolean> {
  try {
    const out = await new Deno.Command(bin, {
      args: ["version"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

let available: Promise<JaegerAvailability> | undefined;

/**
 * The Jaeger binary: JAEGER_BIN if it runs, else the cache, building there first (many minutes)
 * when needed. Never throws: a failure is the reason tests are ignored with.
 */
export function ensureJaeger(): Promise<JaegerAvailability> {
  available ??= (async (): Promise<JaegerAvailability> => {
    const given = Deno.env.get("JAEGER_BIN");
    if (given && await runs(given)) return { ok: true, bin: given };
    const cached = jaegerCachePath();
    if (await runs(cached)) return { ok: true, bin: cached };
    try {
      const out = await new Deno.Command("bash", {
        args: [BUILD_SCRIPT],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      const path = dec.decode(out.stdout).trim().split("\n").at(-1) ?? "";
      if (out.success && await runs(path)) return { ok: true, bin: path };
      return {
        ok: false,
        reason: `jaeger ${JAEGER_VERSION} could not be built (${BUILD_SCRIPT} exit ${out.code}): ${
          dec.decode(out.stderr).trim().split("\n").slice(-3).join(" / ")
        }`,
      };
    } catch (err) {
      return { ok: false, reason: `jaeger ${JAEGER_VERSION} could not be built: ${err}` };
    }
  })();
  return available;
}

/** One span as Jaeger's query API returns it. */
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references?: { refType: string; traceID: string; spanID: string }[];
  tags: { key: string; type: string; value: unknown }[];
  processID: string;
  startTime: number;
  duration: number;
}

/** One trace as Jaeger's query API returns it. */
export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

/** A tag's value on `span`, or undefined. */
export function tagOf(span: JaegerSpan, key: string): unknown {
  return span.tags.find((t) => t.key === key)?.value;
}

/** The span id of `span`'s parent (its CHILD_OF reference), or undefined for a root. */
export function parentOf(span: JaegerSpan): string | undefined {
  return span.references?.find((r) => r.refType === "CHILD_OF")?.spanID;
}

export interface Jaeger {
  /** OTLP/HTTP base URL (`http://127.0.0.1:<port>`): spans go to `<otlpUrl>/v1/traces`. */
  readonly otlpUrl: string;
  /** Query API base URL (`http://127.0.0.1:<port>`). */
  readonly queryUrl: string;
  readonly logPath: string;
  /** Traces of `service` Jaeger holds (empty when it has none). */
  traces(service: string, opts?: { limit?: number }): Promise<JaegerTrace[]>;
  /** One trace by id (32 hex digits), or undefined when Jaeger has none. */
  trace(traceId: string): Promise<JaegerTrace | undefined>;
  /** Service names Jaeger has received spans from. */
  services(): Promise<string[]>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface StartJaegerOptions {
  /** How long to wait for the query API. @default 60 s */
  startTimeoutMs?: number;
}

/** The all-in-one pipeline (OTLP/HTTP in, memory storage, query API) on the given ports. */
export function jaegerConfig(ports: { otlp: number; query: number; queryGrpc: number }): string {
  return `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: memstore
    enable_tracing: false
    http:
      endpoint: 127.0.0.1:${ports.query}
    grpc:
      endpoint: 127.0.0.1:${ports.queryGrpc}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${ports.otlp}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

/** Starts Jaeger all-in-one with `bin` and waits until its query API answers. */
export async function startJaeger(bin: string, opts: StartJaegerOptions = {}): Promise<Jaeger> {
  const dir = await Deno.makeTempDir({ prefix: "vmcp-jaeger-" });
  const [otlp, query, queryGrpc] = freePorts(3) as [number, number, number];
  const configPath = `${dir}/config.yaml`;
  await Deno.writeTextFile(configPath, jaegerConfig({ otlp, query, queryGrpc }));
  const proc: ServiceProcess = spawnService({
    name: "jaeger",
    bin,
    args: ["--config", configPath],
    logPath: `${dir}/jaeger.log`,
  });
  const queryUrl = `http://127.0.0.1:${query}`;
  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  const ready = (async () => {
    await waitForPort(otlp, timeoutMs);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        if ((await getJson(`${queryUrl}/api/services`)).status === 200) return;
      } catch { /* not yet */ }
      if (Date.now() > deadline) {
        throw new Error(`jaeger's query API did not answer within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  try {
    await raceExit(proc, ready);
  } catch (err) {
    await proc.stop();
    throw new Error(`${err}\nlog:\n${await logTail(proc.logPath)}`);
  }
  const stop = async () => {
    await proc.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  return {
    otlpUrl: `http://127.0.0.1:${otlp}`,
    queryUrl,
    logPath: proc.logPath,
    async traces(service, o = {}) {
      const q = new URLSearchParams({
        service,
        limit: String(o.limit ?? 100),
        lookback: "1h",
      });
      const { status, body } = await getJson(`${queryUrl}/api/traces?${q}`);
      const data = (body as { data?: JaegerTrace[] | null })?.data;
      if (status === 200) return data ?? [];
      // An unknown service is "not found" in some versions: no traces.
      if (status === 404 || status === 400) return [];
      throw new Error(`jaeger /api/traces answered ${status}: ${JSON.stringify(body)}`);
    },
    async trace(traceId) {
      const { status, body } = await getJson(`${queryUrl}/api/traces/${traceId}`);
      if (status === 404) return undefined;
      if (status !== 200) {
        throw new Error(
          `jaeger /api/traces/${traceId} answered ${status}: ${JSON.stringify(body)}`,
        );
      }
      return (body as { data?: JaegerTrace[] }).data?.[0];
    },
    async services() {
      const { body } = await getJson(`${queryUrl}/api/services`);
      return (body as { data?: string[] | null })?.data ?? [];
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

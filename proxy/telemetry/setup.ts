/**
 * Starts OpenTelemetry from the config's `telemetry` block: a tracer provider with a
 * ratio sampler and a batching OTLP/HTTP span exporter (tracingEnabled), a meter provider with a
 * periodic OTLP/HTTP metric exporter (metricsEnabled), and the async-context manager that lets a
 * request's span follow its async work. Installs the hooks' `Instrumentation` (instrument.ts)
 * and returns what flushes and stops it. With both off nothing is created and the hooks stay
 * off.
 * @module
 */
import { otlpBaseUrl, type TelemetryConfig } from "../../crds/telemetry.ts";
import type { Logger } from "../../core/log.ts";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  AsyncLocalStorageContextManager,
  BatchSpanProcessor,
  context,
  MeterProvider,
  OTLPMetricExporter,
  OTLPTraceExporter,
  ParentBasedSampler,
  PeriodicExportingMetricReader,
  resourceFromAttributes,
  type Sampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "../../core/telemetry.ts";
import { Instrumentation, setTelemetry } from "./instrument.ts";

let contextManagerSet = false;

export interface TelemetryHandle {
  /** Sends what is buffered now. */
  flush(): Promise<void>;
  /** Flushes, stops the exporters and turns the hooks off. */
  shutdown(): Promise<void>;
}

export interface StartTelemetryOptions {
  /** service.name when the config has none. @default "vmcp" */
  defaultServiceName?: string;
  serviceVersion?: string;
  log?: Logger;
  /** Metric export interval. @default 60 s */
  metricIntervalMs?: number;
}

/**
 * The sampler: `samplingRate` by trace id for new traces and for a client's sampled parent (a
 * client cannot raise the rate); a client's "not sampled" is honoured; spans inside a sampled
 * local span (backend, workflow, step) always follow it.
 */
export function samplerFor(rate: number): Sampler {
  const ratio = rate >= 1
    ? new AlwaysOnSampler()
    : rate <= 0
    ? new AlwaysOffSampler()
    : new TraceIdRatioBasedSampler(rate);
  return new ParentBasedSampler({
    root: ratio,
    remoteParentSampled: ratio,
    remoteParentNotSampled: new AlwaysOffSampler(),
  });
}

/**
 * Starts telemetry for `config` (undefined or both signals off: nothing, and undefined is
 * returned). The exporters send to `<endpoint>/v1/traces` and `<endpoint>/v1/metrics`.
 */
export function startTelemetry(
  config: TelemetryConfig | undefined,
  opts: StartTelemetryOptions = {},
): TelemetryHandle | undefined {
  if (!config || (!config.tracingEnabled && !config.metricsEnabled) || !config.endpoint) {
    return undefined;
  }
  const base = otlpBaseUrl(config.endpoint, config.insecure);
  const resource = resourceFromAttributes({
    "service.name": config.serviceName ?? opts.defaultServiceName ?? "vmcp",
    ...(opts.serviceVersion ? { "service.version": opts.serviceVersion } : {}),
  });
  // Spans follow a request's async work (one manager per process).
  contextManagerSet ||= context.setGlobalContextManager(
    new AsyncLocalStorageContextManager().enable(),
  );
  let tracerProvider: TracerProvider | undefined;
  if (config.tracingEnabled) {
    tracerProvider = new TracerProvider({
      resource,
      sampler: samplerFor(config.samplingRate),
      spanProcessors: [
        new BatchSpanProcessor({
          exporter: new OTLPTraceExporter({ url: `${base}/v1/traces` }),
          scheduledDelayMillis: 1000,
        }),
      ],
    });
  }
  let meterProvider: MeterProvider | undefined;
  if (config.metricsEnabled) {
    meterProvider = new MeterProvider({
      resource,
      readers: [
        new PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }),
          exportIntervalMillis: opts.metricIntervalMs ?? 60_000,
        }),
      ],
    });
  }
  const meter = meterProvider?.getMeter("vmcp");
  setTelemetry(
    new Instrumentation({
      tracer: tracerProvider?.getTracer("vmcp", opts.serviceVersion),
      serverDuration: meter?.createHistogram("mcp.server.operation.duration", {
        unit: "s",
        description: "Duration of MCP requests from clients, by method and error type.",
      }),
      clientDuration: meter?.createHistogram("mcp.client.operation.duration", {
        unit: "s",
        description: "Duration of MCP requests to backends, by backend, method and error type.",
      }),
    }),
  );
  opts.log?.info("OpenTelemetry started", {
    endpoint: base,
    tracing: config.tracingEnabled,
    metrics: config.metricsEnabled,
    samplingRate: config.samplingRate,
  });
  const flush = async () => {
    await Promise.all([tracerProvider?.forceFlush(), meterProvider?.forceFlush()]);
  };
  return {
    flush,
    async shutdown() {
      setTelemetry(undefined);
      await Promise.all([
        tracerProvider?.shutdown().catch((err) => warnShutdown(opts.log, err)),
        meterProvider?.shutdown().catch((err) => warnShutdown(opts.log, err)),
      ]);
    },
  };
}

function warnShutdown(log: Logger | undefined, err: unknown): void {
  log?.warn("OpenTelemetry did not shut down cleanly", { error: String(err) });
}

/**
 * The OpenTelemetry packages product code uses, re-exported from one place (like core/sdk.ts for
 * the MCP SDK): the API (spans, context, propagation), the trace and metrics SDKs, the OTLP/HTTP
 * exporters, resources and the W3C trace-context propagator. Versions are pinned in deno.json.
 * @module
 */
export {
  type Attributes,
  type Context,
  context,
  type Counter,
  type Histogram,
  type Meter,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
export { W3CTraceContextPropagator } from "@opentelemetry/core";
export { resourceFromAttributes } from "@opentelemetry/resources";
export {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
export { MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
export { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
export { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
export { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";

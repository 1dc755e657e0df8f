/**
 * `telemetry`: OpenTelemetry traces and metrics sent over OTLP/HTTP (ToolHive's `telemetry`
 * block: `endpoint`, `serviceName`, `tracingEnabled`, `metricsEnabled`, `samplingRate`,
 * `insecure`). Off by default. Shared by the CRD spec and the standalone file; the proxy side is
 * proxy/telemetry/.
 * @module
 */
import { z } from "zod";

/** `http(s)://host[:port][/path]` of an endpoint given as a URL or as ToolHive's `host:port`. */
export function otlpBaseUrl(endpoint: string, insecure: boolean): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint)
    ? endpoint
    : `${insecure ? "http" : "https"}://${endpoint}`;
  return withScheme.replace(/\/+$/, "");
}

/** An endpoint as error messages show it: not at all when it may hold credentials. */
function shown(endpoint: string): string {
  return endpoint.includes("@")
    ? "the endpoint (not shown: it may hold credentials)"
    : `"${endpoint}"`;
}

function endpointProblem(endpoint: string, insecure: boolean): string | undefined {
  const value = shown(endpoint);
  let url: URL;
  try {
    url = new URL(otlpBaseUrl(endpoint, insecure));
  } catch {
    return `${value} is not a URL or host:port; use e.g. http://otel-collector:4318 or otel-collector:4318`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    const scheme = url.protocol.slice(0, -1);
    return `${value} uses ${scheme}; only http and https (OTLP/HTTP) are allowed`;
  }
  if (url.search || url.hash || url.username || url.password) {
    return `${value} carries a query, fragment or credentials; give only scheme, host, port and path`;
  }
  return undefined;
}

export const TelemetryConfigSchema = z.strictObject({
  endpoint: z.string().min(1).optional().describe(
    "OTLP/HTTP endpoint of the collector: a base URL (http://otel-collector:4318) or host:port (the scheme then follows insecure). Traces go to <endpoint>/v1/traces and metrics to <endpoint>/v1/metrics. Required when tracingEnabled or metricsEnabled is true, refused when both are false.",
  ),
  serviceName: z.string().min(1).max(255).optional().describe(
    "service.name of the spans and metrics. @default the VirtualMCPServer's name (standalone file: its name).",
  ),
  tracingEnabled: z.boolean().default(false).describe(
    "Send traces: a server span per client request, a client span per backend request (W3C traceparent sent to HTTP backends and taken from clients), spans for composite workflows and their steps.",
  ),
  metricsEnabled: z.boolean().default(false).describe(
    "Send OTLP metrics (request counts and durations of client and backend requests) beside the Prometheus /metrics.",
  ),
  samplingRate: z.number().min(0).max(1).default(0.05).describe(
    "Share of traces recorded, from 0 to 1 (by trace id, so every service that samples by ratio keeps the same traces). A client's traceparent that says 'not sampled' is honoured; one that says 'sampled' cannot raise the rate.",
  ),
  insecure: z.boolean().default(false).describe(
    "With a host:port endpoint: use http instead of https. Ignored when the endpoint has a scheme.",
  ),
}).superRefine((t, ctx) => {
  const on = t.tracingEnabled || t.metricsEnabled;
  if (on && t.endpoint === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["endpoint"],
      message:
        "Required when tracingEnabled or metricsEnabled is true: the OTLP/HTTP collector, e.g. http://otel-collector:4318",
    });
  }
  if (!on && t.endpoint !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["endpoint"],
      message:
        "Set but unused: tracingEnabled and metricsEnabled are both false; enable one or remove endpoint",
      input: t.endpoint,
    });
  }
  const problem = t.endpoint === undefined ? undefined : endpointProblem(t.endpoint, t.insecure);
  if (problem) {
    const hidden = t.endpoint!.includes("@");
    ctx.addIssue({
      code: "custom",
      path: ["endpoint"],
      message: problem,
      ...(hidden ? {} : { input: t.endpoint }),
    });
  }
}).describe(
  "OpenTelemetry (off by default): traces and metrics sent over OTLP/HTTP. Spans carry MCP method, tool, prompt and resource names, session ids and error codes, never arguments or tokens.",
);
export type TelemetryConfig = z.infer<typeof TelemetryConfigSchema>;
export type TelemetryConfigInput = z.input<typeof TelemetryConfigSchema>;

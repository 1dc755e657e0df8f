import assert from "node:assert/strict";
import { otlpBaseUrl, TelemetryConfigSchema } from "./telemetry.ts";

Deno.test("otlpBaseUrl() keeps a URL's scheme and gives host:port the one insecure picks", () => {
  assert.equal(otlpBaseUrl("https://otel.example:4318/", false), "https://otel.example:4318");
  assert.equal(otlpBaseUrl("http://otel:4318/base", false), "http://otel:4318/base");
  assert.equal(otlpBaseUrl("otel-collector:4318", true), "http://otel-collector:4318");
  assert.equal(otlpBaseUrl("otel-collector:4318", false), "https://otel-collector:4318");
});

Deno.test("TelemetryConfigSchema is off by default with ToolHive's samplingRate default", () => {
  assert.deepEqual(TelemetryConfigSchema.parse({}), {
    tracingEnabled: false,
    metricsEnabled: false,
    samplingRate: 0.05,
    insecure: false,
  });
});

Deno.test("TelemetryConfigSchema refuses an endpoint with credentials, naming the field", () => {
  const r = TelemetryConfigSchema.safeParse({
    endpoint: "https://user:pw@otel:4318",
    tracingEnabled: true,
  });
  assert.equal(r.success, false);
  assert.deepEqual(r.error?.issues[0]?.path, ["endpoint"]);
  assert.match(r.error?.issues[0]?.message ?? "", /credentials/);
  assert.doesNotMatch(JSON.stringify(r.error?.issues), /pw/, "the password is not repeated");
});

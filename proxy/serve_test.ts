import assert from "node:assert/strict";
import { VmcpConfigSchema } from "../crds/vmcp_config.ts";
import { startProxy } from "./serve.ts";
import { telemetry } from "./telemetry/instrument.ts";

const TELEMETRY = {
  endpoint: "http://127.0.0.1:9", // never reached: the proxy does not start
  tracingEnabled: true,
  metricsEnabled: true,
};

function config(extra: Record<string, unknown>) {
  return VmcpConfigSchema.parse({
    name: "serve-test",
    groupRef: { name: "g" },
    backends: [],
    telemetry: TELEMETRY,
    ...extra,
  });
}

// The instrumentation is process-wide: a proxy that failed to start must not leave it on for
// the next proxy of the process (nor its periodic metric export running).
Deno.test("startProxy on a taken port fails and leaves no OpenTelemetry running", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await assert.rejects(
      startProxy({ host: "127.0.0.1", port: taken.addr.port, config: config({}) }),
      Deno.errors.AddrInUse,
    );
    assert.equal(telemetry, undefined, "instrumentation still installed after the failed start");
  } finally {
    taken.close();
  }
});

Deno.test("startProxy with an audit file it cannot open fails and leaves no OpenTelemetry running", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const filePath = `${dir}/missing-dir/audit.log`;
    await assert.rejects(
      startProxy({
        host: "127.0.0.1",
        port: 0,
        config: config({ audit: { enabled: true, output: "file", filePath } }),
      }),
      /filePath/,
    );
    assert.equal(telemetry, undefined, "instrumentation still installed after the failed start");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

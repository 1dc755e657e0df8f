import assert from "node:assert/strict";
import { BackendConfigSchema } from "../../crds/vmcp_config.ts";
import { silentLogger } from "../../core/log.ts";
import { serveHttpBackend } from "../../tests/fixtures/serve_http.ts";
import { serveV2Backend } from "../../tests/fixtures/v2_backend.ts";
import { Forwarder } from "../../tests/proxy/helpers.ts";
import { Backend, type BackendEvents } from "./backend.ts";
import { legacyRefused, protocolOf } from "./backend_era.ts";
import { BackendUnavailableError } from "./errors.ts";

const cfg = (url: string) => BackendConfigSchema.parse({ name: "m", url });

Deno.test("protocolOf: auto for streamable-http by default, legacy for sse and stdio", () => {
  assert.equal(protocolOf(cfg("http://127.0.0.1:9/mcp")), "auto");
  assert.equal(
    protocolOf(BackendConfigSchema.parse({ name: "m", url: "http://h/mcp", protocol: "legacy" })),
    "legacy",
  );
  assert.equal(
    protocolOf(BackendConfigSchema.parse({ name: "m", transport: "sse", url: "http://h/sse" })),
    "legacy",
  );
  assert.equal(
    protocolOf(BackendConfigSchema.parse({ name: "m", transport: "stdio", command: "x" })),
    "legacy",
  );
});

Deno.test("legacyRefused: a 4xx initialize under protocol legacy says what to set", () => {
  const forced = BackendConfigSchema.parse({ name: "m", url: "http://h/mcp", protocol: "legacy" });
  const err = new BackendUnavailableError("m", "HTTP 400: unsupported", 400);
  const e = legacyRefused(forced, err) as BackendUnavailableError;
  assert.match(e.message, /protocol is "legacy" but the backend refused initialize \(HTTP 400\)/);
  assert.match(e.message, /set protocol to auto or modern/);
  assert.equal(legacyRefused(cfg("http://h/mcp"), err), err, "auto: unchanged");
  const down = new BackendUnavailableError("m", "refused");
  assert.equal(legacyRefused(forced, down), down, "no HTTP status: unchanged");
});

const events: BackendEvents = {
  onListChanged: () => {},
  onResourceUpdated: () => {},
  onOutcome: () => {},
};

Deno.test("Backend: a legacy backend upgraded to 2026-07-28 behind the same URL is noticed at rediscovery", async () => {
  const old = await serveHttpBackend({ name: "old" });
  const v2 = await serveV2Backend();
  const fwd = new Forwarder(Number(new URL(old.url).port));
  const backend = new Backend({
    config: cfg(fwd.url),
    timeoutMs: 30_000,
    events,
    log: silentLogger,
  });
  try {
    const before = await backend.discover();
    assert.ok(before.tools.length > 0);
    assert.ok(!before.tools.some((t) => t.name === "progress"), "legacy tools first");
    fwd.target = Number(new URL(v2.url).port); // new connections reach the upgraded server
    const after = await backend.discover();
    assert.deepEqual(after.tools.map((t) => t.name).sort(), [
      "add_tool",
      "confirm",
      "echo",
      "in_region",
      "log",
      "progress",
      "touch",
    ]);
    const r = await backend.request("tools/call", { name: "echo", arguments: { message: "up" } });
    assert.deepEqual(r.content, [{ type: "text", text: "up" }]);
    assert.ok(!v2.recorded.some((x) => x.method === "initialize"));
  } finally {
    await backend.close();
    fwd.kill();
    await old.stop();
    await v2.stop();
  }
});

Deno.test("Backend: a 2026-07-28 backend replaced by a legacy one behind the same URL is noticed at rediscovery", async () => {
  const v2 = await serveV2Backend();
  const old = await serveHttpBackend({ name: "old" });
  const fwd = new Forwarder(Number(new URL(v2.url).port));
  const backend = new Backend({
    config: cfg(fwd.url),
    timeoutMs: 30_000,
    events,
    log: silentLogger,
  });
  try {
    const before = await backend.discover();
    assert.ok(before.tools.some((t) => t.name === "in_region"), "modern tools first");
    fwd.target = Number(new URL(old.url).port);
    await v2.stop(); // its connections close; new ones reach the legacy server
    const after = await backend.discover();
    assert.ok(!after.tools.some((t) => t.name === "in_region"), "legacy tools now");
    const r = await backend.request("tools/call", { name: "echo", arguments: { message: "down" } });
    assert.deepEqual(r.content, [{ type: "text", text: "down" }]);
  } finally {
    await backend.close();
    fwd.kill();
    await old.stop();
    await v2.stop();
  }
});

import assert from "node:assert/strict";
import { BackendConfigSchema } from "../../crds/vmcp_config.ts";
import { serveHttpBackend } from "../../tests/fixtures/serve_http.ts";
import { serveV2Backend } from "../../tests/fixtures/v2_backend.ts";
import { hungServer } from "../../tests/proxy/helpers.ts";
import { freePort } from "../../tests/harness/ports.ts";
import { probeEra } from "./era_probe.ts";
import { BackendTimeoutError, BackendUnavailableError } from "./errors.ts";

const cfg = (url: string) => BackendConfigSchema.parse({ name: "b", url });
const deadline = () => AbortSignal.timeout(30_000);

/** A server answering every request with `status` and `body`. */
function answering(status: number, body: unknown) {
  const abort = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: abort.signal, onListen: () => {} },
    () => Response.json(body, { status }),
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/mcp`,
    stop: async () => {
      abort.abort();
      await server.finished;
    },
  };
}

Deno.test("probeEra: a v2 stateless backend is modern, with its discover result; the probe carries the envelope", async () => {
  const b = await serveV2Backend();
  try {
    const v = await probeEra(cfg(b.url), { authorization: "Bearer t" }, deadline());
    assert.equal(v.era, "modern");
    assert.ok(
      v.era === "modern" && (v.discover.supportedVersions as string[]).includes("2026-07-28"),
    );
    const seen = b.recorded.at(-1)!;
    assert.equal(seen.method, "server/discover");
    assert.equal(seen.headers["mcp-protocol-version"], "2026-07-28");
    assert.equal(seen.headers["mcp-method"], "server/discover");
    assert.equal(seen.headers.authorization, "Bearer t");
    assert.equal(seen.meta?.["io.modelcontextprotocol/protocolVersion"], "2026-07-28");
    assert.deepEqual(seen.meta?.["io.modelcontextprotocol/clientInfo"], {
      name: "vmcp",
      version: "1.0.0",
    });
  } finally {
    await b.stop();
  }
});

Deno.test("probeEra: a legacy SDK v1 backend is legacy", async () => {
  const b = await serveHttpBackend({ name: "old" });
  try {
    const v = await probeEra(cfg(b.url), {}, deadline());
    assert.equal(v.era, "legacy", JSON.stringify(v));
    assert.match((v as { reason: string }).reason, /HTTP 4\d\d/);
  } finally {
    await b.stop();
  }
});

for (
  const [what, status, body] of [
    ["HTTP 405", 405, { error: "method not allowed" }],
    ["-32022 (unsupported version)", 400, {
      jsonrpc: "2.0",
      id: 1,
      error: { code: -32022, message: "Unsupported", data: { supported: ["2025-11-25"] } },
    }],
    ["a JSON-RPC error with HTTP 200", 200, {
      jsonrpc: "2.0",
      id: 1,
      error: { code: -32601, message: "Method not found" },
    }],
    ["a result without 2026-07-28", 200, {
      jsonrpc: "2.0",
      id: 1,
      result: { supportedVersions: ["2027-03-01"] },
    }],
  ] as const
) {
  Deno.test(`probeEra: ${what} is legacy`, async () => {
    const s = answering(status, body);
    try {
      const v = await probeEra(cfg(s.url), {}, deadline());
      assert.equal(v.era, "legacy", JSON.stringify(v));
    } finally {
      await s.stop();
    }
  });
}

Deno.test("probeEra: HTTP 503 is an outage, not a verdict", async () => {
  const s = answering(503, {});
  try {
    await assert.rejects(
      probeEra(cfg(s.url), {}, deadline()),
      (e) => e instanceof BackendUnavailableError && /HTTP 503/.test(e.message),
    );
  } finally {
    await s.stop();
  }
});

Deno.test("probeEra: a refused connection is an outage naming the backend", async () => {
  const url = `http://127.0.0.1:${freePort()}/mcp`;
  await assert.rejects(
    probeEra(cfg(url), {}, deadline()),
    (e) => e instanceof BackendUnavailableError && /Backend "b"/.test(e.message),
  );
});

Deno.test("probeEra: a backend that never answers hits the caller's deadline (outage)", async () => {
  const s = hungServer();
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new BackendTimeoutError("b", 200, "era probe")), 200);
  try {
    await assert.rejects(probeEra(cfg(s.url), {}, ac.signal), BackendTimeoutError);
  } finally {
    clearTimeout(timer);
    await s.stop();
  }
});

/**
 * `/metrics` after real traffic: per-backend request counts and durations by method and
 * outcome, client request counters, and per-backend health gauges (ready 1, unavailable 0).
 */
import assert from "node:assert/strict";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { freePort } from "../harness/ports.ts";
import { config, connect, proxy } from "./helpers.ts";

/** The value of one sample, e.g. `name{a="1",b="2"}`, in Prometheus text; undefined if absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.indexOf("}"));
    const got = Object.fromEntries(
      [...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) {
      return Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return undefined;
}

Deno.test("/metrics counts and times each backend's requests by method and outcome and shows each backend's health", async () => {
  const web = await serveHttpBackend({ name: "web" });
  const deadUrl = `http://127.0.0.1:${freePort()}/mcp`; // nothing listens there
  const p = await proxy(config({
    operational: {
      timeouts: { default: "2s" },
      failureHandling: { unhealthyThreshold: 1, partialFailureMode: "best_effort" },
    },
    backends: [{ name: "web", url: web.url }, { name: "dead", url: deadUrl }],
  }));
  const c = await connect(p.url);
  try {
    for (let i = 0; i < 3; i++) {
      await c.client.callTool({ name: "web_echo", arguments: { message: String(i) } });
    }
    // A tool that fails inside the backend is still a backend answer (outcome ok).
    const failed = await c.client.callTool({ name: "web_fail", arguments: {} });
    assert.equal(failed.isError, true);

    const res = await fetch(p.url.replace("/mcp", "/metrics"));
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
    const text = await res.text();

    const calls = { backend: "web", method: "tools/call", outcome: "ok" };
    assert.equal(sample(text, "vmcp_backend_request_duration_seconds_count", calls), 4, text);
    const sum = sample(text, "vmcp_backend_request_duration_seconds_sum", calls)!;
    assert.ok(sum > 0 && sum < 10, `duration sum ${sum}`);
    assert.equal(
      sample(text, "vmcp_backend_request_duration_seconds_bucket", { ...calls, le: "+Inf" }),
      4,
    );
    assert.equal(
      sample(text, "vmcp_backend_request_duration_seconds_count", {
        backend: "web",
        method: "discover",
        outcome: "ok",
      }),
      1,
    );
    const deadErrors = sample(text, "vmcp_backend_request_duration_seconds_count", {
      backend: "dead",
      method: "initialize",
      outcome: "error",
    });
    assert.ok(deadErrors !== undefined && deadErrors >= 1, `dead initialize errors ${deadErrors}`);

    assert.equal(sample(text, "vmcp_requests_total", { method: "tools/call", status: "ok" }), 4);
    assert.equal(sample(text, "vmcp_backend_health", { backend: "web" }), 1);
    assert.equal(sample(text, "vmcp_backend_health", { backend: "dead" }), 0);
    assert.equal(parseGauge(text, "vmcp_active_sessions"), 1);
  } finally {
    await c.close();
    await p.stop();
    await web.stop();
  }
});

/** The value of a metric without labels. */
function parseGauge(text: string, name: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : undefined;
}

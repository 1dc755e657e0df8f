/**
 * Partial failure, deadlines and health: a hung backend never delays a session beyond its
 * deadline (best_effort) or fails lists naming it (fail); timeouts are enforced; a backend that
 * dies is dropped and comes back, and no other session sees an error.
 */
import assert from "node:assert/strict";
import { McpError } from "../../core/sdk.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import {
  config,
  connect,
  FAST_FAILOVER,
  Forwarder,
  hungServer,
  PATIENCE_MS,
  portOf,
  proxy,
  waitFor,
} from "./helpers.ts";
import { startProxy } from "../../proxy/serve.ts";

Deno.test("best_effort: a hung backend delays neither initialize nor tools/list beyond its deadline and is left out", async () => {
  const good = await serveHttpBackend({ name: "good" });
  const hung = hungServer();
  const started = Date.now();
  const p = await startProxy({
    host: "127.0.0.1",
    port: 0,
    config: config({
      operational: {
        // Waiting for the default would take 120 s; the hung backend's own deadline is 400 ms.
        timeouts: { default: "120s", perWorkload: { hung: "400ms" } },
        failureHandling: { partialFailureMode: "best_effort" },
      },
      backends: [{ name: "good", url: good.url }, { name: "hung", url: hung.url }],
    }),
  });
  try {
    const c = await connect(p.url);
    const names = (await c.client.listTools()).tools.map((t) => t.name);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 60_000, `initialize + tools/list took ${elapsed} ms (default: 120 s)`);
    assert.ok(
      names.includes("good_echo") && !names.some((n) => n.startsWith("hung_")),
      String(names),
    );
    const status = await (await fetch(p.url.replace("/mcp", "/status"))).json();
    const h = status.backends.find((b: { name: string }) => b.name === "hung");
    assert.match(h.message, /Backend "hung" timed out after 400 ms/);
    await c.close();
  } finally {
    await p.stop();
    await hung.stop();
    await good.stop();
  }
});

Deno.test("fail: tools/list fails with an error naming the unavailable backend; the others' tools still answer calls", async () => {
  const good = await serveHttpBackend({ name: "good" });
  const hung = hungServer();
  const p = await proxy(config({
    operational: {
      // Only the hung backend has a short deadline: the good one must never time out.
      timeouts: { default: "120s", perWorkload: { hung: "300ms" } },
      failureHandling: { partialFailureMode: "fail" },
    },
    backends: [{ name: "good", url: good.url }, { name: "hung", url: hung.url }],
  }));
  const c = await connect(p.url);
  try {
    await assert.rejects(c.client.listTools(), (e: unknown) => {
      assert.ok(e instanceof McpError);
      assert.equal(e.code, -32003);
      assert.match(e.message, /"hung" \(.*timed out after 300 ms/);
      assert.doesNotMatch(e.message, /"good"/);
      return true;
    });
    const r = await c.client.callTool({ name: "good_echo", arguments: { message: "still" } });
    assert.deepEqual(r.structuredContent, { message: "still", backend: "good" });
  } finally {
    await c.close();
    await p.stop();
    await hung.stop();
    await good.stop();
  }
});

Deno.test("a call longer than the backend's timeout fails with an error naming the backend and the deadline", async () => {
  const web = await serveHttpBackend({ name: "web" });
  // Discovery runs under a generous deadline; the short one is set by a reload afterwards
  // (it only changes the timeout, the backend stays connected).
  const cfg = (timeout: string) =>
    config({
      operational: { timeouts: { default: "120s", perWorkload: { web: timeout } } },
      backends: [{ name: "web", url: web.url }],
    });
  const p = await proxy(cfg("120s"));
  await p.reload(cfg("1s"));
  const c = await connect(p.url);
  try {
    const t0 = Date.now();
    // The call would take 120 s: failing well within 60 s can only be the 1 s deadline.
    await assert.rejects(
      c.client.callTool({ name: "web_slow", arguments: { ms: 120_000, steps: 3 } }, undefined, {
        timeout: 150_000,
      }),
      (e: unknown) =>
        e instanceof McpError && e.code === -32001 &&
        /Backend "web" timed out after 1000 ms/.test(e.message),
    );
    assert.ok(Date.now() - t0 < 60_000, `took ${Date.now() - t0} ms`);
    await waitFor(
      () => web.state.cancellations === 1,
      PATIENCE_MS,
      "the backend to see the cancellation",
    );
  } finally {
    await c.close();
    await p.stop();
    await web.stop();
  }
});

Deno.test("a killed backend goes unhealthy, its tools disappear and come back after restart; other sessions see no error", async () => {
  let web = await serveHttpBackend({ name: "web" });
  const other = await serveHttpBackend({ name: "other" });
  const fwd = new Forwarder(portOf(web.url));
  const p = await proxy(config({
    operational: FAST_FAILOVER,
    backends: [{ name: "web", url: fwd.url }, { name: "other", url: other.url }],
  }));
  const a = await connect(p.url);
  const b = await connect(p.url);
  let bErrors = 0;
  let bCalls = 0;
  let running = true;
  const bLoop = (async () => {
    while (running) {
      try {
        await b.client.callTool({ name: "other_echo", arguments: { message: "b" } });
        bCalls++;
      } catch {
        bErrors++;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  try {
    await a.client.callTool({ name: "web_echo", arguments: { message: "before" } });
    fwd.kill();
    await web.stop();
    const statusOf = async () => {
      const s = await (await fetch(p.url.replace("/mcp", "/status"))).json();
      return s.backends.find((x: { name: string }) => x.name === "web");
    };
    await waitFor(
      async () => (await statusOf()).status === "unavailable",
      PATIENCE_MS,
      "web unavailable",
    );
    await waitFor(
      async () => !(await a.client.listTools()).tools.some((t) => t.name === "web_echo"),
      PATIENCE_MS,
      "web tools gone",
    );
    await assert.rejects(
      a.client.callTool({ name: "web_echo", arguments: { message: "during" } }),
      (e: unknown) => e instanceof McpError && /Backend "web" is unavailable/.test(e.message),
    );
    web = await serveHttpBackend({ name: "web" });
    fwd.restart(portOf(web.url));
    await waitFor(
      async () => (await a.client.listTools()).tools.some((t) => t.name === "web_echo"),
      PATIENCE_MS,
      "web tools back",
    );
    const r = await a.client.callTool({ name: "web_echo", arguments: { message: "after" } });
    assert.deepEqual(r.structuredContent, { message: "after", backend: "web" });
    running = false;
    await bLoop;
    assert.equal(bErrors, 0);
    assert.ok(bCalls > 5, `b made ${bCalls} calls`);
  } finally {
    running = false;
    await bLoop;
    await a.close();
    await b.close();
    await p.stop();
    fwd.kill();
    await web.stop();
    await other.stop();
  }
});

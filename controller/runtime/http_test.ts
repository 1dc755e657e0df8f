import assert from "node:assert/strict";
import { createControllerHandler, createControllerMetrics, serveControllerHttp } from "./http.ts";

Deno.test("createControllerHandler() answers /readyz 503 until ready and /healthz 200", async () => {
  let synced = false;
  const handler = createControllerHandler({
    metrics: createControllerMetrics(),
    ready: () => synced,
  });
  assert.equal((await handler(new Request("http://x/healthz"))).status, 200);
  const notReady = await handler(new Request("http://x/readyz"));
  assert.equal(notReady.status, 503);
  assert.match(await notReady.text(), /not synced/);
  synced = true;
  assert.equal((await handler(new Request("http://x/readyz"))).status, 200);
  assert.equal((await handler(new Request("http://x/nope"))).status, 404);
});

Deno.test("/metrics reports reconciles, queue depth and the leader identity in Prometheus text", async () => {
  const metrics = createControllerMetrics();
  const hooks = metrics.queueHooks("virtualmcpserver");
  hooks.add?.();
  hooks.depth?.(3);
  hooks.retry?.();
  hooks.processed?.(120, "success");
  hooks.processed?.(40, "error");
  metrics.setLeader("host_abc", true);
  const handler = createControllerHandler({ metrics, ready: () => true });
  const res = await handler(new Request("http://x/metrics"));
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
  const body = await res.text();
  assert.match(body, /vmcp_controller_workqueue_depth\{name="virtualmcpserver"\} 3/);
  assert.match(body, /vmcp_controller_workqueue_adds_total\{name="virtualmcpserver"\} 1/);
  assert.match(body, /vmcp_controller_workqueue_retries_total\{name="virtualmcpserver"\} 1/);
  assert.match(
    body,
    /vmcp_controller_reconcile_total\{controller="virtualmcpserver",result="success"\} 1/,
  );
  assert.match(body, /vmcp_controller_reconcile_errors_total\{controller="virtualmcpserver"\} 1/);
  assert.match(
    body,
    /vmcp_controller_reconcile_duration_seconds_count\{controller="virtualmcpserver"\} 2/,
  );
  assert.match(body, /vmcp_controller_leader\{identity="host_abc"\} 1/);
});

Deno.test("serveControllerHttp() serves the endpoints on a port and stops on abort", async () => {
  const ac = new AbortController();
  const { promise: listening, resolve } = Promise.withResolvers<number>();
  const server = serveControllerHttp({
    metrics: createControllerMetrics(),
    ready: () => true,
    port: 0,
    hostname: "127.0.0.1",
    signal: ac.signal,
    onListen: (addr) => resolve(addr.port),
  });
  const port = await listening;
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  assert.equal(await res.text(), "ok\n");
  ac.abort();
  await server.finished;
});

Deno.test("serveControllerHttp() rejects an invalid port with a RangeError naming it", () => {
  assert.throws(
    () =>
      serveControllerHttp({
        metrics: createControllerMetrics(),
        ready: () => true,
        port: 70000,
        signal: new AbortController().signal,
      }),
    /port "70000"/,
  );
});
